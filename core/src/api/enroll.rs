//! Enrollment: how an orchestrator nobody has registered yet joins when edges
//! require tokens. An admin creates an enrollment credential (scoped, expiring,
//! revocable, shown once); an orchestrator sends it once to `POST /api/v1/enroll`
//! with its id and receives its own orchestrator token, which it keeps. A
//! credential registers new ids only: an id that exists, or was deregistered, is
//! refused (409), so it can never take an orchestrator over. Like Elastic Fleet's
//! enrollment tokens and OpAMP's registration on first use.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::Json;
use chrono::Utc;
use moolai_proto::commands::{Command, EnrollRequest, Failure, NewEnrollment};
use moolai_proto::{token, OrchestratorId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::audit;
use crate::api::error::ApiError;
use crate::api::extract::Body;
use crate::api::extract::{token_hash, Admin};
use crate::api::AppState;
use crate::fleet::activity::Kind;
use crate::persister_client::PersistError;

/// First part of every enrollment credential: `me1.<id>.<secret>`, so it is never
/// mistaken for an orchestrator token (`mo1.…`).
pub const PREFIX: &str = "me1.";
/// Lifetime of a credential created without `expires_in_sec`.
const DEFAULT_LIFETIME_SEC: u64 = 86_400;
/// Longest lifetime (the persister refuses more than 366 days too).
const MAX_LIFETIME_SEC: u64 = 365 * 86_400;

/// Body of `POST /api/v1/internal/enrollment-tokens`; every field optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// What it is for, shown in the listing.
    pub description: Option<String>,
    /// Only orchestrator ids starting with this may enroll.
    pub id_prefix: Option<String>,
    /// Enrolled orchestrators join this organization (created if missing);
    /// without it each gets its own, named after its id, which must be new.
    pub organization_id: Option<String>,
    /// How many orchestrators may enroll with it (default: any number until it
    /// expires).
    pub max_uses: Option<u32>,
    /// Seconds until it expires (default 86400, at most 365 days).
    pub expires_in_sec: Option<u64>,
}

/// 32 random bytes, URL-safe base64: as strong as the HMAC key that signs
/// orchestrator tokens, so only the hash needs keeping.
fn random_secret() -> String {
    use base64::Engine;
    use rand::RngExt;
    let mut raw = [0u8; 32];
    rand::rng().fill(&mut raw[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn tokens_on(state: &AppState) -> Result<&crate::auth::orchestrator_tokens::Tokens, ApiError> {
    state.tokens.as_ref().ok_or_else(|| {
        ApiError::NotFound(
            "orchestrator tokens are off: ORCHESTRATOR_TOKEN_SECRET is not set".into(),
        )
    })
}

/// The credential to store for `b`, checked field by field (422 naming it).
fn new_enrollment(b: CreateBody, created_by: &str) -> Result<(NewEnrollment, String), ApiError> {
    let description = b.description.unwrap_or_default();
    if description.chars().count() > 255 || description.chars().any(char::is_control) {
        let msg = "at most 255 characters, no control characters";
        return Err(ApiError::field("body", "description", msg));
    }
    let id_prefix = b.id_prefix.filter(|p| !p.is_empty());
    if let Some(p) = &id_prefix {
        moolai_proto::id::validate_id(p)
            .map_err(|e| ApiError::field("body", "id_prefix", e.to_string()))?;
    }
    let organization_id = b
        .organization_id
        .map(OrchestratorId::parse)
        .transpose()
        .map_err(|e| ApiError::field("body", "organization_id", e.to_string()))?;
    if b.max_uses == Some(0) || b.max_uses.is_some_and(|m| m > 1_000_000) {
        return Err(ApiError::field("body", "max_uses", "between 1 and 1000000"));
    }
    let lifetime = b.expires_in_sec.unwrap_or(DEFAULT_LIFETIME_SEC);
    if !(60..=MAX_LIFETIME_SEC).contains(&lifetime) {
        let msg = format!("between 60 and {MAX_LIFETIME_SEC} seconds");
        return Err(ApiError::field("body", "expires_in_sec", msg));
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let secret = format!("{PREFIX}{id}.{}", random_secret());
    let enrollment = NewEnrollment {
        secret_hash: token_hash(&secret),
        id,
        description,
        id_prefix,
        organization_id,
        max_uses: b.max_uses,
        expires_at: Utc::now() + chrono::Duration::seconds(lifetime as i64),
        created_by: created_by.to_owned(),
    };
    Ok((enrollment, secret))
}

/// An enrollment credential as stored, never its secret (as listed, and as the
/// persister answers a create or a revoke).
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EnrollmentRow {
    pub id: String,
    pub description: String,
    #[schema(required = true)]
    pub id_prefix: Option<String>,
    #[schema(required = true)]
    pub organization_id: Option<String>,
    #[schema(required = true)]
    pub max_uses: Option<i64>,
    pub uses: i64,
    /// Timestamps are RFC 3339, as PostgreSQL writes them.
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime, required = true)]
    pub revoked_at: Option<String>,
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime, required = true)]
    pub last_used_at: Option<String>,
}

