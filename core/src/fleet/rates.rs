//! The heartbeat rates the dashboard shows, smoothed over [`WINDOW`], and the last
//! [`HISTORY`] seconds of them, so a page that opens sees two minutes at once.
//!
//! Orchestrators beat every 5–30 s, so a one-second sample is mostly zeros with a
//! spike whenever a cohort's interval comes round. A rate over 30 s spans at least one
//! beat of every orchestrator, and edges report theirs over the same window
//! (`edge/src/presence.rs`), so the Overview and the Edges page agree.
//!
//! One sampler task per core reads [`Live`]'s counters once a second; every event
//! stream subscribes to its points instead of sampling on its own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::edges::Edges;
use crate::fleet::live::Live;

/// The window each rate is averaged over; edges use the same one.
pub const WINDOW: Duration = Duration::from_secs(30);
/// How many one-second points are kept for a page that opens.
pub const HISTORY: usize = 120;
/// How often a point is taken.
pub const EVERY: Duration = Duration::from_secs(1);

/// One second of the fleet as the dashboard charts it. Rates are per second over
/// the last `window_sec` (less while core has run for less). The `stats` event of
/// the event stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatsPoint {
    /// When the point was taken.
    pub at: DateTime<Utc>,
    /// Milliseconds since the epoch of `at`, for charting without parsing.
    pub t: i64,
    pub connected_now: usize,
    pub edges_up: usize,
    /// Heartbeats that reached core: processed + ignored.
    pub received_per_sec: f64,
    /// Heartbeats that updated an orchestrator's liveness.
    pub processed_per_sec: f64,
    /// Heartbeats of independent orchestrators, which change nothing.
    pub ignored_per_sec: f64,
    /// Same as `processed_per_sec` (the name the first stream used).
    pub heartbeats_per_sec: f64,
    /// The averaging window in seconds.
    pub window_sec: f64,
}

/// Cumulative counters at one instant.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    processed: u64,
    ignored: u64,
}

/// Counter samples over the window and the points computed from them.
#[derive(Default)]
struct Book {
    samples: VecDeque<Sample>,
    points: VecDeque<StatsPoint>,
}

impl Book {
    /// Adds a sample and returns the rates (processed, ignored) over the window
    /// ending at it; the oldest sample kept is at most [`WINDOW`] old.
    fn add(&mut self, s: Sample) -> (f64, f64, f64) {
        self.samples.push_back(s);
        while self
            .samples
            .get(1)
            .is_some_and(|second| s.at.duration_since(second.at) >= WINDOW)
        {
            self.samples.pop_front();
        }
        let first = self.samples[0];
        let secs = s.at.duration_since(first.at).as_secs_f64();
        if secs <= 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
        (
            rate(s.processed, first.processed),
            rate(s.ignored, first.ignored),
            secs,
        )
    }

    fn push(&mut self, p: StatsPoint) {
        self.points.push_back(p);
        while self.points.len() > HISTORY {
            self.points.pop_front();
        }
    }
}

/// The cheap-to-clone handle: the sampler writes, event streams read.
#[derive(Clone)]
pub struct Rates {
    /// A std mutex: held for a few pointer moves, never across an `.await`.
    book: Arc<Mutex<Book>>,
    points: broadcast::Sender<StatsPoint>,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            book: Arc::default(),
            points: broadcast::channel(16).0,
        }
    }
}

impl Rates {
    /// The last [`HISTORY`] points, oldest first.
    pub fn history(&self) -> Vec<StatsPoint> {
        self.lock().points.iter().copied().collect()
    }

