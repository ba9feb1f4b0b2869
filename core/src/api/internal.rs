//! `/api/v1/internal/*` as a whole: the activity feed, logs and health.
//! Registration, independence and messages have their own modules; answers
//! are flat, as the spec shows them.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Admin;
use super::controller::LogQuery;
use super::error::ApiError;
use super::extract::Params;
use super::AppState;

/// Filters of the activity feed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ActivityQuery {
    /// Only entries of this kind: a name of [`crate::activity::Kind`] (`handshake`,
    /// `message_sent`, `registered`, ...).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Only entries about this orchestrator.
    pub orchestrator_id: Option<String>,
    #[serde(default = "default_activity_limit")]
    pub limit: usize,
}

fn default_activity_limit() -> usize {
    200
}

#[utoipa::path(get, path = "/api/v1/internal/activity", tag = "internal", params(ActivityQuery), security(("bearer" = [])),
    responses((status = 200, description = "What happened to orchestrators lately, newest first"), (status = 422, description = "Invalid limit")))]
pub async fn activity(
    State(state): State<AppState>,
    _: Admin,
    Params(q): Params<ActivityQuery>,
) -> Result<Json<Value>, ApiError> {
    if !(1..=crate::activity::CAPACITY).contains(&q.limit) {
        return Err(ApiError::field(
            "query",
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let items = state
        .feed
        .recent(q.kind.as_deref(), q.orchestrator_id.as_deref(), q.limit);
    Ok(Json(
        json!({"success": true, "data": {"total": items.len(), "items": items}}),
    ))
}

#[utoipa::path(get, path = "/api/v1/internal/logs", tag = "internal", params(LogQuery), security(("bearer" = [])),
    responses((status = 200, description = "Recent log records of core, newest first")))]
pub async fn logs(_: Admin, Params(q): Params<LogQuery>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"success": true, "data": q.run()?})))
}

#[utoipa::path(get, path = "/api/v1/internal/health", tag = "internal", security(("bearer" = [])),
    responses((status = 200, description = "Core's view of its connections and dependencies")))]
pub async fn health(State(state): State<AppState>, _: Admin) -> Json<Value> {
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let nats = matches!(
        state.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    Json(json!({
        "success": true, "status": if database && nats { "ok" } else { "degraded" },
        "connected_orchestrators": state.live.connected(), "edges_up": state.edges.up().len(),
        "nats": if nats { "connected" } else { "unavailable" },
        "database": if database { "connected" } else { "unavailable" },
    }))
}
