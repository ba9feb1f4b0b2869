use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use moolai_core::{run, Config};
use moolai_kit::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let service = "core";
    telemetry::init_service(service, &config.service);
    telemetry::exit_code(serve(config).await)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = telemetry::bind(config.listen).await?;
    let shutdown = telemetry::shutdown_on_signals();
    run(config, listener, shutdown).await.context("core failed")
}
