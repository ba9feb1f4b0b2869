//! Configuration revisions and rollouts: every change to an organization's
//! configuration is a new revision, kept with the hash of its content.

use moolai_proto::commands::{NewRollout, RolloutAction, RolloutSelector, WaveEnd};
use moolai_proto::config::ConfigContent;
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool};

use crate::outcome::Outcome;
use moolai_proto::commands::Failure;

/// Why a revision was made.
#[derive(Debug, Clone, Copy)]
pub enum Reason<'a> {
    Initial,
    Features,
    Rollback(i64),
    Rollout(&'a str),
}

impl Reason<'_> {
    fn word(&self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Features => "features",
            Self::Rollback(_) => "rollback",
            Self::Rollout(_) => "rollout",
        }
    }
}

/// Records the organization's current configuration as its revision: the hash
/// goes on the organization and in the history. Call after every change of
/// features, settings or policies. `None` when the organization does not exist.
pub async fn record_revision(
    tx: &mut PgConnection,
    id: &str,
    by: &str,
    reason: Reason<'_>,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let row: Option<(String, Value, Value, Value, i64)> = sqlx::query_as(
        "SELECT organization_id, features, settings, policies, config_revision
           FROM organizations WHERE organization_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let kept = keep_revisions(tx, vec![row], by, reason).await?;
    Ok(kept
        .into_iter()
        .next()
        .map(|(_, revision, hash)| (revision, hash)))
}

/// Gives a hash and a first revision to organizations written before revisions
/// were kept (or by a persister that did not know of them). Run at start-up, in
/// chunks of [`FILL_CHUNK`] (an upgraded fleet of 200,000 must not hold the
/// persister's start for minutes).
pub async fn fill_missing_hashes(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let mut filled = 0;
    loop {
        let rows: Vec<(String, Value, Value, Value, i64)> = sqlx::query_as(
            "SELECT organization_id, features, settings, policies, config_revision
               FROM organizations WHERE config_hash IS NULL LIMIT $1",
        )
        .bind(FILL_CHUNK)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        filled += rows.len();
        let mut tx = pool.begin().await?;
        keep_revisions(&mut tx, rows, "system", Reason::Initial).await?;
        tx.commit().await?;
    }
}

/// Keeps each `(organization, features, settings, policies, revision)` as that
/// organization's revision (one, after a change: [`record_revision`]; many, for a
/// rollout wave or at start-up): its hash on the organization and in the history;
/// three statements however many. Answers `(organization, revision, hash)`.
async fn keep_revisions(
    tx: &mut PgConnection,
    rows: Vec<(String, Value, Value, Value, i64)>,
    by: &str,
    reason: Reason<'_>,
) -> Result<Vec<(String, i64, String)>, sqlx::Error> {
    let mut ids = Vec::with_capacity(rows.len());
    let (mut revisions, mut hashes, mut configs) = (Vec::new(), Vec::new(), Vec::new());
    for (id, features, settings, policies, revision) in rows {
        let content = ConfigContent {
            features,
            settings,
            policies,
        };
        ids.push(id);
        revisions.push(revision);
        hashes.push(content.hash());
        configs.push(json!(content));
    }
    sqlx::query(
        "UPDATE organizations o SET config_hash = f.hash
           FROM UNNEST($1::text[], $2::text[]) AS f(id, hash)
          WHERE o.organization_id = f.id",
    )
    .bind(&ids)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    let (rolled_back_to, rollout) = match reason {
        Reason::Rollback(to) => (Some(to), None),
        Reason::Rollout(r) => (None, Some(r)),
        _ => (None, None),
    };
    sqlx::query(
        "INSERT INTO config_revisions (organization_id, revision, hash, config, created_by, reason,
                rolled_back_to, rollout_id)
         SELECT f.id, f.revision, f.hash, f.config, $5, $6, $7, $8
           FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::jsonb[]) AS f(id, revision, hash, config)
         ON CONFLICT (organization_id, revision) DO NOTHING",
    )
    .bind(&ids)
    .bind(&revisions)
    .bind(&hashes)
    .bind(&configs)
    .bind(by)
    .bind(reason.word())
    .bind(rolled_back_to)
    .bind(rollout)
    .execute(&mut *tx)
    .await?;
    Ok(ids
        .into_iter()
        .zip(revisions)
        .zip(hashes)
        .map(|((id, revision), hash)| (id, revision, hash))
        .collect())
}

