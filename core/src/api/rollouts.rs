//! `/api/v1/controller/rollouts*`: configuration changes rolled out in waves
//! (the conductor in `crate::rollout::conductor` drives them).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use moolai_proto::commands::{Command, NewRollout, RolloutAction, RolloutSelector};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::audit;
use crate::api::controller::{envelope, Envelope, Page, PageQuery};
use crate::api::error::ApiError;
use crate::api::extract::{Admin, Body, Params};
use crate::api::organizations::canonical_features;
use crate::api::AppState;
use crate::fleet::activity::Kind;
use crate::rollout::conductor::{Outcomes, OUTCOME_SQL, TARGET_JOINS};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one))
        .routes(routes!(act))
}

/// What changes: merged into each target's features and settings.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Change {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub features: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

/// A new rollout.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RolloutBody {
    pub change: Change,
    pub selector: RolloutSelector,
    /// Cumulative share of the targets done after each wave, in percent:
    /// increasing, the last 100, at most 10 waves. Default `[1, 5, 25, 100]`.
    #[serde(default = "default_waves")]
    pub waves: Vec<i32>,
    /// A wave whose failures (and silences past the timeout) exceed this share
    /// of it pauses the rollout. 0–100, default 10.
    #[serde(default = "default_threshold")]
    pub failure_threshold_pct: i32,
    /// How long a wave waits for statuses, 5–86400 s, default 120.
    #[serde(default = "default_timeout")]
    pub wave_timeout_sec: i32,
}

fn default_waves() -> Vec<i32> {
    vec![1, 5, 25, 100]
}
fn default_threshold() -> i32 {
    10
}
fn default_timeout() -> i32 {
    120
}

impl RolloutBody {
    /// The body's own rules, each broken one named.
    fn check(&self) -> Result<(), ApiError> {
        let bad = |field: &str, why: &str| Err(ApiError::field("body", field, why.to_owned()));
        if self.change.features.is_empty() && self.change.settings.is_empty() {
            return bad("change", "must change features or settings");
        }
        let w = &self.waves;
        if w.is_empty() || w.len() > 10 || w.last() != Some(&100) {
            return bad("waves", "must be 1 to 10 percentages ending with 100");
        }
        if w.iter().any(|p| !(1..=100).contains(p)) || w.windows(2).any(|p| p[1] <= p[0]) {
            return bad(
                "waves",
                "each must be 1-100 and greater than the one before",
            );
        }
        if !(0..=100).contains(&self.failure_threshold_pct) {
            return bad("failure_threshold_pct", "must be between 0 and 100");
        }
        if !(5..=86_400).contains(&self.wave_timeout_sec) {
            return bad("wave_timeout_sec", "must be between 5 and 86400");
        }
        let s = &self.selector;
        let named = !s.orchestrator_ids.is_empty() || !s.organization_ids.is_empty();
        if !(named || s.all || s.location.is_some() || !s.labels.is_empty()) {
            return bad(
                "selector",
                "name orchestrator_ids or organization_ids, or give all, location or labels",
            );
        }
        Ok(())
    }
}

/// A rollout and its progress.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Rollout {
    pub id: String,
    #[schema(value_type = Object)]
    pub change: Value,
    #[schema(value_type = Object)]
    pub selector: Value,
    pub waves: Vec<i32>,
    pub failure_threshold_pct: i32,
    pub wave_timeout_sec: i32,
    /// `running`, `paused`, `aborted` or `completed`.
    pub state: String,
    /// The wave in progress, 0-based (equal to the number of waves once past the last).
    pub wave: i32,
    pub wave_started_at: Option<DateTime<Utc>>,
    /// Why it paused (by itself) or stopped.
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[sqlx(skip)]
    pub outcomes: Outcomes,
}

const ROLLOUT_COLUMNS: &str =
    "id, change, selector, waves, failure_threshold_pct, wave_timeout_sec,
    state, wave, wave_started_at, reason, created_by, created_at, updated_at";

