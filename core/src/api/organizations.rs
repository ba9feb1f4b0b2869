//! `/api/v1/controller/organizations*`: organizations, their names and places,
//! and their features (merged, stored, and pushed to the connected instance).
//! Answers use the controller envelope.

use axum::extract::State;
use axum::Json;
use moolai_proto::commands::Command;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::audit;
use crate::api::controller::{envelope, not_found, Envelope, Page, PageQuery};
use crate::api::error::ApiError;
use crate::api::extract::{Admin, Reader};
use crate::api::extract::{Body, Id, Params};
use crate::api::AppState;
use crate::fleet::activity::Kind;
use crate::push::now;
use crate::store::read;
use crate::store::read::{FleetStatus, OrganizationRow};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(organizations, create_organization))
        .routes(routes!(
            organization,
            update_organization,
            delete_organization
        ))
        .routes(routes!(put_features))
}

/// Search and status filter of the organization list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgQuery {
    /// Substring of id, name or location, any case.
    pub q: Option<String>,
    #[param(value_type = Option<FleetStatus>)]
    pub status: Option<FleetStatus>,
}

#[utoipa::path(get, operation_id = "list_organizations", path = "/api/v1/controller/organizations", tag = "controller", params(PageQuery, OrgQuery),
    security(("bearer" = [])), responses((status = 200, description = "A page of organizations (a reader without a token gets only their public fields)", body = Envelope<Page<OrganizationRow>>), (status = 422, description = "Invalid page")))]
pub async fn organizations(
    State(state): State<AppState>,
    reader: Reader,
    Params(q): Params<PageQuery>,
    Params(f): Params<OrgQuery>,
) -> Result<Json<Envelope<Page<Value>>>, ApiError> {
    let (limit, offset) = q.checked()?;
    let filter = read::OrgFilter {
        q: f.q.as_deref(),
        status: f.status.map(FleetStatus::as_str),
    };
    let (rows, total) = read::organizations(&state.pool, &filter, limit, offset).await?;
    let items = rows
        .iter()
        .map(|row| read::shown(row, reader.anonymous))
        .collect();
    Ok(envelope(
        q.page(items, total),
        "Organizations retrieved successfully",
    ))
}

#[utoipa::path(get, operation_id = "get_organization", path = "/api/v1/controller/organizations/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "One organization (a reader without a token gets only its public fields)", body = Envelope<OrganizationRow>), (status = 404, description = "Unknown id")))]
pub async fn organization(
    State(state): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> Result<Json<Envelope<Value>>, ApiError> {
    let org = read::organization(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("organization", &id))?;
    let org = read::shown(&org, reader.anonymous);
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

    pub(super) fn id(&self) -> Result<OrchestratorId, ApiError> {
        OrchestratorId::parse(self.org_id.clone()).map_err(|e| {
            ApiError::field(
                "body",
                "org_id",
                format!("{e} (allowed: ^[A-Za-z0-9_-]{{1,128}}$)"),
            )
        })
    }
}

#[utoipa::path(post, operation_id = "create_organization", path = "/api/v1/controller/organizations", tag = "controller", request_body = NewOrganization,
    security(("bearer" = [])), responses((status = 200, description = "Created", body = Envelope<OrganizationRow>), (status = 409, description = "Exists"),
    (status = 422, description = "Invalid body"), (status = 503, description = "Persister unavailable")))]
pub async fn create_organization(
    State(state): State<AppState>,
    admin: Admin,
    Body(b): Body<NewOrganization>,
) -> Result<Json<Envelope<OrganizationRow>>, ApiError> {
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
    state.changes.registered(&id);
    state.changes.configs_changed(vec![id.clone()]).await;
    state
        .feed
        .record(Kind::OrganizationCreated, json!({"organization_id": id}));
    let row = serde_json::from_value(row)
        .map_err(|e| ApiError::internal("unexpected organization row", e))?;
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

#[utoipa::path(patch, operation_id = "update_organization", path = "/api/v1/controller/organizations/{id}", tag = "controller", request_body = OrganizationChange,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Updated; handshakes no longer overwrite the fields given", body = Envelope<OrganizationRow>), (status = 404, description = "Unknown id"),
    (status = 422, description = "Invalid body")))]
