//! `/api/v1/controller/orchestrators/{id}/config*` and `/api/v1/controller/config`:
//! which configuration each orchestrator should run, what it says it runs, the
//! history of revisions, and rollback.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use moolai_proto::commands::Command;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::audit;
use crate::api::controller::{envelope, Envelope, Page, PageQuery};
use crate::api::error::ApiError;
use crate::api::extract::{Admin, Body, Id, Params};
use crate::api::AppState;
use crate::fleet::activity::Kind;
use crate::push::now;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(fleet))
        .routes(routes!(config))
        .routes(routes!(revisions))
        .routes(routes!(rollback))
}

/// The configuration the controller wants run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Desired {
    /// Absent for an orchestrator without an organization of its own.
    pub revision: Option<i64>,
    pub hash: String,
    pub config: moolai_proto::config::ConfigContent,
}

/// What the orchestrator said last. `status` is `not_reported` for a client
/// that has never answered a `provision_config` (the first version's client
/// cannot): nothing is known of what it applied.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reported {
    pub hash: Option<String>,
    /// `applying`, `applied`, `failed` or `not_reported`.
    pub status: String,
    pub error: Option<String>,
    pub at: Option<DateTime<Utc>>,
    /// The revision the reported hash belongs to (the newest with that content).
    pub revision: Option<i64>,
}

/// One orchestrator's configuration, desired against reported.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrchestratorConfig {
    pub orchestrator_id: String,
    pub desired: Desired,
    pub reported: Reported,
    /// The configuration it said it runs, as it said it.
    #[schema(value_type = Option<Object>)]
    pub effective: Option<Value>,
    /// Applied, and the desired content.
    pub in_sync: bool,
    pub connected: bool,
}

#[derive(sqlx::FromRow)]
struct ConfigRow {
    orchestrator_id: String,
    revision: Option<i64>,
    features: Option<Value>,
    settings: Option<Value>,
    policies: Option<Value>,
    reported_hash: Option<String>,
    status: Option<String>,
    error: Option<String>,
    reported_at: Option<DateTime<Utc>>,
    reported_revision: Option<i64>,
    effective: Option<Value>,
}

/// A `ConfigRow` of the instance `i` and the organization `o` of the same id
/// (`{id}`: the id's expression).
const CONFIG_COLUMNS: &str = "
    o.config_revision AS revision, o.features, o.settings, o.policies,
    c.config_reported_hash AS reported_hash, c.config_status AS status,
    c.config_error AS error, c.config_reported_at AS reported_at,
    (SELECT max(r.revision) FROM config_revisions r
      WHERE r.organization_id = {id} AND r.hash = c.config_reported_hash) AS reported_revision,
    c.config_effective AS effective";

/// The organization (`o`) and last status (`c`) of the same id as `{id}`, by
/// one index lookup each (a lateral
/// lookup, not a join: stable whatever the table statistics, see
/// `rollout::TARGET_JOINS`).
const ORGANIZATION_OF: &str = "LEFT JOIN LATERAL (
    SELECT organization_id, config_revision, features, settings, policies, config_hash
      FROM organizations WHERE organization_id = {id} LIMIT 1) o ON TRUE
    LEFT JOIN LATERAL (SELECT * FROM orchestrator_config_status
                        WHERE orchestrator_id = {id} LIMIT 1) c ON TRUE";

fn one_config_sql() -> String {
    let columns = CONFIG_COLUMNS.replace("{id}", "$1");
    let organization = ORGANIZATION_OF.replace("{id}", "$1");
    format!(
        "SELECT $1::text AS orchestrator_id, {columns}
           FROM (SELECT 1) AS one
           {organization}
           LEFT JOIN LATERAL (SELECT * FROM orchestrator_instances
                               WHERE orchestrator_id = $1 LIMIT 1) i ON TRUE
          WHERE o.organization_id IS NOT NULL OR i.orchestrator_id IS NOT NULL"
    )
}

fn fleet_sql(tail: &str) -> String {
    let columns = CONFIG_COLUMNS.replace("{id}", "i.orchestrator_id");
    let organization = ORGANIZATION_OF.replace("{id}", "i.orchestrator_id");
    format!(
        "SELECT i.orchestrator_id, {columns} FROM orchestrator_instances i {organization} {tail}"
    )
}

impl ConfigRow {
    fn into_config(self, connected: bool) -> OrchestratorConfig {
        let empty = || json!({});
        let content = moolai_proto::config::ConfigContent {
            features: self.features.unwrap_or_else(empty),
            settings: self.settings.unwrap_or_else(empty),
            policies: self.policies.unwrap_or_else(empty),
        };
        let hash = content.hash();
        let in_sync =
            self.status.as_deref() == Some("applied") && self.reported_hash.as_ref() == Some(&hash);
        OrchestratorConfig {
            orchestrator_id: self.orchestrator_id,
            desired: Desired {
                revision: self.revision,
                hash,
                config: content,
            },
            reported: Reported {
                hash: self.reported_hash,
                status: self.status.unwrap_or_else(|| "not_reported".into()),
                error: self.error,
                at: self.reported_at,
                revision: self.reported_revision,
            },
            effective: self.effective,
            in_sync,
            connected,
        }
    }
}

