use anyhow::Context;
use clap::Parser;
use moolai_kit::telemetry;
use moolai_persister::{run, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let service = "persister";
    telemetry::init_service(service, &config.service);
    let listener = telemetry::bind(config.listen).await?;
    let shutdown = telemetry::shutdown_on_signals();
    run(config, listener, shutdown)
        .await
        .context("persister failed")
}
