//! `/api/v1/internal/orchestrators/{id}/independence`: an orchestrator left to
//! run on its own (no controller messages, its heartbeats ignored), and back.

use axum::extract::State;
use axum::Json;
use moolai_proto::commands::Command;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::audit;
use crate::api::controller::not_found;
use crate::api::error::ApiError;
use crate::api::extract::Admin;
use crate::api::extract::{Body, Id};
use crate::api::AppState;
use crate::fleet::activity::Kind;
use crate::fleet::live::Rule;
use crate::store::read;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_independence, get_independence))
}

/// Body of `PUT independence`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IndependenceBody {
    pub is_independent: bool,
    /// Omitted: kept as stored (the first version reset it to false).
    pub privacy_mode: Option<bool>,
}

/// Independence set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IndependenceSet {
    pub success: bool,
    pub message: String,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    pub is_independent: bool,
    pub privacy_mode: bool,
    /// The instance's `status` as stored.
    #[schema(value_type = String)]
    pub status: Value,
}

/// An orchestrator's independence, as stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IndependenceState {
    pub success: bool,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    pub is_independent: bool,
    pub privacy_mode: bool,
    pub status: String,
    /// RFC 3339, as PostgreSQL writes it; null if never seen.
    #[schema(format = DateTime, required = true)]
    pub last_seen: Option<String>,
}

#[utoipa::path(put, operation_id = "set_independence", path = "/api/v1/internal/orchestrators/{id}/independence", tag = "internal", request_body = IndependenceBody,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Updated; heartbeats are ignored from now on", body = IndependenceSet), (status = 404, description = "Unknown id")))]
pub async fn put_independence(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(b): Body<IndependenceBody>,
) -> Result<Json<IndependenceSet>, ApiError> {
    let command = Command::SetIndependence {
        orchestrator_id: id.clone(),
        is_independent: b.is_independent,
        privacy_mode: b.privacy_mode,
    };
    let detail = json!({"is_independent": b.is_independent, "privacy_mode": b.privacy_mode});
    let audit = audit::by(&admin, "independence", id.as_str(), detail);
    let row = state.persister.run_audited(&command, audit).await?;
    state.feed.record(
        Kind::Independence,
        json!({"orchestrator_id": id, "is_independent": b.is_independent}),
    );
    let rule = Rule {
        is_independent: b.is_independent,
        privacy_mode: row["privacy_mode"].as_bool().unwrap_or(false),
        revision: row["revision"].as_i64().unwrap_or_default(),
    };
    // The rule takes effect in core before the answer: from now on no heartbeat counts.
    let rule = state.changes.set_rule(id.clone(), rule);
    if let Some(conn) = state.live.connection(&id) {
        // In the background: the push waits its turn behind any push to this
        // orchestrator in progress (a handshake's), and the answer need not.
        let pushes = state.pushes.clone();
        let id = id.clone();
        tokio::spawn(async move {
            if let Err(err) = pushes.rule(&id, &conn).await {
                tracing::warn!(orchestrator_id = %id, %err, "independence_update not sent");
            }
        });
    }
    Ok(Json(IndependenceSet {
        success: true,
        message: "Independence mode updated successfully".into(),
        orchestrator_id: id,
        is_independent: rule.is_independent,
        privacy_mode: rule.privacy_mode,
        status: row["status"].clone(),
    }))
}

#[utoipa::path(get, operation_id = "get_independence", path = "/api/v1/internal/orchestrators/{id}/independence", tag = "internal",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Independence state", body = IndependenceState), (status = 404, description = "Unknown id")))]
pub async fn get_independence(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Json<IndependenceState>, ApiError> {
    let row = read::instance(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("orchestrator", &id))?;
    Ok(Json(IndependenceState {
        success: true,
        orchestrator_id: id,
        is_independent: row.is_independent,
        privacy_mode: row.privacy_mode,
        status: row.status,
        last_seen: row.last_seen,
    }))
}