/// Organizations given their hash per statement at start-up.
const FILL_CHUNK: i64 = 5_000;

/// Merges `features` and `settings` into the organization's (keys given replace,
/// others stay) as a new revision; answers `{features, settings, revision, hash}`.
pub async fn merge(
    tx: &mut PgConnection,
    id: &str,
    features: &Map<String, Value>,
    settings: &Map<String, Value>,
    by: &str,
    reason: Reason<'_>,
) -> Result<Option<Value>, sqlx::Error> {
    let row: Option<(Value, Value)> = sqlx::query_as(
        "UPDATE organizations SET features = features || $2, settings = settings || $3,
                config_revision = config_revision + 1, updated_at = now()
          WHERE organization_id = $1
          RETURNING features, settings",
    )
    .bind(id)
    .bind(Value::Object(features.clone()))
    .bind(Value::Object(settings.clone()))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((features, settings)) = row else {
        return Ok(None);
    };
    let Some((revision, hash)) = record_revision(tx, id, by, reason).await? else {
        return Ok(None);
    };
    Ok(Some(
        json!({"features": features, "settings": settings, "revision": revision, "hash": hash}),
    ))
}

/// A new revision with `revision`'s content.
pub async fn rollback(tx: &mut PgConnection, id: &str, revision: i64, by: &str) -> Outcome {
    let updated = sqlx::query(
        "UPDATE organizations o
            SET features = r.config->'features', settings = r.config->'settings',
                policies = r.config->'policies', config_revision = o.config_revision + 1,
                updated_at = now()
           FROM config_revisions r
          WHERE o.organization_id = $1 AND r.organization_id = $1 AND r.revision = $2",
    )
    .bind(id)
    .bind(revision)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        let detail = format!("organization {id} has no configuration revision {revision}");
        return Ok(Err((Failure::NotFound, detail)));
    }
    match record_revision(tx, id, by, Reason::Rollback(revision)).await? {
        Some((new, hash)) => Ok(Ok(
            json!({"revision": new, "hash": hash, "rolled_back_to": revision}),
        )),
        None => Ok(Err((
            Failure::NotFound,
            format!("organization {id} not found"),
        ))),
    }
}

/// Stores a rollout and its targets, in waves.
pub async fn create_rollout(tx: &mut PgConnection, r: &NewRollout) -> Outcome {
    let targets = resolve(tx, &r.selector).await?;
    if targets.is_empty() {
        let detail = "the selector matches no organization".to_owned();
        return Ok(Err((Failure::Invalid, detail)));
    }
    sqlx::query(
        "INSERT INTO config_rollouts (id, change, selector, waves, failure_threshold_pct,
                wave_timeout_sec, state, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, 'running', $7)",
    )
    .bind(&r.id)
    .bind(&r.change)
    .bind(json!(r.selector))
    .bind(&r.waves)
    .bind(r.failure_threshold_pct)
    .bind(r.wave_timeout_sec)
    .bind(&r.by)
    .execute(&mut *tx)
    .await?;
    let waves = wave_of_each(targets.len(), &r.waves);
    let positions: Vec<i32> = (0..targets.len() as i32).collect();
    sqlx::query(
        "INSERT INTO config_rollout_targets (rollout_id, organization_id, position, wave)
         SELECT $1, t.id, t.position, t.wave
           FROM UNNEST($2::text[], $3::int[], $4::int[]) AS t(id, position, wave)",
    )
    .bind(&r.id)
    .bind(&targets)
    .bind(&positions)
    .bind(&waves)
    .execute(&mut *tx)
    .await?;
    tracing::info!(rollout_id = %r.id, targets = targets.len(), "rollout created");
    Ok(Ok(json!({"id": r.id, "targets": targets.len()})))
}

