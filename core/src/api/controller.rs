//! `/api/v1/controller/*` as a whole: health, overview, edges and logs, and what
//! the controller's resources share (the envelope `{success, data, message,
//! timestamp}`, paging, not-found answers). Organizations and orchestrators
//! (instances) have their own modules; `last-seen` is served by `events`.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use moolai_kit::logbuf::LogEntry;
use moolai_proto::events::EdgePresence;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::api::extract::Params;
use crate::api::extract::{Admin, Reader};
use crate::api::{dependency_word, AppState};
use crate::store::read;

/// The controller envelope around every `/api/v1/controller/*` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub data: T,
    pub message: String,
    /// When it was answered (the first version froze this timestamp).
    pub timestamp: DateTime<Utc>,
}

/// `data` in the controller envelope, stamped now.
pub fn envelope<T>(data: T, message: impl Into<String>) -> Json<Envelope<T>> {
    Json(Envelope {
        success: true,
        data,
        message: message.into(),
        timestamp: Utc::now(),
    })
}

/// Fleet figures, all measured.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub total_organizations: i64,
    pub orchestrators: InstanceCounts,
    /// Sockets held by the edges now.
    pub connected_now: usize,
    pub independent: i64,
    /// Pending messages of orchestrators that are not independent.
    pub pending_messages: i64,
    pub edges_up: usize,
    /// Only for a token holder: the cluster's layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<EdgePresence>>,
}

/// Instances by state (`active` and `inactive` count only those not independent).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceCounts {
    pub active: i64,
    pub inactive: i64,
    pub independent: i64,
    pub total: i64,
}

/// Edges that announced themselves lately.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EdgeList {
    pub total_count: usize,
    pub edges: Vec<EdgePresence>,
}

/// The core replicas that announced themselves lately.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CoreList {
    pub total_count: usize,
    /// The replica that answered.
    #[schema(value_type = String)]
    pub answered_by: moolai_proto::CoreId,
    pub cores: Vec<moolai_proto::events::CorePresence>,
}

