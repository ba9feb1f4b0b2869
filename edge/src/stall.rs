//! Notices that this edge itself stopped running for a while — the process was
//! paused (SIGSTOP, a frozen VM, a stuck host) or starved of CPU — and makes up
//! for it (issue 32).
//!
//! While stalled the edge announced nothing, so after
//! [`PRESENCE_UP_WITHIN`](moolai_proto::events::PRESENCE_UP_WITHIN) core took it
//! for lost and forgot its sockets: pushes and closes to them had nowhere to go,
//! yet the sockets looked fine to their orchestrators. So a stall long enough for
//! that closes every socket (1012 `edge_stalled`): each orchestrator reconnects
//! at once, to this edge or another, and core learns it afresh from the
//! handshake. A shorter stall closes nothing.
//!
//! The frames an orchestrator sent during the stall arrive all at once when it
//! ends; that burst is the edge's doing, not the client's, so the frame-rate
//! limit forgives frames read while the edge is catching up ([`Clock::catching_up`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moolai_proto::close;
use moolai_proto::events::{PRESENCE_EVERY, PRESENCE_UP_WITHIN};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::registry::Registry;

/// How often the clock ticks.
const TICK: Duration = Duration::from_millis(250);
/// A tick this late means the edge was not running: a stall.
const STALL: Duration = Duration::from_secs(2);
/// After a stall ends, frames are forgiven for this long: the time the socket
/// loops need to read what piled up.
const GRACE: Duration = Duration::from_secs(5);
/// A stall at least this long may have outlasted core's patience: the last
/// announcement may have gone out up to one interval before the stall began.
pub const FORGOTTEN_AFTER: Duration = PRESENCE_UP_WITHIN.saturating_sub(PRESENCE_EVERY);
/// The close reason sockets read after such a stall.
pub const STALLED_REASON: &str = "edge_stalled";

/// The edge's sense of its own running time. Cheap to clone.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

struct Inner {
    origin: Instant,
    /// Milliseconds since `origin` at the last tick.
    last_tick: AtomicU64,
    /// Milliseconds since `origin` when the last stall ended (0: none yet).
    stall_ended: AtomicU64,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                last_tick: AtomicU64::new(0),
                stall_ended: AtomicU64::new(0),
            }),
        }
    }
}

impl Clock {
    fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    fn ms_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.inner.origin).as_millis() as u64
    }

    /// Whether the edge is catching up on a stall: the clock has not ticked for
    /// longer than a stall (the stall is ending right now, before the clock's
    /// own task has run), or one ended within [`GRACE`].
    pub fn catching_up(&self) -> bool {
        self.catching_up_at(Instant::now())
    }

    /// [`Clock::catching_up`] at `at` (a frame's own clock reading).
    pub fn catching_up_at(&self, at: Instant) -> bool {
        let now = self.ms_at(at);
        let last_tick = self.inner.last_tick.load(Ordering::Relaxed);
        if now.saturating_sub(last_tick) > STALL.as_millis() as u64 {
            return true;
        }
        let ended = self.inner.stall_ended.load(Ordering::Relaxed);
        ended != 0 && now.saturating_sub(ended) <= GRACE.as_millis() as u64
    }

    /// Records a tick; the stall it ends, if the previous one was that long ago.
    fn tick(&self) -> Option<Duration> {
        let now = self.now_ms();
        let last = self.inner.last_tick.swap(now, Ordering::Relaxed);
        let gap = Duration::from_millis(now.saturating_sub(last));
        if gap < STALL {
            return None;
        }
        self.inner.stall_ended.store(now.max(1), Ordering::Relaxed);
        Some(gap)
    }

    /// Ticks until `shutdown`; after a stall that core may have taken for a
    /// loss, closes every socket of `registry` so that each reconnects.
    pub async fn run(self, registry: Registry, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        // One tick after a stall, not a burst of the missed ones.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(stalled) = self.tick() else {
                continue;
            };
            metrics::counter!("moolai_edge_stalls_total").increment(1);
            if stalled < FORGOTTEN_AFTER {
                tracing::warn!(?stalled, "this edge was stalled; its sockets are kept");
                continue;
            }
            tracing::warn!(
                ?stalled,
                sockets = registry.len(),
                "this edge was stalled long enough for core to forget its sockets; closing them (1012 {STALLED_REASON}) so they reconnect"
            );
            registry.close_all(close::SERVICE_RESTART, STALLED_REASON);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_late_tick_is_a_stall_and_frames_are_forgiven_until_the_grace_ends() {
        let clock = Clock::default();
        assert_eq!(clock.tick(), None);
        tokio::time::advance(TICK).await;
        assert_eq!(clock.tick(), None, "an ordinary tick");
        assert!(!clock.catching_up());

        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(clock.catching_up(), "before the clock's task has run again");
        let stalled = clock.tick().expect("a stall");
        assert!(stalled >= FORGOTTEN_AFTER, "{stalled:?}");
        assert!(clock.catching_up(), "within the grace");
        for _ in 0..(GRACE.as_millis() / TICK.as_millis()) {
            tokio::time::advance(TICK).await;
            clock.tick();
        }
        tokio::time::advance(TICK).await;
        clock.tick();
        assert!(!clock.catching_up(), "after the grace");
    }

    #[test]
    fn only_a_stall_past_core_s_patience_closes_sockets() {
        assert!(FORGOTTEN_AFTER > STALL);
        assert!(FORGOTTEN_AFTER + PRESENCE_EVERY <= PRESENCE_UP_WITHIN);
    }
}
