//! Tells the cluster this edge is up, what it holds and how busy it is, every
//! [`EVERY`], on `{p}.edges.presence.{edge}`. Core shows it; monitoring may too.

use std::collections::VecDeque;
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
pub const EVERY: Duration = moolai_proto::events::PRESENCE_EVERY;

/// `heartbeats_per_sec` is averaged over this long: the same window as core's rates
/// (`core/src/rates.rs`), so the dashboard's Overview and Edges page agree, and long
/// enough to span a beat of orchestrators beating every 5-30 s.
pub const RATE_WINDOW: Duration = Duration::from_secs(30);

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
    let mut window = RateWindow::default();
    window.add(Instant::now(), counters.heartbeats.load(Ordering::Relaxed));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let rate = window.add(Instant::now(), counters.heartbeats.load(Ordering::Relaxed));
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

/// Counter readings over the last [`RATE_WINDOW`].
#[derive(Debug, Default)]
struct RateWindow {
    samples: VecDeque<(Instant, u64)>,
}

impl RateWindow {
    /// Adds a reading; returns the rate per second since the oldest reading kept
    /// (at most [`RATE_WINDOW`] ago; less while the edge is younger than that).
    fn add(&mut self, at: Instant, count: u64) -> f64 {
        self.samples.push_back((at, count));
        while self
            .samples
            .get(1)
            .is_some_and(|second| at.duration_since(second.0) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (first_at, first) = self.samples[0];
        let secs = at.duration_since(first_at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        count.saturating_sub(first) as f64 / secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_is_averaged_over_thirty_seconds() {
        // 10 orchestrators beating every 10 s, announced every 5 s: a 5 s window
        // would alternate between 2/s and 0/s.
        let start = Instant::now();
        let mut window = RateWindow::default();
        window.add(start, 0);
        let mut count = 0;
        for n in 1..=20u64 {
            let sec = n * 5;
            if sec % 10 == 0 {
                count += 10;
            }
            let rate = window.add(start + Duration::from_secs(sec), count);
            if sec >= 30 {
                assert!((rate - 1.0).abs() < 0.35, "at {sec} s: {rate}");
            }
        }
        assert!(window.samples.len() <= 7);
    }
}
