//! The audit log: who did what through the API, stored by the persister in
//! `audit_log` and readable at `GET /api/v1/internal/audit`. Details never carry
//! secrets (no passwords, tokens or connection strings).

use axum::extract::State;
use axum::Json;
use moolai_proto::commands::{AuditEntry, Command};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::error::ApiError;
use crate::api::extract::{Admin, Params};
use crate::api::AppState;

/// Stores an entry that records no write of its own (a failed login, a
/// message sent over the bus, ...). A failure is logged loudly but does not undo
/// the action. Entries for writes travel with the write: [`by`].
pub async fn record(
    state: &AppState,
    actor: &str,
    action: &str,
    target: Option<&str>,
    address: Option<String>,
    detail: Value,
) {
    let command = Command::Audit {
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.map(str::to_owned),
        address,
        detail,
    };
    if let Err(err) = state.persister.run(&command).await {
        tracing::error!(%err, actor, action, "audit entry not stored");
    }
}

/// The entry for an admin's action on one target, to be written by the
/// persister in the transaction of the command it records.
pub fn by(admin: &Admin, action: &str, target: &str, detail: Value) -> AuditEntry {
    entry(&admin.username, action, Some(target), None, detail)
}

/// An entry to be written with the command it records.
pub fn entry(
    actor: &str,
    action: &str,
    target: Option<&str>,
    address: Option<String>,
    detail: Value,
) -> AuditEntry {
    AuditEntry {
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.map(str::to_owned),
        address,
        detail,
        from_answer: Vec::new(),
    }
}

/// Filters of the audit listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub actor: Option<String>,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_limit() -> i64 {
    200
}

/// One audit entry.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditItem {
    pub id: i64,
    /// When it was stored (RFC 3339, as PostgreSQL writes it).
    #[schema(format = DateTime)]
    pub at: String,
    /// An admin's username, `core`, or `enrollment:<id>`.
    pub actor: String,
    pub action: String,
    #[schema(required = true)]
    pub target: Option<String>,
    /// The client's address, for logins and enrollments.
    #[schema(required = true)]
    pub address: Option<String>,
    /// What else is worth knowing; never a secret.
    pub detail: Value,
}

/// `GET /api/v1/internal/audit`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditList {
    pub success: bool,
    pub data: AuditPage,
}

/// The entries of an [`AuditList`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub total: usize,
    pub items: Vec<AuditItem>,
}

#[utoipa::path(get, operation_id = "list_audit", path = "/api/v1/internal/audit", tag = "internal", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, description = "Audit entries, newest first", body = AuditList), (status = 422, description = "Invalid limit")))]
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    Params(q): Params<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    if !(1..=1000).contains(&q.limit) {
        return Err(ApiError::field(
            "query",
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let items: Vec<AuditItem> = sqlx::query_as(
        "SELECT id, to_jsonb(at) #>> '{}' AS at, actor, action, target, address, detail
           FROM audit_log a
          WHERE ($1::text IS NULL OR action = $1) AND ($2::text IS NULL OR actor = $2)
          ORDER BY a.at DESC, a.id DESC LIMIT $3",
    )
    .bind(&q.action)
    .bind(&q.actor)
    .bind(q.limit)
    .fetch_all(&state.pool)
    .await?;
    let data = AuditPage {
        total: items.len(),
        items,
    };
    Ok(Json(AuditList {
        success: true,
        data,
    }))
}
