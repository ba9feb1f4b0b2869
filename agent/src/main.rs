use clap::Parser;
use moolai_agent::{run, Config};
use moolai_proto::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = Config::parse();
    config.apply_legacy_env();
    telemetry::init_tracing(false);
    anyhow::ensure!(!config.urls.is_empty(), "CONTROLLER_WS_URL names no edge");
    let shutdown = telemetry::shutdown_on_signals();
    let last = run(config, shutdown).await;
    anyhow::ensure!(last.connects > 0, "never connected to any edge");
    Ok(())
}
