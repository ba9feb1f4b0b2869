//! Admin authentication: opaque session tokens stored as SHA-256 hashes, the
//! login and logout endpoints, and the extractors handlers use to demand a
//! token. Passwords are in [`super::passwords`], the login throttle in
//! [`super::login_guard`], the idle clock in [`super::session_use`].

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::Json;
use chrono::Utc;
use moolai_proto::commands::Command;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::audit;
use super::error::ApiError;
use super::extract::Body;
use super::login_guard::Refusal;
use super::passwords::{new_secret, verify};
use super::session_use::Touch;
use super::AppState;

pub use super::login_guard::LoginGuard;
pub use super::passwords::{bootstrap_admin, hash_password};
pub use super::session_use::SessionUse;

/// Longest username accepted (the `admins.username` column); a longer one is a
/// 422 before any password work.
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest password accepted: far above any real one, and bounds the bytes a
/// login may make argon2 read.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The actor a refused oversized username is audited and logged as.
const AUDITED_NAME_CHARS: usize = 64;
/// The username of the static `DEV_BEARER_TOKEN`.
pub const DEV_TOKEN_USER: &str = "dev-token";

/// SHA-256 (hex) of a token: what the sessions table stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An authenticated admin (or the development token).
pub struct Admin {
    pub username: String,
    pub token_hash: String,
    /// May add and remove admins (never the development token).
    pub superadmin: bool,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::MissingToken)?;
        authenticate(state, token).await
    }
}

/// An admin for a stream: the token from the `Authorization` header or, for
/// `EventSource`, from `?access_token=`. `session` is the session's token hash,
/// so the stream can end with it; `None` for the development token.
pub struct StreamAdmin {
    pub session: Option<String>,
}

impl FromRequestParts<AppState> for StreamAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let admin = if parts.headers.contains_key(AUTHORIZATION) {
            Admin::from_request_parts(parts, state).await?
        } else {
            let token = parts
                .uri
                .query()
                .into_iter()
                .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
                .ok_or(ApiError::MissingToken)?;
            authenticate(state, &token).await?
        };
        let session = (state.auth.dev_token_hash.as_deref() != Some(admin.token_hash.as_str()))
            .then_some(admin.token_hash);
        Ok(StreamAdmin { session })
    }
}

/// Checks a token: the development token, or an open, unexpired session that
/// has not been idle too long (judged from the database after a restart).
async fn authenticate(state: &AppState, token: &str) -> Result<Admin, ApiError> {
    let hash = token_hash(token);
    if state.auth.dev_token_hash.as_deref() == Some(hash.as_str()) {
        return Ok(Admin {
            username: DEV_TOKEN_USER.into(),
            token_hash: hash,
            superadmin: false,
        });
    }
    let session: Option<(String, bool, bool, f64)> = sqlx::query_as(
        "SELECT s.username, s.revoked_at IS NULL AND s.expires_at > now(), a.superadmin,
                EXTRACT(EPOCH FROM now() - COALESCE(s.last_used_at, s.created_at))::float8
           FROM sessions s JOIN admins a ON a.username = s.username
          WHERE s.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&state.pool)
    .await?;
    let Some((username, open, superadmin, stored_idle)) = session else {
        return Err(ApiError::InvalidToken);
    };
    if !open {
        return Err(ApiError::SessionEnded); // logged out or expired
    }
    let stored_idle = Duration::from_secs_f64(stored_idle.max(0.0));
    match state
        .sessions
        .touch_if_fresh(&hash, state.auth.session_idle, stored_idle)
    {
        Touch::Idle => {
            session_command(state, Command::RevokeSession { token_hash: hash });
            return Err(ApiError::SessionEnded);
        }
        Touch::Fresh { persist: true } => session_command(
            state,
            Command::TouchSession {
                token_hash: hash.clone(),
            },
        ),
        Touch::Fresh { persist: false } => {}
    }
    Ok(Admin {
        username,
        token_hash: hash,
        superadmin,
    })
}

/// Ends an idle session, or records a session's use, in the database so that
/// it holds across a core restart. Best effort, off the request: this core's
/// memory already decided.
fn session_command(state: &AppState, command: Command) {
    let persister = state.persister.clone();
    tokio::spawn(async move {
        if let Err(err) = persister.run(&command).await {
            tracing::warn!(%err, "session use or idle expiry not stored");
        }
    });
}

/// Access to the read-only endpoints of the overview, organizations and
/// orchestrators: with `PUBLIC_READ_API=true` a request without a token gets in
/// as `anonymous`, and those handlers then leave internal fields out
/// (`read::public_view`); a token, when given, is checked as everywhere else.
pub struct Reader {
    pub anonymous: bool,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.auth.public_read && !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(Reader { anonymous: true });
        }
        Admin::from_request_parts(parts, state)
            .await
            .map(|_| Reader { anonymous: false })
    }
}

/// Settings the extractors need.
pub struct AuthSettings {
    pub dev_token_hash: Option<String>,
    pub public_read: bool,
    pub session_ttl: Duration,
    pub session_idle: Duration,
}

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

/// `POST /api/v1/internal/auth/login`
#[utoipa::path(post, path = "/api/v1/internal/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, description = "Session token"), (status = 401, description = "Invalid credentials"),
              (status = 422, description = "Invalid body, or a username over 128 characters"),
              (status = 429, description = "Too many failed logins from this address for this user (Retry-After), or too many logins in progress")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(creds): Body<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let address = peer.ip();
    let too_long = creds.username.chars().count() > MAX_USERNAME_CHARS
        || creds.password.chars().count() > MAX_PASSWORD_CHARS;
    if too_long {
        return Err(refuse_oversized(&state, peer, &creds).await);
    }
    // Counted (and refused when over a limit) before any hashing.
    let attempt = state.guard.admit(&creds.username, address)?;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE username = $1")
            .bind(&creds.username)
            .fetch_optional(&state.pool)
            .await?;
    let right = verify(stored, creds.password).await;
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
    Ok(Json(json!({
        "success": true, "token": token, "token_type": "bearer",
        "expires_at": expires_at, "username": creds.username,
    })))
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
#[utoipa::path(post, path = "/api/v1/internal/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Token revoked"), (status = 401, description = "No token, or session already ended"), (status = 403, description = "Invalid token")))]
pub async fn logout(State(state): State<AppState>, admin: Admin) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({"success": true, "message": "Logged out"})))
}