#[utoipa::path(get, operation_id = "get_orchestrator_config", path = "/api/v1/controller/orchestrators/{id}/config", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "Desired and reported configuration", body = Envelope<OrchestratorConfig>), (status = 404, description = "Unknown id")))]
pub async fn config(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Json<Envelope<OrchestratorConfig>>, ApiError> {
    let row: Option<ConfigRow> = sqlx::query_as(sqlx::AssertSqlSafe(one_config_sql()))
        .bind(id.as_str())
        .fetch_optional(&state.pool)
        .await?;
    let row = row.ok_or_else(|| ApiError::NotFound(format!("orchestrator {id} not found")))?;
    let connected = state.live.connection(&id).is_some();
    let data = row.into_config(connected);
    Ok(envelope(data, format!("Configuration of {id}")))
}

/// Filter of the fleet's configuration list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetQuery {
    /// `in_sync`, `applying`, `failed`, `pending` (told an older one) or
    /// `not_reported`.
    pub state: Option<String>,
}

/// How many orchestrators are where with their configuration.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct FleetCounts {
    pub in_sync: i64,
    pub applying: i64,
    pub failed: i64,
    /// Reported a configuration other than the desired one (waiting for it).
    pub pending: i64,
    pub not_reported: i64,
    pub total: i64,
}

/// The fleet's configuration: counts, and one page of orchestrators.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetConfig {
    pub counts: FleetCounts,
    pub orchestrators: Page<OrchestratorConfig>,
}

/// Each instance's state against its organization's desired hash.
const FLEET_STATE: &str = "
    CASE WHEN c.config_status IS NULL THEN 'not_reported'
         WHEN c.config_reported_hash IS DISTINCT FROM o.config_hash THEN 'pending'
         WHEN c.config_status = 'applied' THEN 'in_sync'
         ELSE c.config_status END";

const FLEET_STATES: [&str; 5] = ["in_sync", "applying", "failed", "pending", "not_reported"];

#[utoipa::path(get, operation_id = "list_fleet_config", path = "/api/v1/controller/config", tag = "controller", security(("bearer" = [])),
    params(FleetQuery, PageQuery),
    responses((status = 200, description = "The fleet's configuration states", body = Envelope<FleetConfig>), (status = 422, description = "Unknown state or bad paging")))]
pub async fn fleet(
    State(state): State<AppState>,
    _: Admin,
    Params(q): Params<FleetQuery>,
    Params(paging): Params<PageQuery>,
) -> Result<Json<Envelope<FleetConfig>>, ApiError> {
    let (limit, offset) = paging.checked()?;
    if let Some(s) = &q.state {
        if !FLEET_STATES.contains(&s.as_str()) {
            let allowed = FLEET_STATES.join(", ");
            return Err(ApiError::field(
                "query",
                "state",
                format!("must be one of {allowed}"),
            ));
        }
    }
    let organization = ORGANIZATION_OF.replace("{id}", "i.orchestrator_id");
    let counted: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FLEET_STATE} AS state, count(*) FROM orchestrator_instances i {organization} GROUP BY 1"
    )))
    .fetch_all(&state.pool)
    .await?;
    let mut counts = FleetCounts::default();
    for (name, n) in counted {
        counts.total += n;
        match name.as_str() {
            "in_sync" => counts.in_sync = n,
            "applying" => counts.applying = n,
            "failed" => counts.failed = n,
            "pending" => counts.pending = n,
            _ => counts.not_reported += n,
        }
    }
    let rows: Vec<ConfigRow> = sqlx::query_as(sqlx::AssertSqlSafe(fleet_sql(&format!(
        "WHERE $1::text IS NULL OR {FLEET_STATE} = $1 ORDER BY i.orchestrator_id LIMIT $2 OFFSET $3"
    ))))
    .bind(&q.state)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let total = match q.state.as_deref() {
        None => counts.total,
        Some("in_sync") => counts.in_sync,
        Some("applying") => counts.applying,
        Some("failed") => counts.failed,
        Some("pending") => counts.pending,
        Some(_) => counts.not_reported,
    };
    let items = rows
        .into_iter()
        .map(|row| {
            let connected = OrchestratorId::parse(row.orchestrator_id.clone())
                .is_ok_and(|id| state.live.connection(&id).is_some());
            row.into_config(connected)
        })
        .collect();
    let data = FleetConfig {
        counts,
        orchestrators: paging.page(items, total),
    };
    Ok(envelope(data, "Fleet configuration"))
}