    /// Every point from now on. Subscribe before reading [`Rates::history`]: a point
    /// may then come twice (same `t`), but none is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<StatsPoint> {
        self.points.subscribe()
    }

    /// Takes a point now from `live` and `edges`.
    pub fn sample(&self, live: &Live, edges: &Edges) -> StatsPoint {
        let sample = Sample {
            at: Instant::now(),
            processed: live.heartbeats_processed(),
            ignored: live.heartbeats_ignored(),
        };
        let at = Utc::now();
        let mut book = self.lock();
        let (processed, ignored, secs) = book.add(sample);
        let point = StatsPoint {
            at,
            t: at.timestamp_millis(),
            connected_now: live.connected(),
            edges_up: edges.up().len(),
            received_per_sec: processed + ignored,
            processed_per_sec: processed,
            ignored_per_sec: ignored,
            heartbeats_per_sec: processed,
            window_sec: secs.max(EVERY.as_secs_f64()).min(WINDOW.as_secs_f64()),
        };
        book.push(point);
        drop(book);
        // No stream open: nobody to tell.
        let _ = self.points.send(point);
        point
    }

    /// Samples every [`EVERY`] until `shutdown`.
    pub async fn run(self, live: Live, edges: Edges, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.sample(&live, &edges);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        // A panic while holding it leaves only figures behind; keep serving them.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[tokio::test(start_paused = true)]
    async fn steady_beats_give_a_steady_rate_after_one_window() {
        // 26 orchestrators beating every 5 s, all in the same second: a one-second
        // sample would read 26 once and 0 four times out of five.
        let start = Instant::now();
        let mut book = Book::default();
        let mut processed = 0;
        for sec in 0..=90u64 {
            if sec % 5 == 0 {
                processed += 26;
            }
            let (rate, ignored, _) = book.add(Sample {
                at: at(start, sec),
                processed,
                ignored: 0,
            });
            if sec >= 30 {
                assert!((rate - 5.2).abs() < 0.9, "second {sec}: {rate}");
            }
            assert_eq!(ignored, 0.0);
        }
        assert!(book.samples.len() <= 31);
    }

    #[tokio::test(start_paused = true)]
    async fn ignored_beats_are_counted_apart() {
        let start = Instant::now();
        let mut book = Book::default();
        book.add(Sample {
            at: start,
            processed: 0,
            ignored: 0,
        });
        let (p, i, secs) = book.add(Sample {
            at: at(start, 10),
            processed: 20,
            ignored: 50,
        });
        assert_eq!((p, i, secs), (2.0, 5.0, 10.0));
    }

    #[test]
    fn history_keeps_the_last_two_minutes() {
        let mut book = Book::default();
        let p = StatsPoint {
            at: Utc::now(),
            t: 0,
            connected_now: 0,
            edges_up: 0,
            received_per_sec: 0.0,
            processed_per_sec: 0.0,
            ignored_per_sec: 0.0,
            heartbeats_per_sec: 0.0,
            window_sec: 30.0,
        };
        for t in 0..300 {
            book.push(StatsPoint { t, ..p });
        }
        assert_eq!(book.points.len(), HISTORY);
        assert_eq!(book.points.front().map(|p| p.t), Some(300 - HISTORY as i64));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_sees_points_after_its_history() {
        let rates = Rates::default();
        let (live, edges) = (Live::default(), Edges::default());
        rates.sample(&live, &edges);
        let mut rx = rates.subscribe();
        assert_eq!(rates.history().len(), 1);
        let next = rates.sample(&live, &edges);
        assert_eq!(rx.recv().await.ok(), Some(next));
        assert_eq!(rates.history().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_reported_grows_from_one_second_to_the_full_window() {
        let rates = Rates::default();
        let (live, edges) = (Live::default(), Edges::default());
        assert_eq!(rates.sample(&live, &edges).window_sec, 1.0);
        for _ in 0..60 {
            tokio::time::advance(EVERY).await;
            rates.sample(&live, &edges);
        }
        let last = rates.history().last().copied().unwrap();
        assert_eq!(last.window_sec, WINDOW.as_secs_f64());
    }

    #[tokio::test(start_paused = true)]
    async fn ignored_heartbeats_are_received_but_not_processed() {
        let rates = Rates::default();
        let (live, edges) = (Live::default(), Edges::default());
        rates.sample(&live, &edges);
        for _ in 0..20 {
            live.note_ignored();
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        let point = rates.sample(&live, &edges);
        assert_eq!(
            (
                point.received_per_sec,
                point.processed_per_sec,
                point.ignored_per_sec
            ),
            (2.0, 0.0, 2.0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_sampler_takes_a_point_each_second_until_shutdown() {
        let rates = Rates::default();
        let mut points = rates.subscribe();
        let shutdown = CancellationToken::new();
        let sampler = tokio::spawn(rates.clone().run(
            Live::default(),
            Edges::default(),
            shutdown.clone(),
        ));
        for _ in 0..3 {
            points.recv().await.expect("a point each second");
        }
        assert_eq!(rates.history().len(), 3);
        shutdown.cancel();
        sampler.await.unwrap();
        tokio::time::advance(EVERY * 5).await;
        assert_eq!(rates.history().len(), 3, "sampled after shutdown");
    }
}