/// The organizations a selector names, in id order (the order waves take them).
async fn resolve(tx: &mut PgConnection, s: &RolloutSelector) -> Result<Vec<String>, sqlx::Error> {
    let named: Vec<String> = (s.orchestrator_ids.iter())
        .chain(&s.organization_ids)
        .map(|id| id.as_str().to_owned())
        .collect();
    let matching = s.all || s.location.is_some() || !s.labels.is_empty();
    let labels = (!s.labels.is_empty()).then(|| Value::Object(s.labels.clone()));
    sqlx::query_scalar(
        "SELECT o.organization_id FROM organizations o
          WHERE o.organization_id = ANY($1)
             OR ($2 AND ($3::text IS NULL OR o.location = $3)
                    AND ($4::jsonb IS NULL OR EXISTS (
                          SELECT 1 FROM orchestrator_instances i
                           WHERE i.organization_id = o.organization_id
                             AND i.metadata->'labels' @> $4)))
          ORDER BY o.organization_id",
    )
    .bind(&named)
    .bind(matching)
    .bind(&s.location)
    .bind(labels)
    .fetch_all(&mut *tx)
    .await
}

/// The wave of each of `count` targets: wave k ends at ceil(count × waves[k] %),
/// and never before the previous wave's end.
pub fn wave_of_each(count: usize, waves: &[i32]) -> Vec<i32> {
    let mut out = Vec::with_capacity(count);
    for (k, pct) in waves.iter().enumerate() {
        let end = (count * (*pct).clamp(0, 100) as usize).div_ceil(100);
        while out.len() < end.min(count) {
            out.push(k as i32);
        }
    }
    // Percentages ending below 100 leave the rest to the last wave.
    let last = waves.len().saturating_sub(1) as i32;
    out.resize(count, last);
    out
}

/// Applies the change to `wave`'s targets if it is due.
pub async fn start_wave(tx: &mut PgConnection, rollout_id: &str, wave: i32) -> Outcome {
    let due: Option<(Value, String)> = sqlx::query_as(
        "UPDATE config_rollouts SET wave_started_at = now(), updated_at = now()
          WHERE id = $1 AND state = 'running' AND wave = $2 AND wave_started_at IS NULL
          RETURNING change, created_by",
    )
    .bind(rollout_id)
    .bind(wave)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((change, by)) = due else {
        return Ok(Ok(json!({ "changed": [] })));
    };
    let part = |key: &str| match change.get(key) {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => Value::Object(Map::new()),
    };
    // The change, a new revision each, for the whole wave in one statement.
    let rows: Vec<(String, Value, Value, Value, i64)> = sqlx::query_as(
        "UPDATE organizations o
            SET features = o.features || $3, settings = o.settings || $4,
                config_revision = o.config_revision + 1, updated_at = now()
           FROM config_rollout_targets t
          WHERE t.rollout_id = $1 AND t.wave = $2 AND o.organization_id = t.organization_id
         RETURNING o.organization_id, o.features, o.settings, o.policies, o.config_revision",
    )
    .bind(rollout_id)
    .bind(wave)
    .bind(part("features"))
    .bind(part("settings"))
    .fetch_all(&mut *tx)
    .await?;
    let kept = keep_revisions(tx, rows, &by, Reason::Rollout(rollout_id)).await?;
    let mut changed = Vec::with_capacity(kept.len());
    let (mut revisions, mut hashes) = (Vec::new(), Vec::new());
    for (id, revision, hash) in kept {
        changed.push(id);
        revisions.push(revision);
        hashes.push(hash);
    }
    sqlx::query(
        "UPDATE config_rollout_targets t SET revision = c.revision, hash = c.hash
           FROM UNNEST($2::text[], $3::bigint[], $4::text[]) AS c(id, revision, hash)
          WHERE t.rollout_id = $1 AND t.organization_id = c.id",
    )
    .bind(rollout_id)
    .bind(&changed)
    .bind(&revisions)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    tracing::info!(
        rollout_id,
        wave,
        targets = changed.len(),
        "rollout wave applied"
    );
    Ok(Ok(json!({ "changed": changed })))
}

