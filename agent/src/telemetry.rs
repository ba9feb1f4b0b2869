//! The agent's logging and signals. Its own, not the services' kit: a client
//! takes the wire crate only, none of the servers' HTTP, bus or log-buffer plumbing.

use std::io::IsTerminal;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Plain text on stdout, filtered by `RUST_LOG` (default `info`); colours only on
/// a terminal and without `NO_COLOR` (<https://no-color.org>).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal() && !no_color)
        .init();
}

/// A token cancelled on the first SIGINT or SIGTERM, so that load runs end with
/// their summary written and their sockets closed.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let cancel = token.clone().drop_guard();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutdown signal received");
        drop(cancel);
    });
    token
}
