//! `/api/v1/controller/*`: the fleet as the dashboard sees it. Answers use the
//! controller envelope `{success, data, message, timestamp}`.

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use moolai_proto::commands::Command;
use moolai_proto::OrchestratorId;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::audit;
use super::auth::{Admin, Reader};
use super::error::ApiError;
use super::extract::{Body, Id, Params};
use super::{read, AppState};
use crate::activity::Kind;
use crate::live::Connection;

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

/// Search and status filter of the organization list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrgQuery {
    /// Substring of id, name or location, any case.
    pub q: Option<String>,
    #[param(value_type = Option<String>)]
    pub status: Option<OrgStatus>,
}

/// An organization's status as listed.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    Inactive,
    Independent,
}

impl OrgStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Independent => "independent",
        }
    }
}

/// Filter of the instance list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InstanceQuery {
    /// Only instances of this organization.
    pub organization_id: Option<String>,
}

fn first_page() -> u32 {
    1
}
fn default_page_size() -> u32 {
    10
}

impl PageQuery {
    fn checked(&self) -> Result<(i64, i64), ApiError> {
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

    fn page(&self, items: Vec<Value>, total: i64) -> Value {
        let size = i64::from(self.page_size);
        let pages = (total + size - 1) / size;
        json!({
            "items": items, "page": self.page, "page_size": self.page_size, "total_items": total,
            "total_pages": pages, "has_next": i64::from(self.page) < pages, "has_prev": self.page > 1,
        })
    }
}

#[utoipa::path(get, path = "/api/v1/controller/health", tag = "controller", security(("bearer" = [])),
    responses((status = 200, description = "Health of core and its dependencies")))]
pub async fn health(State(state): State<AppState>, _: Reader) -> Json<Value> {
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let nats = matches!(
        state.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let persister = state.persister.is_up().await;
    let word = |ok: bool| if ok { "connected" } else { "unavailable" };
    Json(json!({
        "status": if database && nats && persister { "healthy" } else { "degraded" },
        "service": "controller",
        "dependencies": {"database": word(database), "nats": word(nats), "persister": word(persister)},
        "timestamp": Utc::now(),
    }))
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

#[utoipa::path(get, path = "/api/v1/controller/organizations", tag = "controller", params(PageQuery, OrgQuery),
    security(("bearer" = [])), responses((status = 200, description = "A page of organizations"), (status = 422, description = "Invalid page")))]
pub async fn organizations(
    State(state): State<AppState>,
    reader: Reader,
    Params(q): Params<PageQuery>,
    Params(f): Params<OrgQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = q.checked()?;
    let filter = read::OrgFilter {
        q: f.q.as_deref(),
        status: f.status.map(OrgStatus::as_str),
    };
    let (mut items, total) = read::organizations(&state.pool, &filter, limit, offset).await?;
    if reader.anonymous {
        items.iter_mut().for_each(read::public_view);
    }
    Ok(envelope(
        q.page(items, total),
        "Organizations retrieved successfully",
    ))
}

#[utoipa::path(get, path = "/api/v1/controller/organizations/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "One organization"), (status = 404, description = "Unknown id")))]
pub async fn organization(
    State(state): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> Result<Json<Value>, ApiError> {
    let mut org = read::organization(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("organization", &id))?;
    if reader.anonymous {
        read::public_view(&mut org);
    }
    Ok(envelope(org, "Organization retrieved successfully"))
}

/// Body of `POST organizations` and `POST orchestrator-instances` (the spec's shape).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewOrganization {
    pub org_id: String,
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default = "empty_object")]
    pub features: Value,
    #[serde(default = "empty_object")]
    pub metadata: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

impl NewOrganization {
    fn canonical_features(&self) -> Result<Value, ApiError> {
        match &self.features {
            Value::Object(map) => Ok(Value::Object(canonical_features(map.clone())?)),
            _ => Err(ApiError::field("body", "features", "must be an object")),
        }
    }

    fn id(&self) -> Result<OrchestratorId, ApiError> {
        OrchestratorId::parse(self.org_id.clone()).map_err(|e| {
            ApiError::field(
                "body",
                "org_id",
                format!("{e} (allowed: ^[A-Za-z0-9_-]{{1,128}}$)"),
            )
        })
    }
}

#[utoipa::path(post, path = "/api/v1/controller/organizations", tag = "controller", request_body = NewOrganization,
    security(("bearer" = [])), responses((status = 200, description = "Created"), (status = 409, description = "Exists"),
    (status = 422, description = "Invalid body"), (status = 503, description = "Persister unavailable")))]