impl EnrollmentRow {
    fn from_answer(answer: Value) -> Result<Self, ApiError> {
        serde_json::from_value(answer)
            .map_err(|e| ApiError::internal("unexpected enrollment row", e))
    }
}

/// An enrollment credential created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentCreated {
    pub success: bool,
    pub enrollment: EnrollmentRow,
    /// `me1.<id>.<secret>`, shown only now.
    pub enrollment_token: String,
    pub message: String,
}

/// An enrollment credential revoked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentRevoked {
    pub success: bool,
    pub enrollment: EnrollmentRow,
    pub message: String,
}

/// An orchestrator enrolled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolled {
    pub success: bool,
    #[schema(value_type = String)]
    pub orchestrator_id: OrchestratorId,
    #[schema(value_type = String)]
    pub organization_id: Value,
    /// Keep it: shown only now.
    pub orchestrator_token: String,
    pub message: String,
}

#[utoipa::path(post, operation_id = "create_enrollment_token", path = "/api/v1/internal/enrollment-tokens", tag = "internal", request_body = CreateBody,
    security(("bearer" = [])), responses((status = 200, description = "The credential (shown once) and its scope", body = EnrollmentCreated),
    (status = 404, description = "Orchestrator tokens are off"), (status = 422, description = "Invalid field")))]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Body(b): Body<CreateBody>,
) -> Result<Json<EnrollmentCreated>, ApiError> {
    tokens_on(&state)?;
    let (enrollment, secret) = new_enrollment(b, &admin.username)?;
    let id = enrollment.id.clone();
    let scope = ["id_prefix", "organization_id", "max_uses", "expires_at"];
    let audit = audit::by(&admin, "enrollment_create", &id, json!({})).with_answer(&scope);
    let stored = state
        .persister
        .run_audited(&Command::CreateEnrollment(enrollment), audit)
        .await?;
    Ok(Json(EnrollmentCreated {
        success: true,
        enrollment: EnrollmentRow::from_answer(stored)?,
        enrollment_token: secret,
        message: "Enrollment token created; it is shown only now.".into(),
    }))
}

/// One enrollment credential as listed: the row and its state.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EnrollmentItem {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub row: EnrollmentRow,
    /// `active`, `revoked`, `expired` or `used_up`.
    pub state: String,
}

/// `GET /api/v1/internal/enrollment-tokens`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentList {
    pub success: bool,
    pub items: Vec<EnrollmentItem>,
}

#[utoipa::path(get, operation_id = "list_enrollment_tokens", path = "/api/v1/internal/enrollment-tokens", tag = "internal", security(("bearer" = [])),
    responses((status = 200, description = "Every enrollment credential (never its secret), newest first, with its state", body = EnrollmentList)))]
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<EnrollmentList>, ApiError> {
    let items: Vec<EnrollmentItem> = sqlx::query_as(
        "SELECT id, description, id_prefix, organization_id, max_uses::int8 AS max_uses,
                uses::int8 AS uses, to_jsonb(expires_at) #>> '{}' AS expires_at, to_jsonb(revoked_at) #>> '{}' AS revoked_at,
                created_by, to_jsonb(created_at) #>> '{}' AS created_at,
                to_jsonb(last_used_at) #>> '{}' AS last_used_at,
                CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
                     WHEN expires_at <= now() THEN 'expired'
                     WHEN max_uses IS NOT NULL AND uses >= max_uses THEN 'used_up'
                     ELSE 'active' END AS state
           FROM enrollment_tokens e ORDER BY e.created_at DESC, e.id",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(EnrollmentList {
        success: true,
        items,
    }))
}

#[utoipa::path(delete, operation_id = "revoke_enrollment_token", path = "/api/v1/internal/enrollment-tokens/{id}", tag = "internal", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, description = "Revoked: it enrolls no one from now on (orchestrators it enrolled keep their tokens)", body = EnrollmentRevoked),
    (status = 404, description = "Unknown enrollment credential")))]
pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<EnrollmentRevoked>, ApiError> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::NotFound(format!(
            "enrollment token {id} not found"
        )));
    }
    let audit = audit::by(&admin, "enrollment_revoke", &id, json!({}));
    let revoked = state
        .persister
        .run_audited(&Command::RevokeEnrollment { id: id.clone() }, audit)
        .await?;
    Ok(Json(EnrollmentRevoked {
        success: true,
        enrollment: EnrollmentRow::from_answer(revoked)?,
        message: "Enrollment token revoked".into(),
    }))
}

/// Body of `POST /api/v1/enroll`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EnrollBody {
    /// The new orchestrator's id (`^[A-Za-z0-9_-]{1,128}$`).
    pub orchestrator_id: String,
}

/// The persister's refusals of an `Enroll`: an unusable credential is 401
/// (its holder learns why: they have the secret already, and the operator needs
/// to know), an id outside its scope 403; an existing id stays 409.
fn refused(err: PersistError) -> ApiError {
    match err {
        PersistError::Refused {
            failure: Failure::NotFound,
            detail,
        } => ApiError::EnrollmentRefused(detail),
        PersistError::Refused {
            failure: Failure::Invalid,
            detail,
        } => ApiError::Forbidden(detail),
        other => other.into(),
    }
}

fn credential(headers: &HeaderMap) -> Result<String, ApiError> {
    let raw = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::EnrollmentRefused(
                "enrollment token required: send `Authorization: Bearer me1.…`".into(),
            )
        })?;
    if !raw.starts_with(PREFIX) {
        return Err(ApiError::EnrollmentRefused(
            "not an enrollment token".into(),
        ));
    }
    Ok(raw.to_owned())
}

#[utoipa::path(post, operation_id = "enroll", path = "/api/v1/enroll", tag = "orchestrators", request_body = EnrollBody,
    security(("bearer" = [])), responses((status = 200, description = "Registered (keep the token)", body = Enrolled),
    (status = 401, description = "No, unknown, revoked, expired or used-up enrollment token"),
    (status = 403, description = "The id is outside the enrollment token's scope"),
    (status = 404, description = "Orchestrator tokens are off"),
    (status = 409, description = "The id exists (or was deregistered): enrollment never takes one over")))]
pub async fn enroll(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(b): Body<EnrollBody>,
) -> Result<Json<Enrolled>, ApiError> {
    let tokens = tokens_on(&state)?;
    let secret = credential(&headers)?;
    let orchestrator_id = OrchestratorId::parse(b.orchestrator_id)
        .map_err(|e| ApiError::field("body", "orchestrator_id", e.to_string()))?;
    let request = EnrollRequest {
        secret_hash: token_hash(&secret),
        orchestrator_id: orchestrator_id.clone(),
    };
    // The token is `me1.<enrollment id>.<secret>` and matched by its whole hash,
    // so the id in it is the enrollment's.
    let enrollment_id = secret[PREFIX.len()..].split('.').next().unwrap_or_default();
    let actor = format!("enrollment:{enrollment_id}");
    let address = Some(peer.ip().to_string());
    let target = Some(orchestrator_id.as_str());
    let audit = audit::entry(&actor, "enroll", target, address, json!({}))
        .with_answer(&["organization_id"]);
    let done = state
        .persister
        .run_audited(&Command::Enroll(request), audit)
        .await
        .map_err(refused)?;
    let organization = done["organization_id"].as_str();
    if let Some(org) = organization.and_then(|o| OrchestratorId::parse(o).ok()) {
        state.changes.configs_changed(vec![org]).await;
    }
    let generation = done["generation"].as_u64().unwrap_or(1);
    // The id is claimed and committed: answer with its token even if NATS does not
    // take the generation now, or the token would be lost and the id stuck. Core
    // publishes every stored generation when it starts (`tokens::sync`).
    let published = tokens
        .kv
        .put(orchestrator_id.as_str(), generation.to_string().into())
        .await;
    if let Err(err) = &published {
        tracing::error!(%orchestrator_id, %err, "enrolled, but its token generation is not published yet");
    }
    let orchestrator_token = token::sign(&tokens.secret, &orchestrator_id, generation);
    state.feed.record(
        Kind::Registered,
        json!({"orchestrator_id": orchestrator_id, "enrolled": true}),
    );
    Ok(Json(Enrolled {
        success: true,
        orchestrator_id,
        organization_id: done["organization_id"].clone(),
        orchestrator_token,
        message: "Enrolled; keep the orchestrator token, it is shown only now.".into(),
    }))
}
