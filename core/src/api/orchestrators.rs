//! `/api/v1/controller/orchestrators*`: reading instances, all or connected
//! ones, each annotated with what this core knows live (connection, edge).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use moolai_proto::OrchestratorId;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Reader;
use super::controller::{envelope, not_found, Envelope, PageQuery};
use super::error::ApiError;
use super::extract::{Id, Params};
use super::{read, AppState};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/controller/orchestrators", get(orchestrators))
        .route("/api/v1/controller/orchestrators/live", get(live))
        .route("/api/v1/controller/orchestrators/live/{id}", get(live_one))
        .route("/api/v1/controller/orchestrators/{id}", get(orchestrator))
}

/// Filter of the instance list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InstanceQuery {
    /// Only instances of this organization.
    pub organization_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/controller/orchestrators", tag = "controller", params(PageQuery, InstanceQuery),
    security(("bearer" = [])), responses((status = 200, description = "A page of orchestrator instances"), (status = 422, description = "Invalid page")))]
pub async fn orchestrators(
    State(state): State<AppState>,
    reader: Reader,
    Params(q): Params<PageQuery>,
    Params(f): Params<InstanceQuery>,
) -> Result<Json<Envelope<Value>>, ApiError> {
    let (limit, offset) = q.checked()?;
    let (mut items, total) =
        read::instances(&state.pool, f.organization_id.as_deref(), limit, offset).await?;
    for item in &mut items {
        annotate(&state, item);
        if reader.anonymous {
            read::public_view(item);
        }
    }
    Ok(envelope(
        q.page(items, total),
        "Orchestrators retrieved successfully",
    ))
}

/// Adds what only core knows: whether the orchestrator is connected now, and where.
fn annotate(state: &AppState, item: &mut Value) {
    let conn = item["orchestrator_id"]
        .as_str()
        .and_then(|id| OrchestratorId::parse(id).ok())
        .and_then(|id| state.live.connection(&id));
    item["connected"] = json!(conn.is_some());
    if let Some(conn) = conn {
        item["edge_id"] = json!(conn.edge_id);
        item["connected_at"] = json!(conn.connected_at);
        item["last_keepalive"] = json!(conn.last_keepalive);
    }
}

#[utoipa::path(get, path = "/api/v1/controller/orchestrators/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "One instance"), (status = 404, description = "Unknown id")))]
pub async fn orchestrator(
    State(state): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> Result<Json<Envelope<Value>>, ApiError> {
    let mut item = read::instance(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("orchestrator", &id))?;
    annotate(&state, &mut item);
    if reader.anonymous {
        read::public_view(&mut item);
    }
    Ok(envelope(item, "Orchestrator retrieved successfully"))
}

#[utoipa::path(get, path = "/api/v1/controller/orchestrators/live", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Connected orchestrators, keyed by id")))]
pub async fn live(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Json<Envelope<Value>>, ApiError> {
    let ids: Vec<String> = state
        .live
        .connected_ids()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut map = Map::new();
    for mut item in read::instances_by_id(&state.pool, &ids).await? {
        annotate(&state, &mut item);
        if reader.anonymous {
            read::public_view(&mut item);
        }
        if item["connected"] == true {
            let key = item["orchestrator_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            map.insert(key, item);
        }
    }
    let total = map.len();
    Ok(envelope(
        json!({"orchestrators": map, "total_count": total}),
        "Live orchestrators retrieved successfully",
    ))
}

#[utoipa::path(get, path = "/api/v1/controller/orchestrators/live/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "One connected orchestrator"), (status = 404, description = "Not connected")))]
pub async fn live_one(
    State(state): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> Result<Json<Envelope<Value>>, ApiError> {
    if state.live.connection(&id).is_none() {
        return Err(ApiError::NotFound(format!(
            "orchestrator {id} is not connected"
        )));
    }
    let mut item = read::instance(&state.pool, id.as_str())
        .await?
        .unwrap_or_else(|| json!({"orchestrator_id": id}));
    annotate(&state, &mut item);
    if reader.anonymous {
        read::public_view(&mut item);
    }
    Ok(envelope(item, "Live orchestrator retrieved successfully"))
}