/// One target and its outcome.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Target {
    pub orchestrator_id: String,
    pub wave: i32,
    pub revision: Option<i64>,
    pub hash: Option<String>,
    /// `waiting`, `pending`, `applying`, `applied`, `failed`, `offline`,
    /// `not_reported` or `superseded`.
    pub outcome: String,
    pub error: Option<String>,
}

/// A rollout with one page of its targets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolloutDetail {
    pub rollout: Rollout,
    pub targets: Page<Target>,
}

/// Recent rollouts, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolloutList {
    pub rollouts: Vec<Rollout>,
}

/// Filter of a rollout's targets.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetQuery {
    /// Only targets with this outcome.
    pub outcome: Option<String>,
}

#[utoipa::path(post, operation_id = "create_rollout", path = "/api/v1/controller/rollouts", tag = "controller", security(("bearer" = [])),
    request_body = RolloutBody,
    responses((status = 201, description = "Created and running", body = Envelope<RolloutDetail>), (status = 422, description = "Invalid body, or no organization matches")))]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Body(body): Body<RolloutBody>,
) -> Result<(StatusCode, Json<Envelope<RolloutDetail>>), ApiError> {
    body.check()?;
    let features = canonical_features(body.change.features.clone())?;
    let change = json!({"features": features, "settings": body.change.settings});
    let id = format!("ro_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let command = Command::CreateRollout(NewRollout {
        id: id.clone(),
        change: change.clone(),
        selector: body.selector,
        waves: body.waves,
        failure_threshold_pct: body.failure_threshold_pct,
        wave_timeout_sec: body.wave_timeout_sec,
        by: admin.username.clone(),
    });
    let audit = audit::by(&admin, "rollout_create", &id, json!({"change": change}))
        .with_answer(&["targets"]);
    let created = state.persister.run_audited(&command, audit).await?;
    state.feed.record(
        Kind::Features,
        json!({"rollout_id": id, "targets": created["targets"]}),
    );
    let detail = detail(
        &state,
        &id,
        &TargetQuery { outcome: None },
        &PageQuery::first(),
    )
    .await?;
    let message = format!("Rollout {id} started");
    Ok((StatusCode::CREATED, envelope(detail, message)))
}

#[utoipa::path(get, operation_id = "list_rollouts", path = "/api/v1/controller/rollouts", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "The 100 most recent rollouts", body = Envelope<RolloutList>)))]
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<Envelope<RolloutList>>, ApiError> {
    let mut rollouts: Vec<Rollout> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROLLOUT_COLUMNS} FROM config_rollouts ORDER BY created_at DESC LIMIT 100"
    )))
    .fetch_all(&state.pool)
    .await?;
    let ids: Vec<String> = rollouts.iter().map(|r| r.id.clone()).collect();
    let counted: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.rollout_id, {OUTCOME_SQL} AS outcome, count(*) {TARGET_JOINS}
          WHERE t.rollout_id = ANY($1) GROUP BY 1, 2"
    )))
    .bind(&ids)
    .fetch_all(&state.pool)
    .await?;
    for (rollout_id, outcome, n) in counted {
        if let Some(r) = rollouts.iter_mut().find(|r| r.id == rollout_id) {
            r.outcomes.add(&outcome, n);
        }
    }
    Ok(envelope(RolloutList { rollouts }, "Rollouts"))
}

#[utoipa::path(get, operation_id = "get_rollout", path = "/api/v1/controller/rollouts/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path), TargetQuery, PageQuery),
    responses((status = 200, description = "The rollout and a page of its targets", body = Envelope<RolloutDetail>), (status = 404, description = "Unknown rollout"), (status = 422, description = "Bad paging")))]
pub async fn one(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    Params(q): Params<TargetQuery>,
    Params(paging): Params<PageQuery>,
) -> Result<Json<Envelope<RolloutDetail>>, ApiError> {
    let data = detail(&state, &id, &q, &paging).await?;
    Ok(envelope(data, format!("Rollout {id}")))
}