pub async fn create_organization(
    State(state): State<AppState>,
    admin: Admin,
    Body(b): Body<NewOrganization>,
) -> Result<Json<Value>, ApiError> {
    let id = b.id()?;
    let features = b.canonical_features()?;
    let command = Command::CreateOrganization {
        organization_id: id.clone(),
        name: b.name,
        location: b.location,
        features,
        metadata: b.metadata,
    };
    let audit = audit::by(&admin, "organization_create", id.as_str(), json!({}));
    let row = state.persister.run_audited(&command, audit).await?;
    state.live.set_deregistered(&id, false);
    state
        .feed
        .record(Kind::OrganizationCreated, json!({"organization_id": id}));
    Ok(envelope(
        row,
        format!("Organization {id} created successfully"),
    ))
}

/// Body of `PATCH organizations/{id}`: the fields to change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationChange {
    pub name: Option<String>,
    pub location: Option<String>,
}

/// A name or location an administrator types: 1–255 characters, no control characters.
fn label(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim().to_owned();
    if value.is_empty() || value.chars().count() > 255 || value.chars().any(char::is_control) {
        return Err(ApiError::field(
            "body",
            field,
            "must be 1-255 characters without control characters",
        ));
    }
    Ok(Some(value))
}

#[utoipa::path(patch, path = "/api/v1/controller/organizations/{id}", tag = "controller", request_body = OrganizationChange,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Updated; handshakes no longer overwrite the fields given"), (status = 404, description = "Unknown id"),
    (status = 422, description = "Invalid body")))]
pub async fn update_organization(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(b): Body<OrganizationChange>,
) -> Result<Json<Value>, ApiError> {
    let (name, location) = (label("name", b.name)?, label("location", b.location)?);
    if name.is_none() && location.is_none() {
        return Err(ApiError::field(
            "body",
            "name",
            "give a name, a location, or both",
        ));
    }
    let command = Command::UpdateOrganization {
        organization_id: id.clone(),
        name: name.clone(),
        location: location.clone(),
    };
    let detail = json!({"name": name, "location": location});
    let audit = audit::by(&admin, "organization_update", id.as_str(), detail);
    let row = state.persister.run_audited(&command, audit).await?;
    state
        .feed
        .record(Kind::OrganizationUpdated, json!({"organization_id": id}));
    let org = read::organization(&state.pool, id.as_str())
        .await?
        .unwrap_or(row);
    Ok(envelope(org, format!("Organization {id} updated")))
}

#[utoipa::path(delete, path = "/api/v1/controller/organizations/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Deleted"), (status = 404, description = "Unknown id"),
    (status = 409, description = "It still has orchestrators")))]
pub async fn delete_organization(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<Value>, ApiError> {
    let command = Command::DeleteOrganization {
        organization_id: id.clone(),
    };
    let audit = audit::by(&admin, "organization_delete", id.as_str(), json!({}));
    let data = state.persister.run_audited(&command, audit).await?;
    state.live.set_deregistered(&id, true);
    state
        .feed
        .record(Kind::OrganizationDeleted, json!({"organization_id": id}));
    Ok(envelope(
        data,
        format!("Organization {id} deleted successfully"),
    ))
}

#[utoipa::path(put, path = "/api/v1/controller/organizations/{id}/features", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "Merged features; pushed to the orchestrator if connected"), (status = 404, description = "Unknown id")))]
pub async fn put_features(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    let features = canonical_features(features_of(body)?)?;
    let keys: Vec<String> = features.keys().cloned().collect();
    let command = Command::MergeFeatures {
        organization_id: id.clone(),
        features,
    };
    let audit = audit::by(&admin, "features", id.as_str(), json!({"keys": keys}))
        .with_answer(&["revision"]);
    let merged = state.persister.run_audited(&command, audit).await?;
    state
        .feed
        .record(Kind::Features, json!({"organization_id": id}));
    let pushed = match state.live.connection(&id) {
        Some(conn) => push_config(&state, &id, &conn).await,
        None => false,
    };
    Ok(envelope(
        json!({"organization_id": id, "features": merged["features"], "revision": merged["revision"], "pushed": pushed}),
        format!("Features updated for {id}"),
    ))
}

/// Accepts `{"features": {...}}` or the features object itself.
fn features_of(body: Value) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::field("body", "features", "must be an object"));
    };
    if map.len() == 1 {
        if let Some(Value::Object(inner)) = map.remove("features") {
            return Ok(inner);
        }
    }
    Ok(map)
}