pub async fn update_organization(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(b): Body<OrganizationChange>,
) -> Result<Json<Envelope<OrganizationRow>>, ApiError> {
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
    state.changes.configs_changed(vec![id.clone()]).await;
    state
        .feed
        .record(Kind::OrganizationUpdated, json!({"organization_id": id}));
    // Deleted meanwhile: the row as the update left it.
    let org = match read::organization(&state.pool, id.as_str()).await? {
        Some(org) => org,
        None => serde_json::from_value(row)
            .map_err(|e| ApiError::internal("unexpected organization row", e))?,
    };
    Ok(envelope(org, format!("Organization {id} updated")))
}

#[utoipa::path(delete, operation_id = "delete_organization", path = "/api/v1/controller/organizations/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Deleted", body = Envelope<OrganizationGone>), (status = 404, description = "Unknown id"),
    (status = 409, description = "It still has orchestrators")))]
pub async fn delete_organization(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<Envelope<OrganizationGone>>, ApiError> {
    let command = Command::DeleteOrganization {
        organization_id: id.clone(),
    };
    let audit = audit::by(&admin, "organization_delete", id.as_str(), json!({}));
    state.persister.run_audited(&command, audit).await?;
    state.changes.deregistered(&id);
    state.changes.configs_changed(vec![id.clone()]).await;
    state
        .feed
        .record(Kind::OrganizationDeleted, json!({"organization_id": id}));
    let data = OrganizationGone {
        organization_id: id.clone(),
    };
    Ok(envelope(
        data,
        format!("Organization {id} deleted successfully"),
    ))
}

/// An organization deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationGone {
    #[schema(value_type = String)]
    pub organization_id: OrchestratorId,
}

/// Features merged into an organization's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeaturesMerged {
    #[schema(value_type = String)]
    pub organization_id: OrchestratorId,
    /// All of its features now.
    pub features: Value,
    /// The configuration revision they were stored with.
    #[schema(value_type = i64)]
    pub revision: Value,
    /// Pushed now to its connected orchestrator.
    pub pushed: bool,
}

#[utoipa::path(put, operation_id = "set_organization_features", path = "/api/v1/controller/organizations/{id}/features", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Map<String, Value>, description = "`{\"features\": {...}}`, or the features object itself"),
    responses((status = 200, description = "Merged features; pushed to the orchestrator if connected", body = Envelope<FeaturesMerged>), (status = 404, description = "Unknown id")))]
pub async fn put_features(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(body): Body<Value>,
) -> Result<Json<Envelope<FeaturesMerged>>, ApiError> {
    let features = canonical_features(features_of(body)?)?;
    let keys: Vec<String> = features.keys().cloned().collect();
    let command = Command::MergeFeatures {
        organization_id: id.clone(),
        features,
        by: Some(admin.username.clone()),
    };
    let audit = audit::by(&admin, "features", id.as_str(), json!({"keys": keys}))
        .with_answer(&["revision"]);
    let merged = state.persister.run_audited(&command, audit).await?;
    state.changes.configs_changed(vec![id.clone()]).await;
    state
        .feed
        .record(Kind::Features, json!({"organization_id": id}));
    let pushed = match state.live.connection(&id) {
        Some(conn) => now::config(&state.now(), &id, &conn).await,
        None => false,
    };
    let data = FeaturesMerged {
        features: merged["features"].clone(),
        revision: merged["revision"].clone(),
        organization_id: id.clone(),
        pushed,
    };
    Ok(envelope(data, format!("Features updated for {id}")))
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