async fn detail(
    state: &AppState,
    id: &str,
    q: &TargetQuery,
    paging: &PageQuery,
) -> Result<RolloutDetail, ApiError> {
    let (limit, offset) = paging.checked()?;
    let rollout: Option<Rollout> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROLLOUT_COLUMNS} FROM config_rollouts WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let mut rollout =
        rollout.ok_or_else(|| ApiError::NotFound(format!("rollout {id} not found")))?;
    let counted: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {OUTCOME_SQL} AS outcome, count(*) {TARGET_JOINS} WHERE t.rollout_id = $1 GROUP BY 1"
    )))
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    for (outcome, n) in &counted {
        rollout.outcomes.add(outcome, *n);
    }
    let targets: Vec<Target> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM (
           SELECT t.organization_id AS orchestrator_id, t.wave, t.revision, t.hash, t.position,
                  {OUTCOME_SQL} AS outcome,
                  CASE WHEN c.config_reported_hash = t.hash THEN c.config_error END AS error
             {TARGET_JOINS} WHERE t.rollout_id = $1) x
          WHERE $2::text IS NULL OR x.outcome = $2
          ORDER BY x.position LIMIT $3 OFFSET $4"
    )))
    .bind(id)
    .bind(&q.outcome)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let total = match &q.outcome {
        None => rollout.outcomes.total,
        Some(o) => counted.iter().find(|(k, _)| k == o).map_or(0, |(_, n)| *n),
    };
    Ok(RolloutDetail {
        targets: paging.page(targets, total),
        rollout,
    })
}

/// A rollout's new state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolloutState {
    pub id: String,
    pub state: String,
}

#[utoipa::path(post, operation_id = "act_on_rollout", path = "/api/v1/controller/rollouts/{id}/{action}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path), ("action" = String, Path, description = "pause, resume or abort")),
    responses((status = 200, description = "Done", body = Envelope<RolloutState>), (status = 404, description = "Unknown rollout or action"), (status = 409, description = "Not allowed in the rollout's state")))]
pub async fn act(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Envelope<RolloutState>>, ApiError> {
    let action = match action.as_str() {
        "pause" => RolloutAction::Pause,
        "resume" => RolloutAction::Resume,
        "abort" => RolloutAction::Abort,
        other => return Err(ApiError::NotFound(format!("no rollout action {other}"))),
    };
    let command = Command::SetRolloutState {
        rollout_id: id.clone(),
        action,
    };
    let word = serde_json::to_value(action).unwrap_or_default();
    let audit = audit::by(&admin, "rollout_state", &id, json!({"action": word}));
    let done = state.persister.run_audited(&command, audit).await?;
    let new_state = done["state"].as_str().unwrap_or_default().to_owned();
    tracing::info!(rollout_id = %id, state = %new_state, "rollout {id} is now {new_state}");
    let data = RolloutState {
        id: id.clone(),
        state: new_state.clone(),
    };
    Ok(envelope(data, format!("Rollout {id} is {new_state}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(waves: Vec<i32>) -> RolloutBody {
        RolloutBody {
            change: Change {
                features: Map::from_iter([("cache".to_owned(), json!(true))]),
                settings: Map::new(),
            },
            selector: RolloutSelector {
                all: true,
                ..RolloutSelector::default()
            },
            waves,
            failure_threshold_pct: 10,
            wave_timeout_sec: 60,
        }
    }

    #[test]
    fn waves_must_grow_to_one_hundred() {
        assert!(body(vec![1, 5, 25, 100]).check().is_ok());
        assert!(body(vec![100]).check().is_ok());
        for bad in [
            vec![],
            vec![50],
            vec![5, 5, 100],
            vec![0, 100],
            vec![50, 20, 100],
        ] {
            assert!(body(bad.clone()).check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_rollout_needs_a_change_and_a_selector() {
        let mut b = body(vec![100]);
        b.change.features.clear();
        assert!(b.check().is_err());
        let mut b = body(vec![100]);
        b.selector.all = false;
        assert!(b.check().is_err());
    }
}
