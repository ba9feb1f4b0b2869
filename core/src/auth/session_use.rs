//! When each login session was last used, for its idle expiry.
//!
//! Every request touches core's memory (a `DashMap`); the database's
//! `sessions.last_used_at` is brought up to date at most every
//! [`persist_every`] so that a restarted core (or another replica) judges the
//! idle time from there instead of starting a fresh idle clock.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Use {
    at: Instant,
    stored: Instant,
}

/// What a use of a session decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Fresh; `persist`: the database's last use should be updated now.
    Fresh { persist: bool },
    /// Unused for longer than the idle limit.
    Idle,
}

#[derive(Clone, Default)]
pub struct SessionUse {
    last: Arc<DashMap<String, Use>>,
}

/// How stale the stored last use may get: a quarter of the idle limit, at most
/// a minute (a restart may grant at most that much extra idle time).
pub fn persist_every(idle: Duration) -> Duration {
    (idle / 4).min(Duration::from_secs(60))
}

impl SessionUse {
    /// Marks a session used now (a new login: the database row says the same).
    pub fn touch(&self, hash: &str) {
        let now = Instant::now();
        self.last.insert(
            hash.to_owned(),
            Use {
                at: now,
                stored: now,
            },
        );
    }

    /// Marks it used now unless it has been idle for longer than `idle`.
    /// `stored_idle` is how long ago the database says it was last used: the
    /// later of that and this core's memory counts, so asking again after the
    /// limit never starts a fresh idle clock (the session is also revoked).
    pub fn touch_if_fresh(&self, hash: &str, idle: Duration, stored_idle: Duration) -> Touch {
        let now = Instant::now();
        let remembered = self.last.get(hash).map(|u| *u);
        // Used through another core meanwhile: the database is more recent.
        let since = remembered.map_or(stored_idle, |u| (now - u.at).min(stored_idle));
        if since > idle {
            return Touch::Idle;
        }
        // A core that has not seen the session yet trusts the stored last use
        // as written, so it persists only after its own first interval.
        let stored = remembered.map_or(now, |u| u.stored);
        let persist = now - stored >= persist_every(idle);
        let stored = if persist { now } else { stored };
        self.last.insert(hash.to_owned(), Use { at: now, stored });
        Touch::Fresh { persist }
    }

    pub fn forget(&self, hash: &str) {
        self.last.remove(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(40);

    #[tokio::test(start_paused = true)]
    async fn the_stored_last_use_counts_when_core_has_none() {
        let uses = SessionUse::default();
        assert_eq!(
            uses.touch_if_fresh("a", IDLE, Duration::from_secs(41)),
            Touch::Idle
        );
        // Asking again does not restart the clock.
        assert_eq!(
            uses.touch_if_fresh("a", IDLE, Duration::from_secs(41)),
            Touch::Idle
        );
        let fresh = uses.touch_if_fresh("b", IDLE, Duration::from_secs(5));
        assert_eq!(fresh, Touch::Fresh { persist: false });
    }

    #[tokio::test(start_paused = true)]
    async fn the_database_is_told_at_most_every_quarter_of_the_idle_limit() {
        let uses = SessionUse::default();
        uses.touch("a");
        let mut persisted = 0;
        for _ in 0..40 {
            tokio::time::advance(Duration::from_secs(1)).await;
            if let Touch::Fresh { persist: true } = uses.touch_if_fresh("a", IDLE, Duration::ZERO) {
                persisted += 1;
            }
        }
        assert_eq!(persisted, 4);
        tokio::time::advance(IDLE + Duration::from_secs(1)).await;
        assert_eq!(uses.touch_if_fresh("a", IDLE, IDLE * 2), Touch::Idle);
    }

    #[test]
    fn the_stored_last_use_is_refreshed_every_quarter_but_at_least_each_minute() {
        assert_eq!(persist_every(IDLE), Duration::from_secs(10));
        assert_eq!(
            persist_every(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_use_through_this_core_outweighs_an_older_stored_one() {
        let uses = SessionUse::default();
        uses.touch("a");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            uses.touch_if_fresh("a", IDLE, Duration::from_secs(3600)),
            Touch::Fresh { persist: false }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_use_elsewhere_outweighs_this_cores_older_memory() {
        let uses = SessionUse::default();
        uses.touch("a");
        tokio::time::advance(IDLE * 2).await;
        assert!(matches!(
            uses.touch_if_fresh("a", IDLE, Duration::from_secs(1)),
            Touch::Fresh { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_idle_in_memory_stays_idle() {
        let uses = SessionUse::default();
        uses.touch("a");
        tokio::time::advance(IDLE + Duration::from_secs(1)).await;
        let stored = IDLE + Duration::from_secs(1);
        assert_eq!(uses.touch_if_fresh("a", IDLE, stored), Touch::Idle);
        assert_eq!(uses.touch_if_fresh("a", IDLE, stored), Touch::Idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgotten_session_is_judged_by_the_database_alone() {
        let uses = SessionUse::default();
        uses.touch("a");
        uses.forget("a");
        assert_eq!(
            uses.touch_if_fresh("a", IDLE, IDLE + Duration::from_secs(1)),
            Touch::Idle
        );
    }
}
