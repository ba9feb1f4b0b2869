//! The edge's HTTP server loop. `axum::serve` (0.8) sets no header-read timeout, so
//! a client that never finishes its request headers (slowloris) would hold a socket
//! forever; here hyper gets one, and accept errors (e.g. out of file descriptors)
//! slow the loop down instead of spinning.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long plain HTTP connections may take to finish after shutdown begins.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `app` until `shutdown`; a connection has `header_timeout` to send its
/// request headers. Upgraded WebSockets live on in their own tasks.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    header_timeout: Duration,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors here are a client going away mid-request or timing out.
            let _ = conn.await;
        });
    }
    let _ = tokio::time::timeout(HTTP_SHUTDOWN_GRACE, graceful.shutdown()).await;
}
