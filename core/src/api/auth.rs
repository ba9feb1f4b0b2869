//! Admin authentication: the login and logout endpoints. Sessions are opaque
//! tokens stored as SHA-256 hashes, checked by the extractors in
//! [`crate::api::extract`]. Passwords are in [`crate::auth::passwords`], the login throttle
//! in [`crate::auth::login_guard`], the idle clock in [`crate::auth::session_use`].

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header::AUTHORIZATION, HeaderMap};
use axum::Json;
use chrono::{DateTime, Utc};
use moolai_proto::commands::Command;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::audit;
use crate::api::error::ApiError;
use crate::api::extract::{authenticate, token_hash, Admin, Body, DEV_TOKEN_USER};
use crate::api::AppState;
use crate::auth::login_guard::Refusal;
use crate::auth::passwords::new_secret;

pub use crate::auth::login_guard::LoginGuard;
pub use crate::auth::passwords::{bootstrap_admin, Passwords};
pub use crate::auth::session_use::SessionUse;

/// Longest username accepted (the `admins.username` column); a longer one is a
/// 422 before any password work.
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest password accepted: far above any real one, and bounds the bytes a
/// login may make argon2 read.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The actor a refused oversized username is audited and logged as.
const AUDITED_NAME_CHARS: usize = 64;
/// Login credentials.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// At most 128 characters.
    pub username: String,
    pub password: String,
}

/// A name as it may appear in the audit log or a log line: at most 64
/// characters, with an ellipsis when cut.
pub fn shortened(name: &str) -> String {
    match name.char_indices().nth(AUDITED_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Throttled(secs) => ApiError::TooManyLogins(secs),
            Refusal::Busy => ApiError::LoginBusy,
        }
    }
}

/// A new session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    pub success: bool,
    /// Send it as `Authorization: Bearer <token>`; shown only now.
    pub token: String,
    /// Always `bearer`.
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    pub username: String,
}

/// A plain confirmation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Done {
    pub success: bool,
    pub message: String,
}

/// `POST /api/v1/internal/auth/login`
#[utoipa::path(post, operation_id = "login", path = "/api/v1/internal/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, description = "Session token", body = LoggedIn), (status = 401, description = "Invalid credentials"),
              (status = 422, description = "Invalid body, or a username over 128 characters"),
              (status = 429, description = "Too many failed logins from this address for this user (Retry-After), or too many logins in progress")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(creds): Body<Credentials>,
) -> Result<Json<LoggedIn>, ApiError> {
    let address = peer.ip();
    let too_long = creds.username.chars().count() > MAX_USERNAME_CHARS
        || creds.password.chars().count() > MAX_PASSWORD_CHARS;
    if too_long {
        return Err(refuse_oversized(&state, peer, &creds).await);
    }
    // PostgreSQL stores no NUL: the lookup (and the audit) would fail as a 500.
    if creds.username.contains('\0') {
        return Err(ApiError::field(
            "body",
            "username",
            "must not contain a NUL character",
        ));
    }
    // Counted (and refused when over a limit) before any hashing.
    let attempt = if holds_session(&state, &headers).await {
        state.guard.admit_with_session(&creds.username, address)?
    } else {
        state.guard.admit(&creds.username, address)?
    };
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE username = $1")
            .bind(&creds.username)
            .fetch_optional(&state.pool)
            .await?;
    let right = state.passwords.verify(stored, creds.password).await;
    if !right {
        drop(attempt); // stays counted as a failure
                       // `?`: a newline or escape in the name cannot forge a log line.
        tracing::warn!(username = ?creds.username, %peer, "failed login");
        let address = Some(address.to_string());
        audit::record(
            &state,
            &creds.username,
            "login_failed",
            None,
            address,
            json!({}),
        )
        .await;
        return Err(ApiError::BadCredentials);
    }
    attempt.succeeded();
    let token = new_secret(32);
    let expires_at = Utc::now() + state.auth.session_ttl;
    let command = Command::CreateSession {
        token_hash: token_hash(&token),
        username: creds.username.clone(),
        expires_at,
    };
    let address = Some(address.to_string());
    let audit = audit::entry(&creds.username, "login", None, address, json!({}));
    state.persister.run_audited(&command, audit).await?;
    tracing::info!(username = ?creds.username, "admin logged in");
    state.sessions.touch(&token_hash(&token));
    Ok(Json(LoggedIn {
        success: true,
        token,
        token_type: "bearer".into(),
        expires_at,
        username: creds.username,
    }))
}

/// Whether the login carries a session still valid (`Authorization: Bearer`):
/// such a client may use the hashing slots a flood of strangers cannot take.
async fn holds_session(state: &AppState, headers: &HeaderMap) -> bool {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok()?.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match token {
        Some(token) => authenticate(state, token).await.is_ok(),
        None => false,
    }
}

/// A username (or password) too long to be anyone's: counted against the
/// address like a failure, audited under a shortened name, answered 422.
async fn refuse_oversized(state: &AppState, peer: SocketAddr, creds: &Credentials) -> ApiError {
    let name = shortened(&creds.username);
    if let Err(refusal) = state.guard.admit(&name, peer.ip()) {
        return refusal.into();
    }
    let long_username = creds.username.chars().count() > MAX_USERNAME_CHARS;
    tracing::warn!(username = ?name, %peer, username_bytes = creds.username.len(), "failed login: oversized credentials");
    let detail = json!({
        "reason": if long_username { "username too long" } else { "password too long" },
        "username_bytes": creds.username.len(),
    });
    let address = Some(peer.ip().to_string());
    audit::record(state, &name, "login_failed", None, address, detail).await;
    if long_username {
        ApiError::field(
            "body",
            "username",
            format!("at most {MAX_USERNAME_CHARS} characters"),
        )
    } else {
        ApiError::field(
            "body",
            "password",
            format!("at most {MAX_PASSWORD_CHARS} characters"),
        )
    }
}

/// `POST /api/v1/internal/auth/logout`
#[utoipa::path(post, operation_id = "logout", path = "/api/v1/internal/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Token revoked", body = Done), (status = 401, description = "No token, or session already ended"), (status = 403, description = "Invalid token")))]
pub async fn logout(State(state): State<AppState>, admin: Admin) -> Result<Json<Done>, ApiError> {
    if admin.username == DEV_TOKEN_USER {
        audit::record(&state, &admin.username, "logout", None, None, json!({})).await;
    } else {
        state.sessions.forget(&admin.token_hash);
        let command = Command::RevokeSession {
            token_hash: admin.token_hash.clone(),
        };
        let audit = audit::entry(&admin.username, "logout", None, None, json!({}));
        state.persister.run_audited(&command, audit).await?;
    }
    Ok(Json(Done {
        success: true,
        message: "Logged out".into(),
    }))
}