/// Moves a running rollout past `wave`.
pub async fn end_wave(
    tx: &mut PgConnection,
    rollout_id: &str,
    wave: i32,
    next: &WaveEnd,
) -> Outcome {
    let (state, next_wave, reason) = match next {
        WaveEnd::NextWave => ("running", wave + 1, None),
        WaveEnd::Completed => ("completed", wave, None),
        WaveEnd::Paused { reason } => ("paused", wave + 1, Some(reason.as_str())),
    };
    let moved = sqlx::query(
        "UPDATE config_rollouts
            SET state = $3, wave = $4, wave_started_at = NULL, reason = $5, updated_at = now()
          WHERE id = $1 AND state = 'running' AND wave = $2
            AND (wave_started_at IS NOT NULL OR wave >= array_length(waves, 1))",
    )
    .bind(rollout_id)
    .bind(wave)
    .bind(state)
    .bind(next_wave)
    .bind(reason)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved > 0 {
        tracing::info!(rollout_id, wave, state, reason, "rollout wave ended");
    }
    Ok(Ok(json!({ "moved": moved > 0 })))
}

/// Pause, resume or abort; answers the rollout's new state.
pub async fn set_state(tx: &mut PgConnection, rollout_id: &str, action: RolloutAction) -> Outcome {
    let (from, to): (&[&str], &str) = match action {
        RolloutAction::Pause => (&["running"], "paused"),
        RolloutAction::Resume => (&["paused"], "running"),
        RolloutAction::Abort => (&["running", "paused"], "aborted"),
    };
    let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
    let row: Option<(String, i32)> = sqlx::query_as(
        "UPDATE config_rollouts SET state = $3, reason = NULL, updated_at = now()
          WHERE id = $1 AND state = ANY($2) RETURNING state, wave",
    )
    .bind(rollout_id)
    .bind(&from)
    .bind(to)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((state, wave)) = row {
        return Ok(Ok(json!({"id": rollout_id, "state": state, "wave": wave})));
    }
    let now: Option<String> = sqlx::query_scalar("SELECT state FROM config_rollouts WHERE id = $1")
        .bind(rollout_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(Err(match now {
        None => (Failure::NotFound, format!("rollout {rollout_id} not found")),
        Some(state) => (
            Failure::Conflict,
            format!(
                "rollout {rollout_id} is {state}: it cannot be {}",
                done_word(action)
            ),
        ),
    }))
}

fn done_word(action: RolloutAction) -> &'static str {
    match action {
        RolloutAction::Pause => "paused",
        RolloutAction::Resume => "resumed",
        RolloutAction::Abort => "aborted",
    }
}

