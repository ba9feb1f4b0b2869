//! Watches this edge's connection to NATS. An edge that cannot reach the bus can
//! neither store handshakes nor route frames, so after `EDGE_BUS_LOST_SEC` without
//! it the edge closes its sockets (1013) and its agents move to an edge that can.
//! Readiness reports the loss at once.

use std::time::Duration;

use async_nats::connection::State;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::connection::close;
use crate::Edge;

/// Checks every second until `shutdown`.
pub async fn watch(edge: Edge, shutdown: CancellationToken) {
    let grace = Duration::from_secs(edge.config.bus_lost_sec);
    let mut lost_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if matches!(edge.bus.nats.connection_state(), State::Connected) {
            lost_since = None;
            continue;
        }
        let since = *lost_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= grace && !edge.registry.is_empty() {
            tracing::error!(
                sockets = edge.registry.len(),
                "NATS unreachable for {grace:?}; closing sockets so agents move"
            );
            edge.registry
                .close_all(close::TRY_AGAIN_LATER, "bus_unavailable");
        }
    }
}
