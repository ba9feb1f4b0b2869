//! Sends that wait: `POST …/send?expires_in_sec=N` to an orchestrator that is
//! not connected keeps the frame (through the persister) until its next
//! handshake delivers it ([`crate::push::queued`]) or it expires unsent; `GET
//! …/sends` lists them with their state.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use moolai_proto::commands::{Command, QueuedSend, QUEUED_SEND_MAX_SEC};
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::audit;
use crate::api::controller::not_found;
use crate::api::error::ApiError;
use crate::api::extract::{Admin, Id, Params};
use crate::api::AppState;
use crate::fleet::waiting::What;

/// Routes of this module (`POST …/send` itself is in `messages`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(orchestrator_sends))
}

/// Query of `POST orchestrators/{id}/send`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SendQuery {
    /// When the orchestrator is not connected, keep the frame for its next
    /// handshake during this many seconds (1 to 2592000, i.e. 30 days)
    /// instead of answering 404.
    pub expires_in_sec: Option<i64>,
}

impl SendQuery {
    /// The expiry asked for, in seconds; 422 when out of bounds.
    pub fn expiry(&self) -> Result<Option<i64>, ApiError> {
        match self.expires_in_sec {
            Some(secs) if !(1..=QUEUED_SEND_MAX_SEC).contains(&secs) => Err(ApiError::field(
                "query",
                "expires_in_sec",
                format!("must be between 1 and {QUEUED_SEND_MAX_SEC} (30 days)"),
            )),
            other => Ok(other),
        }
    }
}

/// A send's state, from its columns: `delivered` once claimed by a handshake,
/// else `expired` after `expires_at`, else `queued`.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    Queued,
    Delivered,
    Expired,
}

/// A frame kept for an orchestrator that is not connected.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SendQueued {
    pub success: bool,
    pub message: String,
    pub data: QueuedData,
}

/// What was queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuedData {
    pub id: String,
    /// The frame's `type`.
    #[serde(rename = "type")]
    pub frame_type: String,
    /// RFC 3339, as PostgreSQL writes it.
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub status: SendStatus,
}

/// Keeps `frame` for `id` (not connected) during `secs` seconds: 202, or 404
/// when no such orchestrator exists.
pub async fn queue(
    state: &AppState,
    admin: &Admin,
    id: &OrchestratorId,
    frame: Value,
    kind: String,
    secs: i64,
) -> Result<Response, ApiError> {
    let expires_at = Utc::now() + chrono::Duration::seconds(secs);
    let send_id = format!("send_{}", Uuid::new_v4().simple());
    let command = Command::QueueSend(QueuedSend {
        id: send_id.clone(),
        orchestrator_id: id.clone(),
        frame,
        frame_type: kind.clone(),
        created_by: admin.username.clone(),
        expires_at,
    });
    let detail =
        json!({"type": kind, "expires_at": expires_at, "queued": true, "send_id": send_id});
    let audit = audit::by(admin, "send", id.as_str(), detail);
    let row = state.persister.run_audited(&command, audit).await?;
    state.changes.waiting(What::Sends, id);
    tracing::info!(orchestrator_id = %id, send_id,
        "Queued message for orchestrator {id} (type: {kind}) until {expires_at}");
    // Connected meanwhile: its welcome may have claimed before this send was
    // stored, so it is claimed here (a claim is made once, whoever makes it).
    if let Some(conn) = state.live.connection(id) {
        let (persister, routes, feed) = (&state.persister, &state.routes, &state.feed);
        if let Err(err) =
            crate::push::queued::deliver_with(persister, routes, feed, id, &conn).await
        {
            tracing::warn!(orchestrator_id = %id, %err, "queued send not delivered now; it will be at reconnect");
        }
    }
    let body = SendQueued {
        success: true,
        message: format!("{id} is not connected: message queued until it connects or expires"),
        data: QueuedData {
            id: send_id,
            frame_type: kind,
            expires_at: row["expires_at"].as_str().unwrap_or_default().to_owned(),
            status: SendStatus::Queued,
        },
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Filter of the listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SendsQuery {
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_limit() -> i64 {
    100
}

/// One orchestrator's queued sends.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrchestratorSends {
    pub success: bool,
    pub message: String,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    pub total_count: usize,
    pub sends: Vec<SendItem>,
}

/// One queued send as listed.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SendItem {
    pub id: String,
    /// The frame's `type`.
    #[serde(rename = "type")]
    pub frame_type: String,
    /// The frame as it was (or will be) sent.
    pub frame: Value,
    #[schema(value_type = SendStatus)]
    pub status: String,
    /// The admin who queued it.
    pub created_by: String,
    /// Timestamps are RFC 3339, as PostgreSQL writes them.
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// When a handshake claimed it for delivery; null until then.
    #[schema(format = DateTime, required = true)]
    pub delivered_at: Option<String>,
}

#[utoipa::path(get, operation_id = "list_orchestrator_sends", path = "/api/v1/internal/orchestrators/{id}/sends", tag = "internal",
    params(("id" = String, Path), SendsQuery), security(("bearer" = [])),
    responses((status = 200, description = "Sends queued for the orchestrator while it was not connected, newest first", body = OrchestratorSends),
        (status = 404, description = "Unknown orchestrator"), (status = 422, description = "Invalid limit")))]
pub async fn orchestrator_sends(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
    Params(q): Params<SendsQuery>,
) -> Result<Json<OrchestratorSends>, ApiError> {
    if !(1..=1000).contains(&q.limit) {
        return Err(ApiError::field(
            "query",
            "limit",
            "must be between 1 and 1000",
        ));
    }
    crate::store::read::instance(&state.pool, id.as_str())
        .await?
        .ok_or_else(|| not_found("orchestrator", &id))?;
    let sends: Vec<SendItem> = sqlx::query_as(
        "SELECT id, frame_type, frame, created_by,
                CASE WHEN delivered_at IS NOT NULL THEN 'delivered'
                     WHEN expires_at <= now() THEN 'expired' ELSE 'queued' END AS status,
                to_jsonb(created_at) #>> '{}' AS created_at, to_jsonb(expires_at) #>> '{}' AS expires_at,
                to_jsonb(delivered_at) #>> '{}' AS delivered_at
           FROM queued_sends WHERE orchestrator_id = $1
          ORDER BY created_at DESC, id LIMIT $2",
    )
    .bind(id.as_str())
    .bind(q.limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(OrchestratorSends {
        success: true,
        message: "Queued sends retrieved successfully".into(),
        orchestrator_id: id,
        total_count: sends.len(),
        sends,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiry(secs: Option<i64>) -> Result<Option<i64>, ApiError> {
        SendQuery {
            expires_in_sec: secs,
        }
        .expiry()
    }

    #[test]
    fn an_expiry_is_one_second_to_thirty_days_or_absent() {
        assert_eq!(expiry(None).unwrap(), None);
        assert_eq!(expiry(Some(1)).unwrap(), Some(1));
        assert_eq!(expiry(Some(2_592_000)).unwrap(), Some(2_592_000));
        for bad in [0, -1, 2_592_001, i64::MAX, i64::MIN] {
            match expiry(Some(bad)) {
                Err(ApiError::Invalid(fields)) => {
                    assert_eq!(fields[0].loc, ["query", "expires_in_sec"], "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
