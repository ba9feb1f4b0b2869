use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use moolai_edge::{run, Config};
use moolai_kit::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let service = config.edge_id.as_deref().unwrap_or("edge");
    telemetry::init_service(service, &config.service);
    telemetry::exit_code(serve(config).await)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = telemetry::bind_with_backlog(config.listen, config.listen_backlog)?;
    let shutdown = telemetry::shutdown_on_signals();
    run(config, listener, shutdown).await.context("edge failed")
}
