use anyhow::Context;
use clap::Parser;
use moolai_persister::{run, Config};
use moolai_proto::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init_tracing(config.log_json);
    let service = "persister".to_owned();
    moolai_proto::logbuf::set_service(&service);
    if let Ok(subjects) = moolai_proto::Subjects::new(config.subject_prefix.clone()) {
        telemetry::forward_logs(config.nats_url.clone(), subjects.logs(&service));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = telemetry::shutdown_on_signals();
    run(config, listener, shutdown)
        .await
        .context("persister failed")
}
