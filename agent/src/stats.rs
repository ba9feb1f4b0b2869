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
    /// Attempts an edge refused with a delay hint (503 + `Retry-After`, 1013
    /// `retry_after=N`); not counted in `errors`.
    refused_with_hint: AtomicU64,
    /// Orchestrators that stopped because an administrator deregistered them
    /// (close 4001): load mode counts them instead of reconnecting them.
    deregistered: AtomicU64,
    /// Handshake → handshake_ack, in microseconds. A std mutex: held to record only.
    handshake_us: Mutex<Histogram<u64>>,
    /// The same since [`Stats::mark`] (the benchmark marks a storm's start), with
    /// the hinted refusals at the mark; `None` until marked.
    window: Mutex<Option<Window>>,
}

struct Window {
    handshake_us: Histogram<u64>,
    refused_at_mark: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                connects: AtomicU64::new(0),
                heartbeats: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                connected: AtomicU64::new(0),
                refused_with_hint: AtomicU64::new(0),
                deregistered: AtomicU64::new(0),
                handshake_us: Mutex::new(histogram()),
                window: Mutex::new(None),
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
    pub refused_with_hint: u64,
    /// Orchestrators stopped by a close 4001 (deregistered).
    pub deregistered: u64,
    /// Since the mark (see [`Stats::mark`]): handshakes completed, their p50,
    /// p99 and max, and hinted refusals; `None` when never marked.
    pub window: Option<WindowSnapshot>,
}

/// The figures since [`Stats::mark`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WindowSnapshot {
    pub connects: u64,
    pub handshake_p50_ms: f64,
    pub handshake_p99_ms: f64,
    pub handshake_max_ms: f64,
    pub refused_with_hint: u64,
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
        if let Some(window) = self.inner.window.lock().expect("window lock").as_mut() {
            let _ = window.handshake_us.record(us);
        }
    }

    /// Starts (or restarts) the window: figures from now on are also kept
    /// apart, so that a storm's handshakes are not mixed with the ramp's.
    pub fn mark(&self) {
        *self.inner.window.lock().expect("window lock") = Some(Window {
            handshake_us: histogram(),
            refused_at_mark: self.inner.refused_with_hint.load(Ordering::Relaxed),
        });
    }

    pub fn refused_with_hint(&self) {
        self.inner.refused_with_hint.fetch_add(1, Ordering::Relaxed);
    }

    pub fn deregistered(&self) {
        self.inner.deregistered.fetch_add(1, Ordering::Relaxed);
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
        let refused_with_hint = self.inner.refused_with_hint.load(Ordering::Relaxed);
        let window = self
            .inner
            .window
            .lock()
            .expect("window lock")
            .as_ref()
            .map(|w| WindowSnapshot {
                connects: w.handshake_us.len(),
                handshake_p50_ms: w.handshake_us.value_at_quantile(0.5) as f64 / 1000.0,
                handshake_p99_ms: w.handshake_us.value_at_quantile(0.99) as f64 / 1000.0,
                handshake_max_ms: w.handshake_us.max() as f64 / 1000.0,
                refused_with_hint: refused_with_hint - w.refused_at_mark,
            });
        let h = self.inner.handshake_us.lock().expect("histogram lock");
        Snapshot {
            refused_with_hint,
            deregistered: self.inner.deregistered.load(Ordering::Relaxed),
            window,
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
        "connected={} connects/s={:.0} heartbeats/s={:.0} handshake_p50_ms={:.2} handshake_p99_ms={:.2} errors={} refused_with_hint={} deregistered={}",
        now.connected,
        (now.connects - before.connects) as f64 / secs,
        (now.heartbeats - before.heartbeats) as f64 / secs,
        now.handshake_p50_ms,
        now.handshake_p99_ms,
        now.errors,
        now.refused_with_hint,
        now.deregistered,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_keeps_only_what_came_after_the_mark() {
        let stats = Stats::default();
        stats.connected(Duration::from_secs(5));
        stats.refused_with_hint();
        assert_eq!(stats.snapshot().window, None);
        stats.mark();
        stats.connected(Duration::from_millis(20));
        stats.refused_with_hint();
        stats.refused_with_hint();
        let now = stats.snapshot();
        let window = now.window.expect("marked");
        assert_eq!((window.connects, window.refused_with_hint), (1, 2));
        assert!(window.handshake_max_ms < 21.0, "{window:?}");
        assert_eq!(now.refused_with_hint, 3);
        assert!(now.handshake_p99_ms >= 4_990.0);
    }
}
