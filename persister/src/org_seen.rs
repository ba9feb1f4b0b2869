//! Organizations' `last_seen`, written apart from the heartbeat statement.
//!
//! An organization's `last_seen` is its newest instance's. Moving it in the
//! statement that writes a batch of heartbeats made that statement update two
//! tables and group by organization, every batch: at 200,000 orchestrators it
//! took 1–3.5 s (docs/benchmarks.md). Now the heartbeat statement returns the
//! organizations it touched, they are kept here (newest time per organization),
//! and [`OrgSeen::run`] writes them every [`EVERY`] in one statement of its own.
//! What a crash loses is at most that second; the next heartbeat moves it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How often organizations' `last_seen` is written.
pub const EVERY: Duration = Duration::from_secs(1);

/// Organizations seen since the last write. A std mutex: held only to merge or
/// swap the map, never across an await.
#[derive(Clone, Default)]
pub struct OrgSeen {
    seen: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

impl OrgSeen {
    /// Keeps the newest time per organization.
    pub fn note(&self, rows: impl IntoIterator<Item = (String, DateTime<Utc>)>) {
        let mut seen = self.seen.lock().expect("org_seen lock");
        for (org, at) in rows {
            let newest = seen.entry(org).or_insert(at);
            *newest = (*newest).max(at);
        }
    }

    fn take(&self) -> HashMap<String, DateTime<Utc>> {
        std::mem::take(&mut *self.seen.lock().expect("org_seen lock"))
    }

    /// Writes every [`EVERY`] until `shutdown`, then once more.
    pub async fn run(self, pool: PgPool, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = tick.tick() => false,
            };
            self.flush(&pool).await;
            if stopping {
                return;
            }
        }
    }

    async fn flush(&self, pool: &PgPool) {
        let seen = self.take();
        if seen.is_empty() {
            return;
        }
        let (orgs, ats): (Vec<String>, Vec<DateTime<Utc>>) = seen.into_iter().unzip();
        let written = sqlx::query(
            "UPDATE organizations AS g SET last_seen = s.at, status = 'active'
               FROM unnest($1::text[], $2::timestamptz[]) AS s(id, at)
              WHERE g.organization_id = s.id AND (g.last_seen IS NULL OR g.last_seen < s.at)",
        )
        .bind(&orgs)
        .bind(&ats)
        .persistent(false)
        .execute(pool)
        .await;
        if let Err(err) = written {
            // Kept for the next write; newer times meanwhile win.
            tracing::warn!(%err, organizations = orgs.len(), "organizations' last_seen not written; retrying");
            self.note(orgs.into_iter().zip(ats));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_time_per_organization_is_kept() {
        let seen = OrgSeen::default();
        let t = Utc::now();
        seen.note([("a".into(), t), ("b".into(), t)]);
        seen.note([("a".into(), t - chrono::Duration::seconds(5))]);
        seen.note([("b".into(), t + chrono::Duration::seconds(1))]);
        let taken = seen.take();
        assert_eq!(taken["a"], t);
        assert_eq!(taken["b"], t + chrono::Duration::seconds(1));
        assert!(seen.take().is_empty());
    }
}
