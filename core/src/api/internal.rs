//! `/api/v1/internal/*` as a whole: the activity feed, logs and health.
//! The rest has its own modules (registration, independence, messages, auth and
//! admins, audit, tokens, enrollment); answers are flat, as the spec shows them.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::api::controller::{LogPage, LogQuery};
use crate::api::error::ApiError;
use crate::api::extract::Admin;
use crate::api::extract::Params;
use crate::api::{dependency_word, AppState};
use crate::fleet::activity::Activity;

/// Filters of the activity feed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Only entries of this kind: a name of [`crate::fleet::activity::Kind`] (`handshake`,
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

/// `GET /api/v1/internal/activity`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityList {
    pub success: bool,
    pub data: ActivityPage,
}

/// The entries of an [`ActivityList`], newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityPage {
    pub total: usize,
    pub items: Vec<Activity>,
}

/// `GET /api/v1/internal/logs`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogList {
    pub success: bool,
    pub data: LogPage,
}

/// Core's view of its connections and dependencies.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InternalHealth {
    pub success: bool,
    /// `ok`, or `degraded` when the database or NATS is unavailable.
    pub status: &'static str,
    pub connected_orchestrators: usize,
    pub edges_up: usize,
    /// `connected` or `unavailable`.
    pub nats: &'static str,
    pub database: &'static str,
}

#[utoipa::path(get, operation_id = "list_activity", path = "/api/v1/internal/activity", tag = "internal", params(ActivityQuery), security(("bearer" = [])),
    responses((status = 200, description = "What happened to orchestrators lately, newest first", body = ActivityList), (status = 422, description = "Invalid limit")))]
pub async fn activity(
    State(state): State<AppState>,
    _: Admin,
    Params(q): Params<ActivityQuery>,
) -> Result<Json<ActivityList>, ApiError> {
    if !(1..=crate::fleet::activity::CAPACITY).contains(&q.limit) {
        return Err(ApiError::field(
            "query",
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let items = state
        .feed
        .recent(q.kind.as_deref(), q.orchestrator_id.as_deref(), q.limit);
    let data = ActivityPage {
        total: items.len(),
        items,
    };
    Ok(Json(ActivityList {
        success: true,
        data,
    }))
}

#[utoipa::path(get, operation_id = "internal_logs", path = "/api/v1/internal/logs", tag = "internal", params(LogQuery), security(("bearer" = [])),
    responses((status = 200, description = "Recent log records of the whole cluster (core, edges, persisters), newest first", body = LogList)))]
pub async fn logs(_: Admin, Params(q): Params<LogQuery>) -> Result<Json<LogList>, ApiError> {
    Ok(Json(LogList {
        success: true,
        data: q.run()?,
    }))
}

#[utoipa::path(get, operation_id = "internal_health", path = "/api/v1/internal/health", tag = "internal", security(("bearer" = [])),
    responses((status = 200, description = "Core's view of its connections and dependencies", body = InternalHealth)))]
pub async fn health(State(state): State<AppState>, _: Admin) -> Json<InternalHealth> {
    let (database, nats) = state.dependencies_up().await;
    Json(InternalHealth {
        success: true,
        status: if database && nats { "ok" } else { "degraded" },
        connected_orchestrators: state.live.connected(),
        edges_up: state.edges.up().len(),
        nats: dependency_word(nats),
        database: dependency_word(database),
    })
}
