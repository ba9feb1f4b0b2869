//! Figures the load generator prints: connects/s, handshake latency, heartbeats/s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Shared counters; cheap to clone.
#[derive(Clone)]
pub struct Stats {
    inner: Arc<Inner>,
}

struct Inner {
    connects: AtomicU64,
    heartbeats: AtomicU64,
    errors: AtomicU64,
    connected: AtomicU64,
    /// Handshake → handshake_ack, in microseconds. A std mutex: held to record only.
    handshake_us: Mutex<Histogram<u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                connects: AtomicU64::new(0),
                heartbeats: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                connected: AtomicU64::new(0),
                handshake_us: Mutex::new(
                    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
                ),
            }),
        }
    }
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Snapshot {
    pub connects: u64,
    pub heartbeats: u64,
    pub errors: u64,
    pub connected: u64,
    pub handshake_p50_ms: f64,
    pub handshake_p99_ms: f64,
}

impl Stats {
    pub fn connected(&self, handshake: Duration) {
        self.inner.connects.fetch_add(1, Ordering::Relaxed);
        self.inner.connected.fetch_add(1, Ordering::Relaxed);
        let us = handshake.as_micros().clamp(1, 60_000_000) as u64;
        let _ = self
            .inner
            .handshake_us
            .lock()
            .expect("histogram lock")
            .record(us);
    }

    pub fn disconnected(&self) {
        self.inner.connected.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn heartbeat(&self) {
        self.inner.heartbeats.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self) {
        self.inner.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let h = self.inner.handshake_us.lock().expect("histogram lock");
        Snapshot {
            connects: self.inner.connects.load(Ordering::Relaxed),
            heartbeats: self.inner.heartbeats.load(Ordering::Relaxed),
            errors: self.inner.errors.load(Ordering::Relaxed),
            connected: self.inner.connected.load(Ordering::Relaxed),
            handshake_p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
            handshake_p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        }
    }
}

/// One report line: rates over `elapsed` since `before`.
pub fn report(before: &Snapshot, now: &Snapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    format!(
        "connected={} connects/s={:.0} heartbeats/s={:.0} handshake_p50_ms={:.2} handshake_p99_ms={:.2} errors={}",
        now.connected,
        (now.connects - before.connects) as f64 / secs,
        (now.heartbeats - before.heartbeats) as f64 / secs,
        now.handshake_p50_ms,
        now.handshake_p99_ms,
        now.errors,
    )
}
