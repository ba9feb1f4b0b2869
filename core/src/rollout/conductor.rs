//! Rollouts in waves: a configuration change applied to a growing share of its
//! targets, each wave waiting for the orchestrators' `config_status` before the
//! next, pausing by itself when too many in a wave fail.
//!
//! The conductor runs on the holder of the singleton duties only, so one replica
//! drives each rollout; every step it takes is a persister command guarded by the
//! rollout's state in PostgreSQL (`wave`, `wave_started_at`), so a second
//! conductor (a holder that lost its lease while paused) repeats nothing.
//! A target's outcome is never stored: it is read from the orchestrator's last
//! `config_status` against the hash its wave made, so an orchestrator that was
//! offline shows `applied` once it has reconnected and caught up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use moolai_proto::commands::{Command, WaveEnd};
use moolai_proto::OrchestratorId;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::cluster::changes::Changes;
use crate::cluster::duties::{Duties, Ticks};
use crate::fleet::activity::{Feed, Kind};
use crate::fleet::live::Live;
use crate::persister_client::Persister;
use crate::push::ordered::Pushes;

/// How often the conductor looks at running rollouts.
pub const TICK: Duration = Duration::from_millis(500);

/// Configuration pushes in flight at once when a wave starts.
const PUSHES_IN_FLIGHT: usize = 64;

/// A target's outcome, as SQL over `config_rollout_targets t`, `organizations o`
/// and `orchestrator_instances i` (left-joined on the target's id). In order:
/// what the orchestrator said of the wave's hash; a newer change by someone else
/// (`superseded`); not connected (`offline`: it gets the revision when it
/// reconnects); a client that cannot report (`not_reported`); else `pending`.
pub const OUTCOME_SQL: &str = "
    CASE WHEN t.revision IS NULL THEN 'waiting'
         WHEN c.config_reported_hash = t.hash AND c.config_status = 'applied' THEN 'applied'
         WHEN c.config_reported_hash = t.hash AND c.config_status = 'failed' THEN 'failed'
         WHEN c.config_reported_hash = t.hash THEN 'applying'
         WHEN o.config_revision > t.revision AND o.config_hash IS DISTINCT FROM t.hash THEN 'superseded'
         WHEN i.orchestrator_id IS NULL OR i.conn_id IS NULL OR i.disconnected_at IS NOT NULL THEN 'offline'
         WHEN NOT COALESCE(i.metadata->'capabilities' ? 'config_status', false) THEN 'not_reported'
         ELSE 'pending' END";

/// The joins [`OUTCOME_SQL`] reads through: one index lookup per target in
/// each table. As plain joins, right after a rollout's targets were written
/// (no statistics yet) PostgreSQL planned a nested loop over every instance
/// per target: 6 s for 10,000 targets instead of 40 ms. `LIMIT 1` keeps the
/// planner from flattening the lateral lookups back into such a join.
pub const TARGET_JOINS: &str = "
    FROM config_rollout_targets t
    LEFT JOIN LATERAL (SELECT config_revision, config_hash FROM organizations
                        WHERE organization_id = t.organization_id LIMIT 1) o ON TRUE
    LEFT JOIN LATERAL (SELECT orchestrator_id, conn_id, disconnected_at, metadata
                         FROM orchestrator_instances
                        WHERE orchestrator_id = t.organization_id LIMIT 1) i ON TRUE
    LEFT JOIN LATERAL (SELECT config_reported_hash, config_status, config_error
                         FROM orchestrator_config_status
                        WHERE orchestrator_id = t.organization_id LIMIT 1) c ON TRUE";

/// Targets by outcome (`waiting`: their wave has not started).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Outcomes {
    pub waiting: i64,
    pub pending: i64,
    pub applying: i64,
    pub applied: i64,
    pub failed: i64,
    pub offline: i64,
    pub not_reported: i64,
    pub superseded: i64,
    pub total: i64,
}

impl Outcomes {
    /// Counts `n` targets of `outcome` (a word of [`OUTCOME_SQL`]).
    pub fn add(&mut self, outcome: &str, n: i64) {
        self.total += n;
        match outcome {
            "waiting" => self.waiting += n,
            "applying" => self.applying += n,
            "applied" => self.applied += n,
            "failed" => self.failed += n,
            "offline" => self.offline += n,
            "not_reported" => self.not_reported += n,
            "superseded" => self.superseded += n,
            _ => self.pending += n,
        }
    }

