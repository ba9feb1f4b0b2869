//! Controller messages: created for an orchestrator, delivered when it is
//! connected (else at its next handshake, until acknowledged), listed, and
//! answered (accepted or dismissed); and raw frames sent to a connected one
//! (or, with an expiry, kept for one that is not: `sends`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use moolai_proto::commands::Command;
use moolai_proto::events::new_message_id;
use moolai_proto::frames::MessageType;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::audit;
use crate::api::auth::Done;
use crate::api::controller::not_found;
use crate::api::error::ApiError;
use crate::api::extract::Admin;
use crate::api::extract::{Body, Id, Params};
use crate::api::sends::{self, SendQuery, SendQueued};
use crate::api::AppState;
use crate::fleet::activity::Kind;
use crate::fleet::waiting::What;
use crate::push::now;
use crate::store::read;
use crate::store::read::{MessageItem, MessageStatus};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_message, orchestrator_messages))
        .routes(routes!(send))
        .routes(routes!(all_messages))
        .routes(routes!(set_message_status))
}

/// Body of `POST orchestrators/{id}/messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewMessage {
    pub message_type: MessageType,
    pub content: String,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// A message created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageCreated {
    pub success: bool,
    pub message: String,
    pub message_id: String,
    /// Sent now to the connected orchestrator (else at its next handshake).
    pub delivered: bool,
    /// Its orchestrator is independent: kept, not delivered nor listed until it is not.
    pub held: bool,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    #[schema(value_type = MessageType)]
    pub message_type: String,
    #[schema(value_type = MessageStatus)]
    pub status: String,
}

/// One orchestrator's messages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrchestratorMessages {
    pub success: bool,
    pub message: String,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    pub total_count: usize,
    pub messages: Vec<MessageItem>,
    /// Messages not listed because the orchestrator is independent.
    pub held: i64,
    pub independent: bool,
}

/// Every orchestrator's messages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AllMessages {
    pub success: bool,
    pub message: String,
    pub total_count: usize,
    pub messages: Vec<MessageItem>,
    /// Messages not listed because their orchestrator is independent.
    pub held: i64,
}

/// A message accepted or dismissed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageAnswered {
    pub success: bool,
    pub message: String,
    pub message_id: String,
    #[schema(value_type = MessageStatus)]
    pub status: String,
    #[schema(value_type = String)]
    pub orchestrator_id: Value,
}

#[utoipa::path(post, operation_id = "create_message", path = "/api/v1/internal/orchestrators/{id}/messages", tag = "internal", request_body = NewMessage,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Created, pending", body = MessageCreated), (status = 404, description = "Unknown orchestrator"), (status = 422, description = "Invalid body")))]
pub async fn create_message(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Body(b): Body<NewMessage>,
) -> Result<Json<MessageCreated>, ApiError> {
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
    state.changes.waiting(What::Messages, &id);
    state.feed.record(
        Kind::MessageCreated,
        json!({"orchestrator_id": id, "message_id": message_id}),
    );
    let held = state.live.rule(&id).is_independent;
    let delivered = !held && now::message(&state.now(), &id, &row).await;
    Ok(Json(MessageCreated {
        success: true,
        message: "Message created successfully".into(),
        message_id,
        delivered,
        held,
        orchestrator_id: id,
        message_type: b.message_type.as_str().into(),
        status: "pending".into(),
    }))
}

/// Filters of the message lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

impl MessageQuery {
    async fn run(
        &self,
        state: &AppState,
        orchestrator: Option<&str>,
    ) -> Result<(Vec<MessageItem>, i64), ApiError> {
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

#[utoipa::path(get, operation_id = "list_orchestrator_messages", path = "/api/v1/internal/orchestrators/{id}/messages", tag = "internal",
    params(("id" = String, Path), MessageQuery), security(("bearer" = [])),
    responses((status = 200, description = "Messages, newest first", body = OrchestratorMessages), (status = 404, description = "Unknown orchestrator")))]
pub async fn orchestrator_messages(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
    Params(q): Params<MessageQuery>,
) -> Result<Json<OrchestratorMessages>, ApiError> {
    read::instance(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("orchestrator", &id))?;
    let (messages, held) = q.run(&state, Some(id.as_str())).await?;
    Ok(Json(OrchestratorMessages {
        success: true,
        message: "Messages retrieved successfully".into(),
        independent: state.live.rule(&id).is_independent,
        orchestrator_id: id,
        total_count: messages.len(),
        messages,
        held,
    }))
}

#[utoipa::path(get, operation_id = "list_messages", path = "/api/v1/internal/messages", tag = "internal", params(MessageQuery), security(("bearer" = [])),
    responses((status = 200, description = "Messages of all orchestrators, newest first", body = AllMessages), (status = 422, description = "Invalid filter")))]
pub async fn all_messages(
    State(state): State<AppState>,
    _: Admin,
    Params(q): Params<MessageQuery>,
) -> Result<Json<AllMessages>, ApiError> {
    let (messages, held) = q.run(&state, None).await?;
    Ok(Json(AllMessages {
        success: true,
        message: "All messages retrieved successfully".into(),
        total_count: messages.len(),
        messages,
        held,
    }))
}

/// Body of `PUT messages/{id}/status`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusBody {
    pub status: MessageStatus,
}

#[utoipa::path(put, operation_id = "set_message_status", path = "/api/v1/internal/messages/{id}/status", tag = "internal", request_body = StatusBody,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Updated", body = MessageAnswered), (status = 404, description = "Unknown message"), (status = 422, description = "Unknown status")))]
pub async fn set_message_status(
    State(state): State<AppState>,
    admin: Admin,
    Path(message_id): Path<String>,
    Body(b): Body<StatusBody>,
) -> Result<Json<MessageAnswered>, ApiError> {
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
    now::status(&state.now(), &row).await;
    Ok(Json(MessageAnswered {
        success: true,
        message: format!("Message {status} successfully"),
        message_id,
        status: status.into(),
        orchestrator_id: row["orchestrator_id"].clone(),
    }))
}

#[utoipa::path(post, operation_id = "send_to_orchestrator", path = "/api/v1/internal/orchestrators/{id}/send", tag = "internal", request_body(content = Map<String, Value>, description = "The frame to send: a JSON object with its `type`"),
    params(("id" = String, Path), SendQuery), security(("bearer" = [])),
    responses((status = 200, description = "Sent", body = Done),
        (status = 202, description = "Not connected: queued until it connects or `expires_in_sec` passes", body = SendQueued),
        (status = 404, description = "Not connected (no `expires_in_sec`), or unknown orchestrator"),
        (status = 422, description = "No `type`, or `expires_in_sec` out of bounds")))]
pub async fn send(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
    Params(q): Params<SendQuery>,
    Body(frame): Body<Value>,
) -> Result<Response, ApiError> {
    let expires_in = q.expiry()?;
    let kind = frame.get("type").and_then(Value::as_str).map(str::to_owned);
    let Some(kind) = kind else {
        return Err(ApiError::field(
            "body",
            "type",
            "a frame needs a string `type`",
        ));
    };
    let Some(conn) = state.live.connection(&id) else {
        return match expires_in {
            Some(secs) => sends::queue(&state, &admin, &id, frame, kind, secs).await,
            None => Err(ApiError::NotFound(format!(
                "orchestrator {id} is not connected"
            ))),
        };
    };
    state
        .routes
        .deliver(&id, &conn, vec![frame.to_string()])
        .await
        .map_err(|e| ApiError::unavailable("NATS unavailable", e))?;
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
    Ok(Json(Done {
        success: true,
        message: format!("Message sent to {id} successfully"),
    })
    .into_response())
}
