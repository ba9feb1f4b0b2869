//! Resending the desired configuration to orchestrators that say they run
//! another one.
//!
//! Every handshake is answered with the desired configuration, and every change
//! is pushed at once; this catches what those miss: a push lost on the way, or a
//! client that never answered. A connected orchestrator that reports
//! `config_status` and whose last reported hash is not the desired one is sent
//! the configuration again once `CONFIG_STATUS_WITHIN_SEC` has passed without an answer,
//! then after twice as long each time, [`MAX_RESENDS`] times at most: a client
//! that keeps answering with another hash is not sent it in a loop. A `failed`
//! answer carries the desired hash, so it is never resent: the next change is
//! what fixes a failure. Only the holder of the singleton duties resends; its
//! backoff starts again on a takeover.

use std::collections::HashMap;
use std::time::Duration;

use moolai_proto::events::ConnId;
use moolai_proto::OrchestratorId;
use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::duties::{Duties, Ticks};
use crate::fleet::live::Live;
use crate::push::ordered::Pushes;

/// Resends of one configuration to one connection, at most.
pub const MAX_RESENDS: u32 = 5;
/// The longest wait between two resends.
const LONGEST_WAIT: Duration = Duration::from_secs(300);
/// How often the database is asked who is behind.
const EVERY: Duration = Duration::from_secs(2);

/// Where one connection is in its resends.
struct Behind {
    conn_id: ConnId,
    desired: String,
    resends: u32,
    next_at: Instant,
    /// How long an answer may take (`CONFIG_STATUS_WITHIN_SEC`).
    within: Duration,
}

impl Behind {
    fn new(conn_id: ConnId, desired: String, now: Instant, within: Duration) -> Self {
        Self {
            conn_id,
            desired,
            resends: 0,
            next_at: now + within,
            within,
        }
    }

    /// Whether to resend now; if so, the next wait doubles.
    fn due(&mut self, now: Instant) -> bool {
        if now < self.next_at || self.resends >= MAX_RESENDS {
            return false;
        }
        self.resends += 1;
        let wait = self.within.saturating_mul(1 << self.resends.min(10));
        self.next_at = now + wait.min(LONGEST_WAIT);
        true
    }
}

/// The resend loop's handles.
pub struct Reconciler {
    pub pool: PgPool,
    pub live: Live,
    pub pushes: Pushes,
    pub duties: Duties,
    /// How long an orchestrator has to answer a configuration.
    pub within: Duration,
}

