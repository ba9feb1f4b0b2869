use clap::Parser;
use moolai_agent::telemetry;
use moolai_agent::{run, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = Config::parse();
    config.apply_legacy_env();
    telemetry::init_tracing();
    anyhow::ensure!(!config.urls.is_empty(), "CONTROLLER_WS_URL names no edge");
    let shutdown = telemetry::shutdown_on_signals();
    if config.ca_file.is_some() && !config.urls.iter().any(|u| moolai_agent::tls::is_secure(u)) {
        tracing::warn!("CONTROLLER_CA_FILE is set but no URL is wss://");
    }
    // Thousands of sockets per process: take every file descriptor we may.
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%err, "could not raise the open-files limit");
    }
    let summary = config.summary_json.clone();
    let last = run(config, shutdown).await?;
    if let Some(path) = summary {
        std::fs::write(&path, serde_json::to_vec_pretty(&last)?)?;
    }
    anyhow::ensure!(last.connects > 0, "never connected to any edge");
    Ok(())
}