/// Keeps the newest `config_status` of each orchestrator in
/// `orchestrator_config_status`, and each status as the outcome of the newest
/// revision with its hash; a batch's statuses in two statements, whatever their
/// number (a reconnecting fleet sends one per orchestrator). Within a batch the
/// newest per orchestrator (per orchestrator and hash, for the revisions) is
/// what sequential writes would have left; older than what is kept changes
/// nothing, and an unknown orchestrator's status is dropped. Known is a
/// `LATERAL … LIMIT 1` probe, not `EXISTS`: on a young table whose statistics
/// say "one row", `EXISTS` became a hash of every instance, for every batch.
pub async fn apply_statuses(
    tx: &mut PgConnection,
    events: &[&moolai_proto::events::ConfigStatusEvent],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let latest = newest_by(events, |e| e.orchestrator_id.clone());
    let rows = StatusRows::of(&latest);
    // Only the kept status carries what the orchestrator runs.
    let effective: Vec<Option<Value>> = latest.iter().map(|e| e.status.effective.clone()).collect();
    sqlx::query(
        "INSERT INTO orchestrator_config_status AS c (orchestrator_id, config_reported_hash,
                config_status, config_error, config_effective, config_reported_at)
         SELECT s.id, s.hash, s.status, s.error, s.effective, s.at
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[],
                       $6::timestamptz[]) AS s(id, hash, status, error, effective, at)
          CROSS JOIN LATERAL (SELECT 1 FROM orchestrator_instances i
                               WHERE i.orchestrator_id = s.id LIMIT 1) AS known
         ON CONFLICT (orchestrator_id) DO UPDATE
            SET config_reported_hash = EXCLUDED.config_reported_hash,
                config_status = EXCLUDED.config_status,
                config_error = EXCLUDED.config_error,
                config_effective = COALESCE(EXCLUDED.config_effective, c.config_effective),
                config_reported_at = EXCLUDED.config_reported_at
          WHERE c.config_reported_at <= EXCLUDED.config_reported_at",
    )
    .bind(&rows.ids)
    .bind(&rows.hashes)
    .bind(&rows.statuses)
    .bind(&rows.errors)
    .bind(&effective)
    .bind(&rows.ats)
    .execute(&mut *tx)
    .await?;
    let by_hash = newest_by(events, |e| {
        (e.orchestrator_id.clone(), e.status.hash.clone())
    });
    let rows = StatusRows::of(&by_hash);
    sqlx::query(
        "UPDATE config_revisions AS r
            SET outcome = s.status, outcome_error = s.error, outcome_at = s.at
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
                AS s(id, hash, status, error, at)
          CROSS JOIN LATERAL (SELECT 1 FROM orchestrator_instances i
                               WHERE i.orchestrator_id = s.id LIMIT 1) AS known
          WHERE r.organization_id = s.id
            AND r.revision = (SELECT max(revision) FROM config_revisions
                               WHERE organization_id = s.id AND hash = s.hash)
            AND (r.outcome_at IS NULL OR r.outcome_at <= s.at)
            -- The same word again (every reconnect repeats `applied`) rewrites
            -- nothing: `outcome_at` stays when that outcome was reached.
            AND (r.outcome IS DISTINCT FROM s.status OR r.outcome_error IS DISTINCT FROM s.error)",
    )
    .bind(&rows.ids)
    .bind(&rows.hashes)
    .bind(&rows.statuses)
    .bind(&rows.errors)
    .bind(&rows.ats)
    .execute(&mut *tx)
    .await?;
    tracing::debug!(statuses = events.len(), "config statuses stored");
    Ok(())
}

/// The newest event per `key` (the later one in the batch on a tie), in no
/// particular order.
fn newest_by<'a, K: std::hash::Hash + Eq>(
    events: &[&'a moolai_proto::events::ConfigStatusEvent],
    key: impl Fn(&moolai_proto::events::ConfigStatusEvent) -> K,
) -> Vec<&'a moolai_proto::events::ConfigStatusEvent> {
    let mut newest: std::collections::HashMap<K, &moolai_proto::events::ConfigStatusEvent> =
        std::collections::HashMap::with_capacity(events.len());
    for e in events {
        let slot = newest.entry(key(e)).or_insert(e);
        if e.at >= slot.at {
            *slot = e;
        }
    }
    newest.into_values().collect()
}

/// Statuses as the columns `unnest` takes.
struct StatusRows {
    ids: Vec<String>,
    hashes: Vec<String>,
    statuses: Vec<&'static str>,
    errors: Vec<Option<String>>,
    ats: Vec<chrono::DateTime<chrono::Utc>>,
}

impl StatusRows {
    fn of(events: &[&moolai_proto::events::ConfigStatusEvent]) -> Self {
        Self {
            ids: events
                .iter()
                .map(|e| e.orchestrator_id.to_string())
                .collect(),
            hashes: events.iter().map(|e| e.status.hash.clone()).collect(),
            statuses: events.iter().map(|e| e.status.status.as_str()).collect(),
            errors: events.iter().map(|e| e.status.error.clone()).collect(),
            ats: events.iter().map(|e| e.at).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wave_of_each;

    #[test]
    fn waves_grow_and_cover_every_target() {
        let waves = wave_of_each(100, &[1, 5, 25, 100]);
        let count = |k| waves.iter().filter(|w| **w == k).count();
        assert_eq!((count(0), count(1), count(2), count(3)), (1, 4, 20, 75));
        // A small set still starts with one canary; waves too small to hold
        // anyone are left empty (and pass at once).
        assert_eq!(wave_of_each(3, &[1, 5, 25, 100]), vec![0, 3, 3]);
        assert_eq!(wave_of_each(2, &[50]), vec![0, 0]);
        assert_eq!(wave_of_each(0, &[100]), Vec::<i32>::new());
    }
}
