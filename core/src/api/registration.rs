//! Instances coming and going: an admin creates or deletes an instance
//! (`/api/v1/controller/orchestrator-instances`), registers or deregisters an
//! orchestrator (`/api/v1/internal/orchestrators/...`). A deregistered one is
//! expelled: forgotten by core, its socket closed, its reconnects refused.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use moolai_proto::commands::{Command, Registration};
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::audit;
use crate::api::controller::{envelope, Envelope};
use crate::api::error::ApiError;
use crate::api::extract::Admin;
use crate::api::extract::{Body, Id};
use crate::api::organizations::NewOrganization;
use crate::api::AppState;
use crate::fleet::activity::Kind;
use crate::fleet::sessions::{CLOSE_DEREGISTERED, DEREGISTERED_REASON};
use crate::store::read::InstanceRow;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_instance))
        .routes(routes!(delete_instance))
        .routes(routes!(register))
        .routes(routes!(deregister))
}

#[utoipa::path(post, operation_id = "create_orchestrator_instance", path = "/api/v1/controller/orchestrator-instances", tag = "controller", request_body = NewOrganization,
    security(("bearer" = [])), responses((status = 200, description = "Created, inactive", body = Envelope<InstanceRow>), (status = 409, description = "Exists"),
    (status = 422, description = "Invalid body"), (status = 503, description = "Persister unavailable")))]
pub async fn create_instance(
    State(state): State<AppState>,
    admin: Admin,
    Body(b): Body<NewOrganization>,
) -> Result<Json<Envelope<InstanceRow>>, ApiError> {
    let id = b.id()?;
    let command = Command::CreateInstance {
        orchestrator_id: id.clone(),
        name: b.name,
        location: b.location,
        features: b.features,
        metadata: b.metadata,
    };
    let audit = audit::by(&admin, "instance_create", id.as_str(), json!({}));
    let row = state.persister.run_audited(&command, audit).await?;
    state.changes.registered(&id);
    state.changes.configs_changed(vec![id.clone()]).await;
    state
        .feed
        .record(Kind::InstanceCreated, json!({"orchestrator_id": id}));
    // The persister answers every column; InstanceRow keeps the public ones.
    let row = serde_json::from_value(row)
        .map_err(|e| ApiError::internal("unexpected instance row", e))?;
    Ok(envelope(
        row,
        format!("Orchestrator instance {id} created successfully"),
    ))
}

#[utoipa::path(delete, operation_id = "delete_orchestrator_instance", path = "/api/v1/controller/orchestrator-instances/{id}", tag = "controller", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Deleted", body = Envelope<InstanceGone>), (status = 404, description = "Unknown id")))]
pub async fn delete_instance(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<Envelope<InstanceGone>>, ApiError> {
    let command = Command::DeleteInstance {
        orchestrator_id: id.clone(),
    };
    let audit = audit::by(&admin, "instance_delete", id.as_str(), json!({}));
    let data = state.persister.run_audited(&command, audit).await?;
    state.changes.configs_changed(vec![id.clone()]).await;
    state
        .feed
        .record(Kind::Deregistered, json!({"orchestrator_id": id}));
    expel(&state, &id).await;
    tracing::info!(orchestrator_id = %id, "Orchestrator instance {id} deleted");
    let data = serde_json::from_value(data)
        .map_err(|e| ApiError::internal("unexpected deletion answer", e))?;
    Ok(envelope(
        data,
        format!("Orchestrator instance {id} deleted successfully"),
    ))
}

/// An instance deleted, and whether its organization went with it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstanceGone {
    pub orchestrator_id: String,
    pub organization_id: String,
    /// It had no other instance, so it was deleted too.
    pub organization_deleted: bool,
}

/// Body of `POST orchestrators/register`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    pub organization_id: String,
    pub orchestrator_id: Option<String>,
    pub name: Option<String>,
    pub location: Option<String>,
    pub internal_url: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub container_id: Option<String>,
    pub image_name: Option<String>,
    #[serde(default)]
    pub environment_variables: Option<Map<String, Value>>,
    #[serde(default)]
    pub features: Option<Map<String, Value>>,
    /// `monitoring.enabled` as the first version's dialog sent it.
    #[serde(default)]
    pub monitoring: Option<Value>,
}

fn body_id(field: &str, raw: &str) -> Result<OrchestratorId, ApiError> {
    OrchestratorId::parse(raw).map_err(|e| {
        ApiError::field(
            "body",
            field,
            format!("{e} (allowed: ^[A-Za-z0-9_-]{{1,128}}$)"),
        )
    })
}

/// An orchestrator registered (or its registration updated).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub success: bool,
    pub message: String,
    /// A new instance (else an existing one was updated).
    pub created: bool,
    pub connected: bool,
    /// The instance's `status` as stored.
    #[schema(value_type = String)]
    pub status: Value,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    #[schema(value_type = String)]
    pub organization_id: OrchestratorId,
    pub timestamp: DateTime<Utc>,
    /// Its token, shown only now: issued when this id had none yet (a new
    /// instance, or one made without a token). Null for an id that already has
    /// one — registering again keeps that token working; `POST …/{id}/token`
    /// issues a new one — and when orchestrator tokens are off.
    #[schema(required = true)]
    pub orchestrator_token: Option<String>,
}