/// One shape for features, the spec's `{"cache": {"enabled": true}}`: a bare
/// `true`/`false` (what earlier dashboards wrote) becomes `{"enabled": …}`; an
/// object is kept as given (a feature may carry settings beside `enabled`).
pub fn canonical_features(features: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    features
        .into_iter()
        .map(|(key, value)| match value {
            Value::Bool(on) => Ok((key, json!({ "enabled": on }))),
            Value::Object(ref fields) if fields.get("enabled").is_none_or(Value::is_boolean) => {
                Ok((key, value))
            }
            _ => Err(ApiError::field(
                "body",
                "features",
                format!(
                    r#"feature "{key}" must be true/false or an object like {{"enabled": true}}"#
                ),
            )),
        })
        .collect()
}

/// Sends the stored configuration to a connected orchestrator; false if it could not.
pub async fn push_config(state: &AppState, id: &OrchestratorId, conn: &Connection) -> bool {
    match state.pushes.config(id, conn, false).await {
        Ok(true) => {
            tracing::info!(orchestrator_id = %id, "Sent message to orchestrator {id} (type: provision_config)");
            state
                .feed
                .record(Kind::Provision, json!({"orchestrator_id": id}));
            true
        }
        // The connection has this revision or a newer one already.
        Ok(false) => true,
        Err(err) => {
            tracing::warn!(orchestrator_id = %id, %err, "provision_config not pushed");
            false
        }
    }
}

#[utoipa::path(get, path = "/api/v1/controller/orchestrators", tag = "controller", params(PageQuery, InstanceQuery),
    security(("bearer" = [])), responses((status = 200, description = "A page of orchestrator instances"), (status = 422, description = "Invalid page")))]
pub async fn orchestrators(
    State(state): State<AppState>,
    reader: Reader,
    Params(q): Params<PageQuery>,
    Params(f): Params<InstanceQuery>,
) -> Result<Json<Value>, ApiError> {
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
) -> Result<Json<Value>, ApiError> {
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
pub async fn live(State(state): State<AppState>, reader: Reader) -> Result<Json<Value>, ApiError> {
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
) -> Result<Json<Value>, ApiError> {
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

#[utoipa::path(post, path = "/api/v1/controller/orchestrator-instances", tag = "controller", request_body = NewOrganization,
    security(("bearer" = [])), responses((status = 200, description = "Created, inactive"), (status = 409, description = "Exists"),
    (status = 422, description = "Invalid body"), (status = 503, description = "Persister unavailable")))]
pub async fn create_instance(
    State(state): State<AppState>,
    admin: Admin,
    Body(b): Body<NewOrganization>,
) -> Result<Json<Value>, ApiError> {
    let id = b.id()?;
    let command = Command::CreateInstance {
        orchestrator_id: id.clone(),
        name: b.name,
        location: b.location,
        features: b.features,
        metadata: b.metadata,
    };
    let audit = audit::by(&admin, "instance_create", id.as_str(), json!({}));
    let mut row = state.persister.run_audited(&command, audit).await?;
    state.live.set_deregistered(&id, false);
    state
        .feed
        .record(Kind::InstanceCreated, json!({"orchestrator_id": id}));
    if let Value::Object(map) = &mut row {
        for hidden in [
            "database_url",
            "redis_url",
            "environment_variables",
            "conn_id",
        ] {
            map.remove(hidden);
        }
    }
    Ok(envelope(
        row,
        format!("Orchestrator instance {id} created successfully"),
    ))
}

#[utoipa::path(delete, path = "/api/v1/controller/orchestrator-instances/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Deleted"), (status = 404, description = "Unknown id")))]
pub async fn delete_instance(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<Value>, ApiError> {
    let command = Command::DeleteInstance {
        orchestrator_id: id.clone(),
    };
    let audit = audit::by(&admin, "instance_delete", id.as_str(), json!({}));
    let data = state.persister.run_audited(&command, audit).await?;
    state
        .feed
        .record(Kind::Deregistered, json!({"orchestrator_id": id}));
    super::internal::expel(&state, &id).await;
    tracing::info!(orchestrator_id = %id, "Orchestrator instance {id} deleted");
    Ok(Json(
        json!({"success": true, "data": data, "message": format!("Orchestrator instance {id} deleted successfully"), "timestamp": Utc::now()}),
    ))
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

impl LogQuery {
    /// Newest first; `limit` up to the buffer's size.
    pub fn run(&self) -> Result<Value, ApiError> {
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
        Ok(json!({"total": items.len(), "items": items}))
    }
}

#[utoipa::path(get, path = "/api/v1/controller/logs", tag = "controller", params(LogQuery), security(("bearer" = [])),
    responses((status = 200, description = "Recent log records of core, newest first")))]
pub async fn logs(_: Admin, Params(q): Params<LogQuery>) -> Result<Json<Value>, ApiError> {
    Ok(envelope(q.run()?, "Logs retrieved successfully"))
}

pub fn not_found(what: &str, id: &OrchestratorId) -> ApiError {
    ApiError::NotFound(format!("{what} {id} not found"))
}
