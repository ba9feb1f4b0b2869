//! `/api/v1/internal/*`: administration — registration, independence, messages,
//! deregistration, direct sends, logs. Flat answers, as the spec shows them.

use axum::extract::{Path, State};
use axum::Json;
use chrono::Utc;
use moolai_proto::commands::{Command, Registration};
use moolai_proto::events::new_message_id;
use moolai_proto::frames::MessageType;
use moolai_proto::OrchestratorId;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::audit;
use super::auth::Admin;
use super::controller::{not_found, LogQuery};
use super::error::ApiError;
use super::extract::{Body, Id, Params};
use super::{read, AppState};
use crate::activity::Kind;
use crate::live::Rule;
use crate::sessions::{CLOSE_DEREGISTERED, DEREGISTERED_REASON};

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

#[utoipa::path(post, path = "/api/v1/internal/orchestrators/register", tag = "internal", request_body = RegisterBody,
    security(("bearer" = [])), responses((status = 200, description = "Registered, inactive until it connects"),
    (status = 422, description = "Invalid body"), (status = 503, description = "Persister unavailable")))]
pub async fn register(
    State(state): State<AppState>,
    admin: Admin,
    Body(b): Body<RegisterBody>,
) -> Result<Json<Value>, ApiError> {
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
        features: Value::Object(super::controller::canonical_features(
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
    state.live.set_deregistered(&orchestrator_id, false);
    state.feed.record(
        Kind::Registered,
        json!({"orchestrator_id": orchestrator_id}),
    );
    let orchestrator_token = super::tokens::issue(&state, &orchestrator_id, None).await?;
    let created = done["created"] == true;
    let connected = state.live.connection(&orchestrator_id).is_some();
    // The spec's words for a new instance; an existing one says what it is now.
    let message = match (created, connected) {
        (true, _) => "Orchestrator instance registered (inactive until connection)",
        (false, true) => "Orchestrator instance updated (connected)",
        (false, false) => "Orchestrator instance updated (not connected)",
    };
    Ok(Json(json!({
        "success": true, "message": message, "created": created, "connected": connected,
        "status": done["status"], "orchestrator_id": orchestrator_id, "organization_id": organization_id,
        "timestamp": Utc::now(), "orchestrator_token": orchestrator_token,
    })))
}

/// Body of `PUT independence`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IndependenceBody {
    pub is_independent: bool,
    /// Omitted: kept as stored (the first version reset it to false).
    pub privacy_mode: Option<bool>,
}

#[utoipa::path(put, path = "/api/v1/internal/orchestrators/{id}/independence", tag = "internal", request_body = IndependenceBody,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Updated; heartbeats are ignored from now on"), (status = 404, description = "Unknown id")))]
pub async fn put_independence(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(b): Body<IndependenceBody>,
) -> Result<Json<Value>, ApiError> {
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
    let rule = state.live.set_rule(id.clone(), rule);
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
    Ok(Json(json!({
        "success": true, "message": "Independence mode updated successfully", "orchestrator_id": id,
        "is_independent": rule.is_independent, "privacy_mode": rule.privacy_mode, "status": row["status"],
    })))
}

#[utoipa::path(get, path = "/api/v1/internal/orchestrators/{id}/independence", tag = "internal",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Independence state"), (status = 404, description = "Unknown id")))]
pub async fn get_independence(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Json<Value>, ApiError> {
    let row = read::instance(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("orchestrator", &id))?;
    Ok(Json(json!({
        "success": true, "orchestrator_id": id, "is_independent": row["is_independent"],
        "privacy_mode": row["privacy_mode"], "status": row["status"], "last_seen": row["last_seen"],
    })))
}

/// Body of `POST orchestrators/{id}/messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewMessage {
    #[schema(value_type = String, example = "recommendation")]
    pub message_type: MessageType,
    pub content: String,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

#[utoipa::path(post, path = "/api/v1/internal/orchestrators/{id}/messages", tag = "internal", request_body = NewMessage,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Created, pending"), (status = 404, description = "Unknown orchestrator"), (status = 422, description = "Invalid body")))]
pub async fn create_message(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(b): Body<NewMessage>,
) -> Result<Json<Value>, ApiError> {
    let message_id = new_message_id(&id, Utc::now());
    let command = Command::CreateMessage {
        message_id: message_id.clone(),
        orchestrator_id: id.clone(),
        message_type: b.message_type,
        content: b.content,
        metadata: Value::Object(b.metadata.unwrap_or_default()),
    };
    let detail = json!({"message_id": message_id});
    let audit = audit::by(&admin, "message_create", id.as_str(), detail);
    let row = state.persister.run_audited(&command, audit).await?;
    state.feed.record(
        Kind::MessageCreated,
        json!({"orchestrator_id": id, "message_id": message_id}),
    );
    let held = state.live.rule(&id).is_independent;
    let delivered = !held && deliver_message(&state, &id, &row).await;
    Ok(Json(json!({
        "success": true, "message": "Message created successfully", "message_id": message_id, "delivered": delivered,
        "held": held,
        "orchestrator_id": id, "message_type": b.message_type.as_str(), "status": "pending",
    })))
}

/// Filters of the message lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MessageQuery {
    #[param(value_type = Option<String>)]
    pub message_type: Option<MessageType>,
    #[param(value_type = Option<String>)]
    pub status: Option<MessageStatus>,
    #[serde(default = "default_message_limit")]
    pub limit: i64,
}

fn default_message_limit() -> i64 {
    100
}

/// A message's state.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Accepted,
    Dismissed,
}