/// An orchestrator deregistered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deregistered {
    pub success: bool,
    pub message: String,
    /// What happens when it reconnects.
    pub reconnect: String,
}

#[utoipa::path(post, operation_id = "register_orchestrator", path = "/api/v1/internal/orchestrators/register", tag = "internal", request_body = RegisterBody,
    security(("bearer" = [])), responses((status = 200, description = "Registered, inactive until it connects. For an existing id: its registration updated, a deregistration lifted, its token unchanged (`orchestrator_token` null; `POST …/{id}/token` issues a new one)", body = Registered),
    (status = 422, description = "Invalid body"), (status = 503, description = "Persister unavailable")))]
pub async fn register(
    State(state): State<AppState>,
    admin: Admin,
    Body(b): Body<RegisterBody>,
) -> Result<Json<Registered>, ApiError> {
    let organization_id = body_id("organization_id", &b.organization_id)?;
    let orchestrator_id = match &b.orchestrator_id {
        Some(raw) => body_id("orchestrator_id", raw)?,
        None => organization_id.clone(),
    };
    let monitoring_enabled = b
        .monitoring
        .as_ref()
        .and_then(|m| m.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let registration = Registration {
        name: b.name.clone(),
        orchestrator_id: orchestrator_id.clone(),
        organization_id: organization_id.clone(),
        location: b.location,
        internal_url: b.internal_url,
        database_url: b.database_url,
        redis_url: b.redis_url,
        container_id: b.container_id,
        image_name: b.image_name,
        environment_variables: Value::Object(b.environment_variables.unwrap_or_default()),
        features: Value::Object(crate::api::organizations::canonical_features(
            b.features.unwrap_or_default(),
        )?),
        monitoring_enabled,
    };
    let detail = json!({"organization_id": organization_id});
    let audit = audit::by(&admin, "register", orchestrator_id.as_str(), detail);
    let done = state
        .persister
        .run_audited(&Command::Register(registration), audit)
        .await?;
    state.changes.registered(&orchestrator_id);
    let mut changed = vec![organization_id.clone(), orchestrator_id.clone()];
    changed.dedup(); // one id, usually: an orchestrator is its own organization
    state.changes.configs_changed(changed).await;
    state.feed.record(
        Kind::Registered,
        json!({"orchestrator_id": orchestrator_id}),
    );
    // The spec's register is an idempotent upsert: running it again must not
    // void the token the orchestrator is using (issue 32). Only an id that never
    // had a token gets one; a new token is the explicit `POST …/{id}/token`.
    let had_token = done["token_generation"].as_i64().unwrap_or(0) > 0;
    let orchestrator_token = if had_token {
        None
    } else {
        crate::api::tokens::issue(&state, &orchestrator_id, None).await?
    };
    let created = done["created"] == true;
    let connected = state.live.connection(&orchestrator_id).is_some();
    // The spec's words for a new instance; an existing one says what it is now.
    let mut message = match (created, connected) {
        (true, _) => "Orchestrator instance registered (inactive until connection)",
        (false, true) => "Orchestrator instance updated (connected)",
        (false, false) => "Orchestrator instance updated (not connected)",
    }
    .to_owned();
    if had_token && state.tokens.is_some() {
        message.push_str(
            "; its token is unchanged and keeps working (POST /api/v1/internal/orchestrators/{id}/token issues a new one)",
        );
    }
    Ok(Json(Registered {
        success: true,
        message,
        created,
        connected,
        status: done["status"].clone(),
        orchestrator_id,
        organization_id,
        timestamp: Utc::now(),
        orchestrator_token,
    }))
}

#[utoipa::path(delete, operation_id = "deregister_orchestrator", path = "/api/v1/internal/orchestrators/{id}/deregister", tag = "internal",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Deregistered; its socket is closed", body = Deregistered), (status = 404, description = "Unknown id")))]
pub async fn deregister(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<Deregistered>, ApiError> {
    let command = Command::Deregister {
        orchestrator_id: id.clone(),
    };
    let audit = audit::by(&admin, "deregister", id.as_str(), json!({}));
    state.persister.run_audited(&command, audit).await?;
    state.changes.configs_changed(vec![id.clone()]).await;
    state
        .feed
        .record(Kind::Deregistered, json!({"orchestrator_id": id}));
    expel(&state, &id).await;
    Ok(Json(Deregistered {
        success: true,
        message: format!("Orchestrator {id} deregistered successfully"),
        reconnect: format!(
            "refused (close {CLOSE_DEREGISTERED} deregistered) until it is registered again"
        ),
    }))
}

/// After a deregistration: core forgets `id`, closes its socket, and refuses its
/// handshakes until it is registered again.
pub async fn expel(state: &AppState, id: &OrchestratorId) {
    let conn = state.live.connection(id);
    state.changes.deregistered(id);
    // Core refuses its handshakes anyway; this refuses them at the upgrade.
    if let Err(err) = crate::api::tokens::void_published(state, id).await {
        tracing::warn!(orchestrator_id = %id, %err, "deregistered orchestrator's tokens not voided at the edges");
    }
    if let Some(conn) = conn {
        if let Err(err) = state
            .routes
            .close(id, &conn, CLOSE_DEREGISTERED, DEREGISTERED_REASON)
            .await
        {
            tracing::warn!(orchestrator_id = %id, %err, "could not close the deregistered orchestrator's socket");
        }
    }
}
