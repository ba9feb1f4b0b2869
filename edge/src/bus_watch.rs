//! Watches this edge's connection to NATS. An edge that cannot reach the bus can
//! neither store handshakes nor route frames, so after `EDGE_BUS_LOST_SEC` without
//! it the edge closes its sockets (1013) and its agents move to an edge that can.
//! Readiness reports the loss as soon as it is noticed.
//!
//! The connection state alone misses a silent cut (packets dropped, no RST or FIN)
//! until the client's own pings time out (~30 s); so every second the watch also
//! asks the server for a round trip — a request on a subject nobody serves, which
//! the server itself answers with "no responders" — and a bus that has not
//! answered for [`SILENCE`] counts as lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::RequestErrorKind;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

use crate::Edge;
use moolai_proto::close;

/// How long one round trip may take before it counts as unanswered.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Without an answer for this long, the bus counts as lost.
const SILENCE: Duration = Duration::from_secs(5);

/// Whether the bus answers, as readiness reports it. Cheap to clone.
#[derive(Clone)]
pub struct BusHealth(Arc<AtomicBool>);

impl Default for BusHealth {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl BusHealth {
    pub fn reachable(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, reachable: bool) {
        self.0.store(reachable, Ordering::Relaxed);
    }
}

/// Checks every second until `shutdown`.
pub async fn watch(edge: Edge, shutdown: CancellationToken) {
    let grace = Duration::from_secs(edge.config.bus_lost_sec);
    let probe = edge.bus.subjects.edge_probe(&edge.id);
    let mut last_answer = Instant::now();
    let mut lost_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // A connection the client knows is down is lost at once; one that looks
        // up but stays silent, after SILENCE.
        let connected = matches!(edge.bus.nats.connection_state(), State::Connected);
        if connected && answers(&edge.bus.nats, &probe).await {
            last_answer = Instant::now();
        }
        let reachable = connected && last_answer.elapsed() < SILENCE;
        if reachable != edge.bus_health.reachable() {
            if reachable {
                tracing::info!("NATS answers again");
            } else {
                tracing::error!("NATS has not answered for {SILENCE:?}; not ready");
            }
            edge.bus_health.set(reachable);
        }
        if reachable {
            lost_since = None;
            continue;
        }
        let since = *lost_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= grace && !edge.registry.is_empty() {
            tracing::error!(
                sockets = edge.registry.len(),
                "NATS unreachable for {grace:?}; closing sockets so agents move"
            );
            let reason = edge.backlog.hinted("bus_unavailable");
            edge.registry.close_all(close::TRY_AGAIN_LATER, &reason);
        }
    }
}

/// The server answered a round trip in time.
async fn answers(nats: &async_nats::Client, probe: &str) -> bool {
    let request = nats.request(probe.to_owned(), bytes::Bytes::new());
    match timeout(PROBE_TIMEOUT, request).await {
        Ok(Ok(_)) => true,
        Ok(Err(err)) => err.kind() == RequestErrorKind::NoResponders,
        Err(_) => false,
    }
}