impl Reconciler {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut behind: HashMap<OrchestratorId, Behind> = HashMap::new();
        let mut ticks = Ticks::new(self.duties.clone(), EVERY, shutdown);
        while let Some(held) = ticks.next().await {
            if !held {
                behind.clear();
                continue;
            }
            if let Err(err) = self.pass(&mut behind).await {
                tracing::debug!(%err, "configuration resends skipped");
            }
        }
    }

    async fn pass(&self, behind: &mut HashMap<OrchestratorId, Behind>) -> Result<(), sqlx::Error> {
        let rows: Vec<(String, ConnId, String)> = sqlx::query_as(
            // A lateral lookup per instance, not a join: stable whatever the
            // table statistics (see `rollout::TARGET_JOINS`).
            "SELECT i.orchestrator_id, i.conn_id, o.config_hash
               FROM orchestrator_instances i
               JOIN LATERAL (SELECT config_hash FROM organizations
                              WHERE organization_id = i.orchestrator_id LIMIT 1) o ON TRUE
              LEFT JOIN LATERAL (SELECT config_reported_hash FROM orchestrator_config_status
                                  WHERE orchestrator_id = i.orchestrator_id LIMIT 1) c ON TRUE
              WHERE i.conn_id IS NOT NULL AND i.disconnected_at IS NULL
                AND i.metadata->'capabilities' ? 'config_status'
                AND o.config_hash IS NOT NULL
                AND c.config_reported_hash IS DISTINCT FROM o.config_hash",
        )
        .fetch_all(&self.pool)
        .await?;
        self.resend_behind(rows, behind).await;
        Ok(())
    }

    /// Resends to the connections of `rows` (orchestrator, connection, desired
    /// hash) whose wait is over; those not in `rows` are no longer behind.
    async fn resend_behind(
        &self,
        rows: Vec<(String, ConnId, String)>,
        behind: &mut HashMap<OrchestratorId, Behind>,
    ) {
        let now = Instant::now();
        let mut still = HashMap::with_capacity(rows.len());
        for (id, conn_id, desired) in rows {
            let Ok(id) = OrchestratorId::parse(id) else {
                continue;
            };
            let mut entry = match behind.remove(&id) {
                Some(b) if b.conn_id == conn_id && b.desired == desired => b,
                _ => Behind::new(conn_id, desired, now, self.within),
            };
            if entry.due(now) {
                self.resend(&id, &entry).await;
            }
            still.insert(id, entry);
        }
        *behind = still; // those no longer behind are forgotten
    }

    async fn resend(&self, id: &OrchestratorId, b: &Behind) {
        let Some(conn) = self.live.connection(id).filter(|c| c.conn_id == b.conn_id) else {
            return;
        };
        metrics::counter!("moolai_core_config_resends_total").increment(1);
        match self.pushes.config(id, &conn, true).await {
            Ok(_) => tracing::info!(
                orchestrator_id = %id,
                resend = b.resends,
                "configuration sent again: no status for the desired hash"
            ),
            Err(err) => tracing::warn!(orchestrator_id = %id, %err, "configuration resend failed"),
        }
        if b.resends == MAX_RESENDS {
            tracing::warn!(orchestrator_id = %id, "configuration resent {MAX_RESENDS} times without an answer for it; waiting for a change or a reconnect");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::testing::{conn, org, Rig};

    /// A reconciler whose passes are given their rows: the query is the one
    /// part that reads PostgreSQL (its pool here never connects).
    fn reconciler(rig: &Rig, within: Duration) -> Reconciler {
        Reconciler {
            pool: crate::testing::no_database(),
            live: rig.live.clone(),
            pushes: rig.pushes.clone(),
            duties: Duties::new("core-1".into()),
            within,
        }
    }

    fn resends(rig: &Rig) -> usize {
        rig.frames()
            .iter()
            .filter(|(_, f)| f["type"] == "provision_config")
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn the_desired_configuration_is_resent_with_a_growing_wait() {
        let rig = Rig::new();
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        rig.live.register(id.clone(), c.clone());
        rig.hold_config(&id, 3);
        let within = Duration::from_secs(10);
        let r = reconciler(&rig, within);
        let rows = || vec![(id.to_string(), c.conn_id, "desired".to_owned())];
        let mut behind = HashMap::new();
        let start = Instant::now();
        let mut sent_at = Vec::new();
        // Passes every 2 s, as the loop makes them, for long enough.
        while start.elapsed() < Duration::from_secs(1000) {
            let before = resends(&rig);
            r.resend_behind(rows(), &mut behind).await;
            if resends(&rig) > before {
                sent_at.push(start.elapsed().as_secs());
            }
            tokio::time::advance(EVERY).await;
        }
        // Due after `within`, then after twice as long each time.
        assert_eq!(sent_at, [10, 30, 70, 150, 310], "{sent_at:?}");
        assert_eq!(sent_at.len() as u32, MAX_RESENDS);
        let frames = rig.frames();
        assert!(frames
            .iter()
            .all(|(to, f)| *to == c.conn_id && f["revision"] == 3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_desired_hash_or_connection_starts_again_and_one_caught_up_is_forgotten() {
        let rig = Rig::new();
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        rig.live.register(id.clone(), c.clone());
        rig.hold_config(&id, 3);
        let within = Duration::from_secs(10);
        let r = reconciler(&rig, within);
        let mut behind = HashMap::new();
        let row = |hash: &str| vec![(id.to_string(), c.conn_id, hash.to_owned())];
        r.resend_behind(row("h1"), &mut behind).await;
        tokio::time::advance(within).await;
        r.resend_behind(row("h1"), &mut behind).await;
        assert_eq!(resends(&rig), 1);
        assert_eq!(behind[&id].resends, 1);
        // Another desired configuration: its own time to be answered first.
        r.resend_behind(row("h2"), &mut behind).await;
        assert_eq!((resends(&rig), behind[&id].resends), (1, 0));
        // Caught up: forgotten.
        r.resend_behind(Vec::new(), &mut behind).await;
        assert!(behind.is_empty());
        // A row for a connection this view does not hold sends nothing.
        let gone = vec![(id.to_string(), ConnId::new_v4(), "h2".to_owned())];
        r.resend_behind(gone.clone(), &mut behind).await;
        tokio::time::advance(within).await;
        r.resend_behind(gone, &mut behind).await;
        assert_eq!(resends(&rig), 1);
    }

    #[test]
    fn resends_back_off_and_stop() {
        let start = Instant::now();
        let within = Duration::from_secs(10);
        let mut b = Behind::new(ConnId::new_v4(), "h".into(), start, within);
        assert!(!b.due(start), "the first push gets its time to be answered");
        let mut at = start + within;
        let mut waits = Vec::new();
        while b.due(at) {
            waits.push(b.next_at - at);
            at = b.next_at;
        }
        assert_eq!(b.resends, MAX_RESENDS);
        assert_eq!(waits.len() as u32, MAX_RESENDS);
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        assert!(!b.due(at + LONGEST_WAIT * 10), "never in a loop");
    }
}