impl MessageStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Dismissed => "dismissed",
        }
    }
}

impl MessageQuery {
    async fn run(
        &self,
        state: &AppState,
        orchestrator: Option<&str>,
    ) -> Result<(Vec<Value>, i64), ApiError> {
        if !(1..=1000).contains(&self.limit) {
            return Err(ApiError::field(
                "query",
                "limit",
                "must be between 1 and 1000",
            ));
        }
        let kind = self.message_type.map(MessageType::as_str);
        let status = self.status.map(MessageStatus::as_str);
        Ok(read::messages(&state.pool, orchestrator, kind, status, self.limit).await?)
    }
}

#[utoipa::path(get, path = "/api/v1/internal/orchestrators/{id}/messages", tag = "internal",
    params(("id" = String, Path), MessageQuery), security(("bearer" = [])),
    responses((status = 200, description = "Messages, newest first"), (status = 404, description = "Unknown orchestrator")))]
pub async fn orchestrator_messages(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
    Params(q): Params<MessageQuery>,
) -> Result<Json<Value>, ApiError> {
    read::instance(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("orchestrator", &id))?;
    let (messages, held) = q.run(&state, Some(id.as_str())).await?;
    Ok(Json(json!({
        "success": true, "message": "Messages retrieved successfully", "orchestrator_id": id,
        "total_count": messages.len(), "messages": messages, "held": held,
        "independent": state.live.rule(&id).is_independent,
    })))
}

#[utoipa::path(get, path = "/api/v1/internal/messages", tag = "internal", params(MessageQuery), security(("bearer" = [])),
    responses((status = 200, description = "Messages of all orchestrators, newest first"), (status = 422, description = "Invalid filter")))]
pub async fn all_messages(
    State(state): State<AppState>,
    _: Admin,
    Params(q): Params<MessageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (messages, held) = q.run(&state, None).await?;
    Ok(Json(json!({
        "success": true, "message": "All messages retrieved successfully",
        "total_count": messages.len(), "messages": messages, "held": held,
    })))
}

/// Body of `PUT messages/{id}/status`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusBody {
    pub status: MessageStatus,
}

#[utoipa::path(put, path = "/api/v1/internal/messages/{id}/status", tag = "internal", request_body = StatusBody,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Updated"), (status = 404, description = "Unknown message"), (status = 422, description = "Unknown status")))]
pub async fn set_message_status(
    State(state): State<AppState>,
    admin: Admin,
    Path(message_id): Path<String>,
    Body(b): Body<StatusBody>,
) -> Result<Json<Value>, ApiError> {
    let status = b.status.as_str();
    match read::message_held(&state.pool, &message_id).await? {
        None => {
            return Err(ApiError::NotFound(format!(
                "message {message_id} not found"
            )))
        }
        Some(true) => {
            return Err(ApiError::Conflict(format!(
                "message {message_id} is held: its orchestrator is independent; \
                 it can be answered when independence ends"
            )))
        }
        Some(false) => {}
    }
    let command = Command::SetMessageStatus {
        message_id: message_id.clone(),
        status: status.to_owned(),
    };
    let audit = audit::by(
        &admin,
        "message_status",
        &message_id,
        json!({"status": status}),
    );
    let row = state.persister.run_audited(&command, audit).await?;
    state.feed.record(Kind::MessageStatus, json!({"orchestrator_id": row["orchestrator_id"], "message_id": message_id, "status": status}));
    push_status(&state, &row).await;
    Ok(Json(json!({
        "success": true, "message": format!("Message {status} successfully"), "message_id": message_id,
        "status": status, "orchestrator_id": row["orchestrator_id"],
    })))
}