    /// Targets whose wave has started.
    fn started(&self) -> i64 {
        self.pending
            + self.applying
            + self.applied
            + self.failed
            + self.offline
            + self.not_reported
            + self.superseded
    }

    /// Still waiting for an answer from someone connected that can answer.
    fn unanswered(&self) -> i64 {
        self.applying + self.pending
    }
}

/// What a running rollout's wave looks like now.
#[derive(Debug, Clone)]
pub struct WaveState {
    pub wave: usize,
    pub waves: usize,
    pub threshold_pct: i64,
    pub elapsed: Duration,
    pub timeout: Duration,
    pub counts: Outcomes,
}

/// Whether the wave is over, and how: `None` while answers may still come.
/// After the timeout, those that have not answered count as failed.
pub fn decide(w: &WaveState) -> Option<WaveEnd> {
    let timed_out = w.elapsed >= w.timeout;
    if w.counts.unanswered() > 0 && !timed_out {
        return None;
    }
    let unanswered = if timed_out { w.counts.unanswered() } else { 0 };
    let failures = w.counts.failed + unanswered;
    let size = w.counts.started();
    if size > 0 && failures * 100 > w.threshold_pct * size {
        let mut reason = format!(
            "wave {} of {}: {failures} of {size} failed, over the threshold of {} %",
            w.wave + 1,
            w.waves,
            w.threshold_pct
        );
        if unanswered > 0 {
            reason.push_str(&format!(
                " ({unanswered} gave no status within {} s)",
                w.timeout.as_secs()
            ));
        }
        return Some(WaveEnd::Paused { reason });
    }
    if w.wave + 1 >= w.waves {
        Some(WaveEnd::Completed)
    } else {
        Some(WaveEnd::NextWave)
    }
}

#[derive(sqlx::FromRow)]
struct Running {
    id: String,
    waves: Vec<i32>,
    failure_threshold_pct: i32,
    wave_timeout_sec: i32,
    wave: i32,
    wave_started_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

/// Drives running rollouts while this replica holds the duties.
#[derive(Clone)]
pub struct Conductor {
    pub pool: PgPool,
    pub persister: Persister,
    pub live: Live,
    pub pushes: Pushes,
    pub feed: Feed,
    pub duties: Duties,
    /// Reloads the changed configurations here and on the other replicas.
    pub changes: Changes,
}

impl Conductor {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut ticks = Ticks::new(self.duties.clone(), TICK, shutdown);
        while let Some(held) = ticks.next().await {
            if !held {
                continue;
            }
            if let Err(err) = self.step().await {
                tracing::debug!(%err, "rollout step skipped");
            }
        }
    }

