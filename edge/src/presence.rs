//! Tells the cluster this edge is up, what it holds and how busy it is, every
//! [`EVERY`], on `{p}.edges.presence.{edge}`. Core shows it; monitoring may too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use moolai_proto::events::EdgePresence;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Edge;

/// How often an edge announces itself.
pub const EVERY: Duration = Duration::from_secs(5);

/// Counters the connection tasks bump on every frame. The Prometheus handles are
/// resolved once here rather than looked up by name per frame.
#[derive(Debug)]
pub struct Counters {
    pub heartbeats: AtomicU64,
    pub bad_frames: AtomicU64,
    pub frames_received: metrics::Counter,
    pub frames_sent: metrics::Counter,
    pub invalid_frames: metrics::Counter,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            heartbeats: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            frames_received: metrics::counter!("moolai_edge_frames_received_total"),
            frames_sent: metrics::counter!("moolai_edge_frames_sent_total"),
            invalid_frames: metrics::counter!("moolai_edge_invalid_frames_total"),
        }
    }
}

/// Announces until `shutdown`.
pub async fn announce(
    edge: Edge,
    address: String,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) {
    let subject = edge.bus.subjects.edge_presence(&edge.id);
    let mut tick = tokio::time::interval(EVERY);
    let (mut last_count, mut last_at) = (0u64, Instant::now());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let count = counters.heartbeats.load(Ordering::Relaxed);
        let rate = (count - last_count) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
        (last_count, last_at) = (count, Instant::now());
        let presence = EdgePresence {
            edge_id: edge.id.clone(),
            address: address.clone(),
            connections: edge.registry.len() as u64,
            heartbeats_per_sec: rate,
            bad_frames: counters.bad_frames.load(Ordering::Relaxed),
            at: Utc::now(),
        };
        let payload = Bytes::from(serde_json::to_vec(&presence).unwrap_or_default());
        if let Err(err) = edge.bus.notify(subject.clone(), payload).await {
            tracing::debug!(%err, "presence not announced");
        }
    }
}
