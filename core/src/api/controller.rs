//! `/api/v1/controller/*` as a whole: health, overview, edges and logs, and what
//! the controller's resources share (the envelope `{success, data, message,
//! timestamp}`, paging, not-found answers). Organizations, orchestrators and
//! instances have their own modules.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use moolai_proto::logbuf::LogEntry;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::{Admin, Reader};
use super::error::ApiError;
use super::extract::Params;
use super::{read, AppState};

/// The controller envelope, stamped now (the first version froze this timestamp).
pub fn envelope(data: Value, message: impl Into<String>) -> Json<Value> {
    Json(json!({"success": true, "data": data, "message": message.into(), "timestamp": Utc::now()}))
}

/// `page` ≥ 1, `page_size` 1–500.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    #[serde(default = "first_page")]
    pub page: u32,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn first_page() -> u32 {
    1
}
fn default_page_size() -> u32 {
    10
}

impl PageQuery {
    pub(super) fn checked(&self) -> Result<(i64, i64), ApiError> {
        if self.page < 1 {
            return Err(ApiError::field("query", "page", "must be at least 1"));
        }
        if !(1..=500).contains(&self.page_size) {
            return Err(ApiError::field(
                "query",
                "page_size",
                "must be between 1 and 500",
            ));
        }
        Ok((
            i64::from(self.page_size),
            i64::from(self.page - 1) * i64::from(self.page_size),
        ))
    }

    pub(super) fn page(&self, items: Vec<Value>, total: i64) -> Value {
        let size = i64::from(self.page_size);
        let pages = (total + size - 1) / size;
        json!({
            "items": items, "page": self.page, "page_size": self.page_size, "total_items": total,
            "total_pages": pages, "has_next": i64::from(self.page) < pages, "has_prev": self.page > 1,
        })
    }
}

/// Health of core and what it depends on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ControllerHealth {
    /// `healthy`, or `degraded` when a dependency is unavailable.
    pub status: &'static str,
    pub service: &'static str,
    pub dependencies: Dependencies,
    pub timestamp: DateTime<Utc>,
}

/// Each `connected` or `unavailable`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dependencies {
    pub database: &'static str,
    pub nats: &'static str,
    pub persister: &'static str,
}

#[utoipa::path(get, path = "/api/v1/controller/health", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Health of core and its dependencies", body = ControllerHealth)))]
pub async fn health(State(state): State<AppState>, _: Reader) -> Json<ControllerHealth> {
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let nats = matches!(
        state.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let persister = state.persister.is_up().await;
    let word = |ok: bool| if ok { "connected" } else { "unavailable" };
    let dependencies = Dependencies {
        database: word(database),
        nats: word(nats),
        persister: word(persister),
    };
    Json(ControllerHealth {
        status: if database && nats && persister {
            "healthy"
        } else {
            "degraded"
        },
        service: "controller",
        dependencies,
        timestamp: Utc::now(),
    })
}

#[utoipa::path(get, path = "/api/v1/controller/overview", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Fleet figures, all measured")))]
pub async fn overview(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Json<Value>, ApiError> {
    let c = read::counts(&state.pool).await?;
    let edges = state.edges.up();
    let mut data = json!({
        "total_organizations": c["total_organizations"],
        "orchestrators": {"active": c["active"], "inactive": c["inactive"], "independent": c["independent"], "total": c["total"]},
        "connected_now": state.live.connected(),
        "independent": c["independent"],
        "pending_messages": c["pending_messages"],
        "edges_up": edges.len(),
        "edges": edges,
    });
    if reader.anonymous {
        // Edge ids and addresses are the cluster's layout, not the fleet's state.
        if let Some(fields) = data.as_object_mut() {
            fields.remove("edges");
        }
    }
    Ok(envelope(data, "Overview retrieved successfully"))
}

#[utoipa::path(get, path = "/api/v1/controller/edges", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Edges that announced themselves in the last 15 s")))]
pub async fn edges(State(state): State<AppState>, _: Admin) -> Json<Value> {
    let edges = state.edges.up();
    envelope(
        json!({"total_count": edges.len(), "edges": edges}),
        "Edges retrieved successfully",
    )
}

/// Query of the logs endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogQuery {
    pub q: Option<String>,
    pub level: Option<String>,
    /// Only records of this service (`core`, `persister`, `edge:<id>`).
    pub source: Option<String>,
    #[serde(default = "default_log_limit")]
    pub limit: usize,
}

fn default_log_limit() -> usize {
    200
}

/// Recent log records, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    pub total: usize,
    /// `{timestamp, level, message, source, target}` each.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<LogEntry>,
}

impl LogQuery {
    /// Newest first; `limit` up to the buffer's size.
    pub fn run(&self) -> Result<LogPage, ApiError> {
        let cap = moolai_proto::logbuf::capacity();
        if !(1..=cap).contains(&self.limit) {
            return Err(ApiError::field(
                "query",
                "limit",
                format!("must be between 1 and {cap}"),
            ));
        }
        const LEVELS: [&str; 6] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "TRACE"];
        if let Some(level) = &self.level {
            if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
                return Err(ApiError::field(
                    "query",
                    "level",
                    "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
                ));
            }
        }
        let items = moolai_proto::logbuf::recent(&moolai_proto::logbuf::Filter {
            q: self.q.as_deref(),
            level: self.level.as_deref(),
            source: self.source.as_deref(),
            limit: self.limit,
        });
        Ok(LogPage {
            total: items.len(),
            items,
        })
    }
}

#[utoipa::path(get, path = "/api/v1/controller/logs", tag = "controller", params(LogQuery), security(("bearer" = [])),
    responses((status = 200, description = "Recent log records of core, newest first")))]
pub async fn logs(_: Admin, Params(q): Params<LogQuery>) -> Result<Json<Value>, ApiError> {
    Ok(envelope(json!(q.run()?), "Logs retrieved successfully"))
}

pub fn not_found(what: &str, id: &OrchestratorId) -> ApiError {
    ApiError::NotFound(format!("{what} {id} not found"))
}