    async fn step(&self) -> Result<(), async_nats::Error> {
        let running: Vec<Running> = sqlx::query_as(
            "SELECT id, waves, failure_threshold_pct, wave_timeout_sec, wave, wave_started_at,
                    now() AS now
               FROM config_rollouts WHERE state = 'running' ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in running {
            self.advance(&r).await?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(rollout_id = %r.id, wave = r.wave))]
    async fn advance(&self, r: &Running) -> Result<(), async_nats::Error> {
        let Some(started) = r.wave_started_at else {
            if r.wave as usize >= r.waves.len() {
                // Paused after its last wave, then resumed: nothing is left to do.
                return self.end(r, WaveEnd::Completed).await;
            }
            return self.start(r).await;
        };
        let counts = wave_counts(&self.pool, &r.id, r.wave).await?;
        let state = WaveState {
            wave: r.wave as usize,
            waves: r.waves.len(),
            threshold_pct: i64::from(r.failure_threshold_pct),
            elapsed: (r.now - started).to_std().unwrap_or_default(),
            timeout: Duration::from_secs(r.wave_timeout_sec.max(1) as u64),
            counts,
        };
        match decide(&state) {
            Some(end) => self.end(r, end).await,
            None => Ok(()),
        }
    }

    async fn start(&self, r: &Running) -> Result<(), async_nats::Error> {
        let command = Command::StartRolloutWave {
            rollout_id: r.id.clone(),
            wave: r.wave,
        };
        let answer = self.persister.run(&command).await?;
        let changed: Vec<OrchestratorId> = (answer["changed"].as_array().into_iter().flatten())
            .filter_map(|v| v.as_str())
            .filter_map(|id| OrchestratorId::parse(id).ok())
            .collect();
        tracing::info!(
            targets = changed.len(),
            "rollout {} wave {} started",
            r.id,
            r.wave + 1
        );
        self.changes.configs_changed(changed.clone()).await;
        self.feed.record(
            Kind::Features,
            json!({"rollout_id": r.id, "wave": r.wave + 1, "targets": changed.len()}),
        );
        let pushed = futures::stream::iter(changed)
            .map(|id| self.push(id))
            .buffer_unordered(PUSHES_IN_FLIGHT)
            .filter(|sent| std::future::ready(*sent))
            .count()
            .await;
        tracing::info!(pushed, "rollout {} wave {} pushed", r.id, r.wave + 1);
        Ok(())
    }

    /// Sends the new revision to a connected target; the others get it when
    /// they reconnect, and a lost send is made again by the reconciler.
    async fn push(&self, id: OrchestratorId) -> bool {
        let Some(conn) = self.live.connection(&id) else {
            return false;
        };
        match self.pushes.config(&id, &conn, false).await {
            Ok(sent) => sent,
            Err(err) => {
                tracing::warn!(orchestrator_id = %id, %err, "rollout push failed; the reconciler retries");
                false
            }
        }
    }

    async fn end(&self, r: &Running, next: WaveEnd) -> Result<(), async_nats::Error> {
        match &next {
            WaveEnd::Paused { reason } => {
                tracing::warn!(rollout_id = %r.id, "rollout {} paused: {reason}", r.id)
            }
            WaveEnd::Completed => tracing::info!(rollout_id = %r.id, "rollout {} completed", r.id),
            WaveEnd::NextWave => {}
        }
        let command = Command::EndRolloutWave {
            rollout_id: r.id.clone(),
            wave: r.wave,
            next,
        };
        self.persister.run(&command).await?;
        Ok(())
    }
}

/// The targets of `wave` by outcome.
pub async fn wave_counts(
    pool: &PgPool,
    rollout_id: &str,
    wave: i32,
) -> Result<Outcomes, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {OUTCOME_SQL} AS outcome, count(*) {TARGET_JOINS}
          WHERE t.rollout_id = $1 AND t.wave = $2 GROUP BY 1"
    )))
    .bind(rollout_id)
    .bind(wave)
    .fetch_all(pool)
    .await?;
    let mut counts = Outcomes::default();
    for (outcome, n) in rows {
        counts.add(&outcome, n);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(counts: Outcomes, elapsed: u64) -> WaveState {
        WaveState {
            wave: 0,
            waves: 3,
            threshold_pct: 10,
            elapsed: Duration::from_secs(elapsed),
            timeout: Duration::from_secs(60),
            counts,
        }
    }

    #[test]
    fn a_wave_waits_for_every_connected_target_until_its_timeout() {
        let waiting = Outcomes {
            applied: 9,
            pending: 1,
            ..Outcomes::default()
        };
        assert_eq!(decide(&wave(waiting.clone(), 5)), None);
        // At the timeout the silent one counts as failed: 1 of 10 is not over 10 %.
        assert_eq!(decide(&wave(waiting, 60)), Some(WaveEnd::NextWave));
    }

    #[test]
    fn failures_over_the_threshold_pause_and_offline_ones_do_not_count() {
        let failing = Outcomes {
            applied: 8,
            failed: 2,
            ..Outcomes::default()
        };
        let Some(WaveEnd::Paused { reason }) = decide(&wave(failing, 1)) else {
            panic!("2 of 10 failed is over 10 %");
        };
        assert!(reason.contains("2 of 10 failed"), "{reason}");
        let offline = Outcomes {
            applied: 1,
            offline: 9,
            not_reported: 3,
            ..Outcomes::default()
        };
        assert_eq!(decide(&wave(offline, 1)), Some(WaveEnd::NextWave));
    }

    #[test]
    fn the_last_wave_completes_the_rollout() {
        let done = Outcomes {
            applied: 4,
            ..Outcomes::default()
        };
        let last = WaveState {
            wave: 2,
            ..wave(done, 1)
        };
        assert_eq!(decide(&last), Some(WaveEnd::Completed));
    }
}
