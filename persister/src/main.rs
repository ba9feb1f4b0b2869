use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use moolai_kit::telemetry;
use moolai_persister::{run, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let service = "persister";
    telemetry::init_service(service, &config.service);
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, every cause once: `persister failed: cannot connect to PostgreSQL: …`.
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = telemetry::bind(config.listen).await?;
    let shutdown = telemetry::shutdown_on_signals();
    run(config, listener, shutdown)
        .await
        .context("persister failed")
}