#[utoipa::path(delete, path = "/api/v1/internal/orchestrators/{id}/deregister", tag = "internal",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Deregistered; its socket is closed"), (status = 404, description = "Unknown id")))]
pub async fn deregister(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<Value>, ApiError> {
    let command = Command::Deregister {
        orchestrator_id: id.clone(),
    };
    let audit = audit::by(&admin, "deregister", id.as_str(), json!({}));
    state.persister.run_audited(&command, audit).await?;
    state
        .feed
        .record(Kind::Deregistered, json!({"orchestrator_id": id}));
    expel(&state, &id).await;
    Ok(Json(json!({
        "success": true, "message": format!("Orchestrator {id} deregistered successfully"),
        "reconnect": format!("refused (close {CLOSE_DEREGISTERED} deregistered) until it is registered again"),
    })))
}

/// After a deregistration: core forgets `id`, closes its socket, and refuses its
/// handshakes until it is registered again.
pub async fn expel(state: &AppState, id: &OrchestratorId) {
    state.live.set_deregistered(id, true);
    state.pushes.forget(id);
    if let Some(conn) = state.live.forget(id) {
        if let Err(err) = state
            .routes
            .close(id, &conn, CLOSE_DEREGISTERED, DEREGISTERED_REASON)
            .await
        {
            tracing::warn!(orchestrator_id = %id, %err, "could not close the deregistered orchestrator's socket");
        }
    }
}

#[utoipa::path(post, path = "/api/v1/internal/orchestrators/{id}/send", tag = "internal", request_body = Object,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Sent"), (status = 404, description = "Not connected"), (status = 422, description = "No `type`")))]
pub async fn send(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(frame): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    let kind = frame.get("type").and_then(Value::as_str).map(str::to_owned);
    let Some(kind) = kind else {
        return Err(ApiError::field(
            "body",
            "type",
            "a frame needs a string `type`",
        ));
    };
    let conn = state
        .live
        .connection(&id)
        .ok_or_else(|| ApiError::NotFound(format!("orchestrator {id} is not connected")))?;
    state
        .routes
        .deliver(&id, &conn, vec![frame.to_string()])
        .await
        .map_err(|e| ApiError::Unavailable(format!("NATS unavailable: {e}")))?;
    tracing::info!(orchestrator_id = %id, "Sent message to orchestrator {id} (type: {kind})");
    state.feed.record(
        Kind::MessageSent,
        json!({"orchestrator_id": id, "type": kind}),
    );
    let detail = json!({"type": kind});
    audit::record(
        &state,
        &admin.username,
        "send",
        Some(id.as_str()),
        None,
        detail,
    )
    .await;
    Ok(Json(
        json!({"success": true, "message": format!("Message sent to {id} successfully")}),
    ))
}

/// Sends a just-created message to its orchestrator if connected; otherwise (or if
/// this send is lost) it goes out at the next handshake, until acknowledged.
async fn deliver_message(state: &AppState, id: &OrchestratorId, row: &Value) -> bool {
    let Some(conn) = state.live.connection(id) else {
        return false;
    };
    let data = json!({"id": row["id"], "message_type": row["message_type"], "content": row["content"],
        "metadata": row["message_metadata"], "status": row["status"], "revision": row["revision"]});
    match state.pushes.message(id, &conn, data).await {
        Ok(false) => false, // held: it became independent meanwhile
        Ok(true) => {
            state.feed.record(
                Kind::MessageSent,
                json!({"orchestrator_id": id, "message_id": row["id"]}),
            );
            true
        }
        Err(err) => {
            tracing::warn!(orchestrator_id = %id, %err, "message not delivered now; it will be at reconnect");
            false
        }
    }
}

/// Tells a connected orchestrator that one of its messages was accepted or dismissed.
async fn push_status(state: &AppState, row: &Value) {
    let Some(id) = row["orchestrator_id"]
        .as_str()
        .and_then(|i| OrchestratorId::parse(i).ok())
    else {
        return;
    };
    let Some(conn) = state.live.connection(&id) else {
        return;
    };
    let (Some(message_id), Some(status)) = (row["id"].as_str(), row["status"].as_str()) else {
        return;
    };
    let revision = row["revision"].as_i64().unwrap_or_default();
    if let Err(err) = state
        .pushes
        .status(&id, &conn, message_id, status, revision)
        .await
    {
        tracing::warn!(orchestrator_id = %id, %err, "message_status not pushed");
    }
}

/// Filters of the activity feed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ActivityQuery {
    /// `handshake`, `keepalive`, `disconnect`, `provision`, `message_sent`, `stale`.
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
