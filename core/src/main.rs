use anyhow::Context;
use clap::Parser;
use moolai_core::{run, Config};
use moolai_kit::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let service = "core";
    telemetry::init_service(service, &config.service);
    let listener = telemetry::bind(config.listen).await?;
    let shutdown = telemetry::shutdown_on_signals();
    run(config, listener, shutdown).await.context("core failed")
}