/// `page` ≥ 1, `page_size` 1–500.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// The first 50.
    pub(super) fn first() -> Self {
        Self {
            page: 1,
            page_size: 50,
        }
    }

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

    pub(super) fn page<T>(&self, items: Vec<T>, total: i64) -> Page<T> {
        let size = i64::from(self.page_size);
        let pages = (total + size - 1) / size;
        Page {
            items,
            page: self.page,
            page_size: self.page_size,
            total_items: total,
            total_pages: pages,
            has_next: i64::from(self.page) < pages,
            has_prev: self.page > 1,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub page_size: u32,
    pub total_items: i64,
    pub total_pages: i64,
    pub has_next: bool,
    pub has_prev: bool,
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

#[utoipa::path(get, operation_id = "controller_health", path = "/api/v1/controller/health", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Health of core and its dependencies", body = ControllerHealth)))]
pub async fn health(State(state): State<AppState>, _: Reader) -> Json<ControllerHealth> {
    let (database, nats) = state.dependencies_up().await;
    let persister = state.persister.is_up().await;
    let dependencies = Dependencies {
        database: dependency_word(database),
        nats: dependency_word(nats),
        persister: dependency_word(persister),
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

#[utoipa::path(get, operation_id = "overview", path = "/api/v1/controller/overview", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Fleet figures, all measured", body = Envelope<Overview>)))]
pub async fn overview(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Json<Envelope<Overview>>, ApiError> {
    let c = read::counts(&state.pool).await?;
    let edges = state.edges.up();
    let data = Overview {
        total_organizations: c.total_organizations,
        orchestrators: InstanceCounts {
            active: c.active,
            inactive: c.inactive,
            independent: c.independent,
            total: c.total,
        },
        connected_now: state.live.connected(),
        independent: c.independent,
        pending_messages: c.pending_messages,
        edges_up: edges.len(),
        // Edge ids and addresses are the cluster's layout, not the fleet's state.
        edges: (!reader.anonymous).then_some(edges),
    };
    Ok(envelope(data, "Overview retrieved successfully"))
}

#[utoipa::path(get, operation_id = "list_edges", path = "/api/v1/controller/edges", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Edges that announced themselves in the last 15 s", body = Envelope<EdgeList>)))]
pub async fn edges(State(state): State<AppState>, _: Admin) -> Json<Envelope<EdgeList>> {
    let edges = state.edges.up();
    let data = EdgeList {
        total_count: edges.len(),
        edges,
    };
    envelope(data, "Edges retrieved successfully")
}

#[utoipa::path(get, operation_id = "list_cores", path = "/api/v1/controller/cores", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Core replicas that announced themselves in the last 3 s, and which holds the singleton duties", body = Envelope<CoreList>)))]
pub async fn cores(State(state): State<AppState>, _: Admin) -> Json<Envelope<CoreList>> {
    let cores = state.cores.up();
    let data = CoreList {
        total_count: cores.len(),
        answered_by: state.core_id.clone(),
        cores,
    };
    envelope(data, "Core replicas retrieved successfully")
}

/// Query of the logs endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    pub items: Vec<LogEntry>,
}

impl LogQuery {
    /// Newest first; `limit` up to the buffer's size.
    pub fn run(&self) -> Result<LogPage, ApiError> {
        let cap = moolai_kit::logbuf::capacity();
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
        let items = moolai_kit::logbuf::recent(&moolai_kit::logbuf::Filter {
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

#[utoipa::path(get, operation_id = "controller_logs", path = "/api/v1/controller/logs", tag = "controller", params(LogQuery), security(("bearer" = [])),
    responses((status = 200, description = "Recent log records of the whole cluster (core, edges, persisters), newest first", body = Envelope<LogPage>)))]
pub async fn logs(
    _: Admin,
    Params(q): Params<LogQuery>,
) -> Result<Json<Envelope<LogPage>>, ApiError> {
    Ok(envelope(q.run()?, "Logs retrieved successfully"))
}

pub fn not_found(what: &str, id: &OrchestratorId) -> ApiError {
    ApiError::NotFound(format!("{what} {id} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(page: u32, page_size: u32) -> PageQuery {
        PageQuery { page, page_size }
    }

    #[test]
    fn a_page_becomes_limit_and_offset() {
        assert_eq!(query(1, 10).checked().unwrap(), (10, 0));
        assert_eq!(query(3, 25).checked().unwrap(), (25, 50));
        // The largest page number cannot overflow the offset.
        assert_eq!(
            query(u32::MAX, 500).checked().unwrap(),
            (500, i64::from(u32::MAX - 1) * 500)
        );
    }

    #[test]
    fn page_zero_and_sizes_outside_1_to_500_are_refused_naming_the_field() {
        for (q, field) in [
            (query(0, 10), "page"),
            (query(1, 0), "page_size"),
            (query(1, 501), "page_size"),
        ] {
            match q.checked() {
                Err(ApiError::Invalid(errors)) => assert_eq!(errors[0].loc, ["query", field]),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(query(1, 500).checked().is_ok());
    }

    #[test]
    fn the_page_counts_pages_and_says_where_it_is() {
        let first = query(1, 10).page(vec![()], 21);
        assert_eq!(
            (first.total_pages, first.has_next, first.has_prev),
            (3, true, false)
        );
        let last = query(3, 10).page(vec![()], 21);
        assert_eq!((last.has_next, last.has_prev), (false, true));
        let exact = query(2, 10).page(vec![()], 20);
        assert_eq!((exact.total_pages, exact.has_next), (2, false));
        let empty = query(1, 10).page(Vec::<()>::new(), 0);
        assert_eq!(
            (empty.total_pages, empty.has_next, empty.total_items),
            (0, false, 0)
        );
    }
}
