use std::process::ExitCode;

use clap::Parser;
use moolai_agent::telemetry;
use moolai_agent::{run, Config, EXIT_DEREGISTERED};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let mut config = Config::parse();
    config.apply_legacy_env();
    telemetry::init_tracing();
    config.check()?;
    let shutdown = telemetry::shutdown_on_signals();
    if config.ca_file.is_some() && !config.urls.iter().any(|u| moolai_agent::tls::is_secure(u)) {
        tracing::warn!("CONTROLLER_CA_FILE is set but no URL is wss://");
    }
    // Thousands of sockets per process: take every file descriptor we may.
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%err, "could not raise the open-files limit");
    }
    let (summary, count) = (config.summary_json.clone(), config.count);
    let last = run(config, shutdown).await?;
    if let Some(path) = summary {
        std::fs::write(&path, serde_json::to_vec_pretty(&last)?)?;
    }
    // Every orchestrator was deregistered: a script or service manager running
    // the agent must not take that for a clean stop, nor restart it blindly.
    if last.deregistered > 0 && last.deregistered >= count as u64 {
        return Ok(ExitCode::from(EXIT_DEREGISTERED));
    }
    anyhow::ensure!(last.connects > 0, "never connected to any edge");
    Ok(ExitCode::SUCCESS)
}
