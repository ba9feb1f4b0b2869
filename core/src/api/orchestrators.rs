//! `/api/v1/controller/orchestrators*`: reading instances, all or connected
//! ones, each annotated with what this core knows live (connection, edge).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::controller::{envelope, not_found, Envelope, Page, PageQuery};
use crate::api::error::ApiError;
use crate::api::extract::Reader;
use crate::api::extract::{Id, Params};
use crate::api::AppState;
use crate::store::read::{self, InstanceRow};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orchestrators))
        .routes(routes!(live))
        .routes(routes!(live_one))
        .routes(routes!(orchestrator))
}

/// Filter of the instance list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstanceQuery {
    /// Only instances of this organization.
    pub organization_id: Option<String>,
}

/// An instance as the API shows it: its row, and what core knows live. While
/// it is connected, `edge_id` and `connected_at` are this core's (newer than the
/// row, which the persister writes after the handshake) and `last_keepalive`
/// is added. A reader without a token gets only the public fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Orchestrator {
    #[serde(flatten)]
    pub row: InstanceRow,
    /// Connected to an edge now.
    pub connected: bool,
    /// Only while connected: its last heartbeat on this connection, null
    /// before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_keepalive: Option<Option<DateTime<Utc>>>,
}

impl Orchestrator {
    fn new(mut row: InstanceRow, state: &AppState) -> Self {
        let conn = OrchestratorId::parse(&row.orchestrator_id)
            .ok()
            .and_then(|id| state.live.connection(&id));
        let last_keepalive = conn.map(|conn| {
            row.edge_id = Some(conn.edge_id.to_string());
            row.connected_at = Some(rfc3339(conn.connected_at));
            conn.last_keepalive
        });
        Self {
            row,
            connected: last_keepalive.is_some(),
            last_keepalive,
        }
    }
}

/// As chrono writes a timestamp in JSON.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Connected orchestrators, keyed by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveOrchestrators {
    #[schema(value_type = HashMap<String, Orchestrator>)]
    pub orchestrators: Map<String, Value>,
    pub total_count: usize,
}

#[utoipa::path(get, operation_id = "list_orchestrators", path = "/api/v1/controller/orchestrators", tag = "controller", params(PageQuery, InstanceQuery),
    security(("bearer" = [])), responses((status = 200, description = "A page of orchestrator instances (a reader without a token gets only their public fields)", body = Envelope<Page<Orchestrator>>), (status = 422, description = "Invalid page")))]
pub async fn orchestrators(
    State(state): State<AppState>,
    reader: Reader,
    Params(q): Params<PageQuery>,
    Params(f): Params<InstanceQuery>,
) -> Result<Json<Envelope<Page<Value>>>, ApiError> {
    let (limit, offset) = q.checked()?;
    let (rows, total) =
        read::instances(&state.pool, f.organization_id.as_deref(), limit, offset).await?;
    let items = rows
        .into_iter()
        .map(|row| read::shown(&Orchestrator::new(row, &state), reader.anonymous))
        .collect();
    Ok(envelope(
        q.page(items, total),
        "Orchestrators retrieved successfully",
    ))
}

#[utoipa::path(get, operation_id = "get_orchestrator", path = "/api/v1/controller/orchestrators/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "One instance (a reader without a token gets only its public fields)", body = Envelope<Orchestrator>), (status = 404, description = "Unknown id")))]
pub async fn orchestrator(
    State(state): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> Result<Json<Envelope<Value>>, ApiError> {
    let row = read::instance(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("orchestrator", &id))?;
    let item = read::shown(&Orchestrator::new(row, &state), reader.anonymous);
    Ok(envelope(item, "Orchestrator retrieved successfully"))
}

#[utoipa::path(get, operation_id = "list_live_orchestrators", path = "/api/v1/controller/orchestrators/live", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Connected orchestrators, keyed by id", body = Envelope<LiveOrchestrators>)))]
pub async fn live(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Json<Envelope<LiveOrchestrators>>, ApiError> {
    let ids: Vec<String> = state
        .live
        .connected_ids()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut orchestrators = Map::new();
    for row in read::instances_by_id(&state.pool, &ids).await? {
        let item = Orchestrator::new(row, &state);
        // It may have gone between the two reads.
        if item.connected {
            let key = item.row.orchestrator_id.clone();
            orchestrators.insert(key, read::shown(&item, reader.anonymous));
        }
    }
    Ok(envelope(
        LiveOrchestrators {
            total_count: orchestrators.len(),
            orchestrators,
        },
        "Live orchestrators retrieved successfully",
    ))
}

#[utoipa::path(get, operation_id = "get_live_orchestrator", path = "/api/v1/controller/orchestrators/live/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "One connected orchestrator", body = Envelope<Orchestrator>), (status = 404, description = "Not connected")))]
pub async fn live_one(
    State(state): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> Result<Json<Envelope<Value>>, ApiError> {
    let Some(conn) = state.live.connection(&id) else {
        return Err(ApiError::NotFound(format!(
            "orchestrator {id} is not connected"
        )));
    };
    let item = match read::instance(&state.pool, id.as_str()).await? {
        Some(row) => read::shown(&Orchestrator::new(row, &state), reader.anonymous),
        // Connected before the persister wrote its row: what core knows is all
        // there is (every field of it is public).
        None => json!({
            "orchestrator_id": id,
            "connected": true,
            "edge_id": conn.edge_id,
            "connected_at": conn.connected_at,
            "last_keepalive": conn.last_keepalive,
        }),
    };
    Ok(envelope(item, "Live orchestrator retrieved successfully"))
}
