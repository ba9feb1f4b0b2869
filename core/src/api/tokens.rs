//! Orchestrator tokens (`proto::token`): issue, rotate and revoke. Only the
//! generation is stored (PostgreSQL, mirrored to the KV bucket edges watch); the
//! token is shown once.

use async_nats::jetstream::kv;
use axum::extract::State;
use axum::Json;
use moolai_proto::commands::{AuditEntry, Command};
use moolai_proto::{token, OrchestratorId};
use serde::Serialize;
use serde_json::json;

use crate::api::audit;
use crate::api::error::ApiError;
use crate::api::extract::Admin;
use crate::api::extract::Id;
use crate::api::AppState;
use crate::auth::orchestrator_tokens::Tokens;
use crate::fleet::sessions::CLOSE_TOKEN_REVOKED;

/// Voids older tokens of `id`; returns the new generation, already published to
/// the edges.
async fn bump(
    state: &AppState,
    tokens: &Tokens,
    id: &OrchestratorId,
    audit: Option<AuditEntry>,
) -> Result<u64, ApiError> {
    let command = Command::BumpTokenGeneration {
        orchestrator_id: id.clone(),
        above: published_generation(tokens, id).await?,
    };
    let answer = match audit {
        Some(audit) => state.persister.run_audited(&command, audit).await,
        None => state.persister.run(&command).await,
    };
    let generation = answer?
        .as_u64()
        .ok_or_else(|| ApiError::Internal("generation is not a number".into()))?;
    tokens
        .kv
        .put(id.as_str(), generation.to_string().into())
        .await
        .map_err(|e| {
            ApiError::unavailable("NATS unavailable: token generation not published", e)
        })?;
    Ok(generation)
}

/// The generation the edges know for `id` (0: none).
async fn published_generation(tokens: &Tokens, id: &OrchestratorId) -> Result<u64, ApiError> {
    let entry = tokens
        .kv
        .entry(id.as_str())
        .await
        .map_err(|e| ApiError::unavailable("NATS unavailable: token generation not read", e))?;
    Ok(entry
        .filter(|e| e.operation == kv::Operation::Put)
        .and_then(|e| std::str::from_utf8(&e.value).ok()?.parse().ok())
        .unwrap_or(0))
}

/// Voids every token of a deregistered (or deleted) `id` at the edges: its row
/// is gone, so the generation the edges know is raised past every token issued.
/// Without it such a token still passed the upgrade and got its
/// `handshake_ack` before core closed the socket (issue 33).
pub async fn void_published(state: &AppState, id: &OrchestratorId) -> Result<(), ApiError> {
    let Some(tokens) = &state.tokens else {
        return Ok(());
    };
    let next = published_generation(tokens, id).await? + 1;
    tokens
        .kv
        .put(id.as_str(), next.to_string().into())
        .await
        .map(drop)
        .map_err(|e| ApiError::unavailable("NATS unavailable: tokens not voided", e))
}

/// Issues a new token for `id` (voiding older ones), audited with `audit`.
pub async fn issue(
    state: &AppState,
    id: &OrchestratorId,
    audit: Option<AuditEntry>,
) -> Result<Option<String>, ApiError> {
    let Some(tokens) = &state.tokens else {
        return Ok(None);
    };
    let generation = bump(state, tokens, id, audit).await?;
    Ok(Some(token::sign(&tokens.secret, id, generation)))
}

fn configured(state: &AppState) -> Result<&Tokens, ApiError> {
    state.tokens.as_ref().ok_or_else(|| {
        ApiError::NotFound(
            "orchestrator tokens are off: ORCHESTRATOR_TOKEN_SECRET is not set".into(),
        )
    })
}

/// A new orchestrator token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenIssued {
    pub success: bool,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    /// Shown only now.
    #[schema(required = true)]
    pub orchestrator_token: Option<String>,
    pub message: String,
}

/// Every token of an orchestrator revoked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokensRevoked {
    pub success: bool,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    pub message: String,
}

#[utoipa::path(post, operation_id = "rotate_orchestrator_token", path = "/api/v1/internal/orchestrators/{id}/token", tag = "internal", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, description = "A new token (shown once); older ones stop working and the socket using one is closed (4003 token_rotated)", body = TokenIssued),
    (status = 404, description = "Unknown orchestrator, or tokens are off")))]
pub async fn rotate(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<TokenIssued>, ApiError> {
    configured(&state)?;
    let audit = audit::by(&admin, "token_issue", id.as_str(), json!({}));
    let token = issue(&state, &id, Some(audit)).await?;
    // The socket that used the old token would otherwise stay open on a token
    // that no longer works anywhere (issue 12).
    close_live(&state, &id, "token_rotated").await;
    Ok(Json(TokenIssued {
        success: true,
        orchestrator_id: id,
        orchestrator_token: token,
        message: "Token issued; it is shown only now. Older tokens no longer work.".into(),
    }))
}

#[utoipa::path(delete, operation_id = "revoke_orchestrator_tokens", path = "/api/v1/internal/orchestrators/{id}/token", tag = "internal", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, description = "Every token of the orchestrator revoked; its socket closed", body = TokensRevoked),
    (status = 404, description = "Unknown orchestrator, or tokens are off")))]
pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Id(id): Id,
) -> Result<Json<TokensRevoked>, ApiError> {
    let tokens = configured(&state)?;
    let audit = audit::by(&admin, "token_revoke", id.as_str(), json!({}));
    bump(&state, tokens, &id, Some(audit)).await?;
    close_live(&state, &id, "token_revoked").await;
    Ok(Json(TokensRevoked {
        success: true,
        orchestrator_id: id,
        message: "Tokens revoked".into(),
    }))
}

/// Closes `id`'s live socket (4003) after its token generation was bumped: the
/// token it connected with is void. The new generation is published first, so
/// the reconnect the close provokes is judged against it.
async fn close_live(state: &AppState, id: &OrchestratorId, reason: &str) {
    let Some(conn) = state.live.connection(id) else {
        return;
    };
    if let Err(err) = state
        .routes
        .close(id, &conn, CLOSE_TOKEN_REVOKED, reason)
        .await
    {
        tracing::warn!(orchestrator_id = %id, %err, reason, "socket on a void token not closed");
    }
}