/// One revision of an organization's configuration.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Revision {
    pub revision: i64,
    pub hash: String,
    #[schema(value_type = Object)]
    pub config: Value,
    /// The admin who made it (`system`: found at the upgrade).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// `initial`, `features`, `rollback` or `rollout`.
    pub reason: String,
    pub rolled_back_to: Option<i64>,
    pub rollout_id: Option<String>,
    /// The orchestrator's last word on this revision's content: `applying`,
    /// `applied`, `failed`; absent when it has said nothing of it.
    pub outcome: Option<String>,
    pub outcome_error: Option<String>,
    /// When that outcome was first reported (a repeat of it does not move it).
    pub outcome_at: Option<DateTime<Utc>>,
}

/// Revisions, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevisionList {
    pub orchestrator_id: String,
    pub revisions: Vec<Revision>,
}

/// How many revisions to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevisionQuery {
    /// 1–500, default 50.
    #[serde(default = "default_revisions")]
    pub limit: i64,
}

fn default_revisions() -> i64 {
    50
}

#[utoipa::path(get, operation_id = "list_config_revisions", path = "/api/v1/controller/orchestrators/{id}/config/revisions", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path), RevisionQuery),
    responses((status = 200, description = "Revisions, newest first", body = Envelope<RevisionList>), (status = 404, description = "Unknown id"), (status = 422, description = "Bad limit")))]
pub async fn revisions(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
    Params(q): Params<RevisionQuery>,
) -> Result<Json<Envelope<RevisionList>>, ApiError> {
    if !(1..=500).contains(&q.limit) {
        return Err(ApiError::field(
            "query",
            "limit",
            "must be between 1 and 500",
        ));
    }
    let known: Option<i64> =
        sqlx::query_scalar("SELECT config_revision FROM organizations WHERE organization_id = $1")
            .bind(id.as_str())
            .fetch_optional(&state.pool)
            .await?;
    if known.is_none() {
        return Err(ApiError::NotFound(format!(
            "orchestrator {id} has no configuration"
        )));
    }
    let revisions: Vec<Revision> = sqlx::query_as(
        "SELECT revision, hash, config, created_by, created_at, reason, rolled_back_to, rollout_id,
                outcome, outcome_error, outcome_at
           FROM config_revisions WHERE organization_id = $1
          ORDER BY revision DESC LIMIT $2",
    )
    .bind(id.as_str())
    .bind(q.limit)
    .fetch_all(&state.pool)
    .await?;
    let data = RevisionList {
        orchestrator_id: id.to_string(),
        revisions,
    };
    Ok(envelope(data, format!("Configuration revisions of {id}")))
}

/// Which revision's content to make current again.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RollbackBody {
    pub revision: i64,
}

/// A rollback's result: a new revision with the old content.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolledBack {
    pub orchestrator_id: String,
    pub revision: i64,
    pub hash: String,
    pub rolled_back_to: i64,
    /// Sent to the orchestrator now (false: not connected, or the send failed;
    /// it gets it at its next handshake).
    pub pushed: bool,
}

#[utoipa::path(post, operation_id = "rollback_config", path = "/api/v1/controller/orchestrators/{id}/config/rollback", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RollbackBody,
    responses((status = 200, description = "A new revision with that revision's content", body = Envelope<RolledBack>), (status = 404, description = "Unknown id or revision"), (status = 422, description = "Invalid body")))]
pub async fn rollback(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(body): Body<RollbackBody>,
) -> Result<Json<Envelope<RolledBack>>, ApiError> {
    if body.revision < 1 {
        return Err(ApiError::field("body", "revision", "must be at least 1"));
    }
    let command = Command::RollbackConfig {
        organization_id: id.clone(),
        revision: body.revision,
        by: admin.username.clone(),
    };
    let audit = audit::by(
        &admin,
        "config_rollback",
        id.as_str(),
        json!({"to": body.revision}),
    )
    .with_answer(&["revision", "hash"]);
    let done = state.persister.run_audited(&command, audit).await?;
    state.changes.configs_changed(vec![id.clone()]).await;
    state.feed.record(
        Kind::Features,
        json!({"organization_id": id, "rolled_back_to": body.revision}),
    );
    let pushed = match state.live.connection(&id) {
        Some(conn) => now::config(&state.now(), &id, &conn).await,
        None => false,
    };
    let data = RolledBack {
        orchestrator_id: id.to_string(),
        revision: done["revision"].as_i64().unwrap_or_default(),
        hash: done["hash"].as_str().unwrap_or_default().to_owned(),
        rolled_back_to: body.revision,
        pushed,
    };
    let message = format!(
        "Configuration of {id} rolled back to revision {}",
        body.revision
    );
    Ok(envelope(data, message))
}
