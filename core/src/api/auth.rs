//! Superadmin authentication: argon2id passwords, opaque session tokens stored as
//! SHA-256 hashes, failed-login limits, and the extractors handlers use to demand
//! a token.

use std::net::SocketAddr;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::Json;
use base64::Engine;
use chrono::Utc;
use dashmap::DashMap;
use moolai_proto::commands::Command;
use rand::RngExt;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::audit;
use super::error::ApiError;
use super::extract::Body;
use super::persist::Persister;
use super::AppState;

/// Failed logins tolerated per username, and per client address, in [`WINDOW`].
const MAX_FAILURES_PER_USER: u32 = 10;
const MAX_FAILURES_PER_ADDRESS: u32 = 20;
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// SHA-256 (hex) of a token: what the sessions table stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Counts failed logins per key (`user:…`, `addr:…`) in a fixed window; a
/// `DashMap` since logins from many clients run at once.
#[derive(Clone, Default)]
pub struct LoginGuard {
    failures: std::sync::Arc<DashMap<String, (u32, Instant)>>,
}

impl LoginGuard {
    /// `Err(429)` if either key is over its limit.
    fn check(&self, keys: &[(String, u32)]) -> Result<(), ApiError> {
        for (key, limit) in keys {
            if let Some(entry) = self.failures.get(key) {
                let (count, since) = *entry;
                let age = since.elapsed();
                if age < WINDOW && count >= *limit {
                    return Err(ApiError::TooManyLogins((WINDOW - age).as_secs().max(1)));
                }
            }
        }
        Ok(())
    }

    fn failed(&self, keys: &[(String, u32)]) {
        for (key, _) in keys {
            let mut entry = self
                .failures
                .entry(key.clone())
                .or_insert((0, Instant::now()));
            if entry.1.elapsed() >= WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    fn succeeded(&self, user_key: &str) {
        self.failures.remove(user_key);
    }
}

/// An authenticated superadmin (or the development token).
pub struct Admin {
    pub username: String,
    pub token_hash: String,
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
/// `EventSource`, from `?access_token=`.
pub struct StreamAdmin;

impl FromRequestParts<AppState> for StreamAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            return Admin::from_request_parts(parts, state)
                .await
                .map(|_| StreamAdmin);
        }
        let token = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
            .ok_or(ApiError::MissingToken)?;
        authenticate(state, &token).await.map(|_| StreamAdmin)
    }
}

/// Checks a token: the development token, or an open, unexpired session.
async fn authenticate(state: &AppState, token: &str) -> Result<Admin, ApiError> {
    let hash = token_hash(token);
    if state.auth.dev_token_hash.as_deref() == Some(hash.as_str()) {
        return Ok(Admin {
            username: "dev-token".into(),
            token_hash: hash,
        });
    }
    let session: Option<(String, bool)> = sqlx::query_as(
        "SELECT username, revoked_at IS NULL AND expires_at > now() FROM sessions
          WHERE token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&state.pool)
    .await?;
    let Some((username, open)) = session else {
        return Err(ApiError::InvalidToken);
    };
    if !open {
        return Err(ApiError::SessionEnded); // logged out or expired
    }
    if !state
        .sessions
        .touch_if_fresh(&hash, state.auth.session_idle)
    {
        revoke_idle(state, hash);
        return Err(ApiError::SessionEnded);
    }
    Ok(Admin {
        username,
        token_hash: hash,
    })
}

/// Ends an idle session in the database too, so that it stays ended across a
/// core restart. Best effort, off the request: the in-memory entry already
/// refuses it here.
fn revoke_idle(state: &AppState, token_hash: String) {
    let persister = state.persister.clone();
    tokio::spawn(async move {
        let command = Command::RevokeSession { token_hash };
        if let Err(err) = persister.run(&command).await {
            tracing::warn!(%err, "could not revoke an idle session");
        }
    });
}

/// When each session was last used, for the idle expiry. Kept in core's memory
/// (a `DashMap`, touched on every request): a restarted core starts every open
/// session's idle clock afresh; the absolute expiry is in the database.
#[derive(Clone, Default)]
pub struct SessionUse {
    last: std::sync::Arc<DashMap<String, Instant>>,
}

impl SessionUse {
    /// Marks a session used now.
    pub fn touch(&self, hash: &str) {
        self.last.insert(hash.to_owned(), Instant::now());
    }

    /// Marks it used now unless it has been idle for longer than `idle`. An
    /// idle session keeps its stale entry (it is also revoked in the database),
    /// so that asking again does not start a fresh idle clock.
    fn touch_if_fresh(&self, hash: &str, idle: Duration) -> bool {
        let mut entry = self
            .last
            .entry(hash.to_owned())
            .or_insert_with(Instant::now);
        if entry.elapsed() > idle {
            return false;
        }
        *entry = Instant::now();
        true
    }

    fn forget(&self, hash: &str) {
        self.last.remove(hash);
    }
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
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/internal/auth/login`
#[utoipa::path(post, path = "/api/v1/internal/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, description = "Session token"), (status = 401, description = "Invalid credentials"),
              (status = 422, description = "Invalid body"), (status = 429, description = "Too many failed logins")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(creds): Body<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let user_key = format!("user:{}", creds.username);
    let keys = [
        (user_key.clone(), MAX_FAILURES_PER_USER),
        (format!("addr:{}", peer.ip()), MAX_FAILURES_PER_ADDRESS),
    ];
    state.guard.check(&keys)?;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE username = $1")
            .bind(&creds.username)
            .fetch_optional(&state.pool)
            .await?;
    if !verify(stored, creds.password).await {
        state.guard.failed(&keys);
        tracing::warn!(username = %creds.username, %peer, "failed login");
        let address = Some(peer.ip().to_string());
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
    state.guard.succeeded(&user_key);
    let token = new_secret(32);
    let expires_at = Utc::now() + state.auth.session_ttl;
    let command = Command::CreateSession {
        token_hash: token_hash(&token),
        username: creds.username.clone(),
        expires_at,
    };
    state.persister.run(&command).await?;
    tracing::info!(username = %creds.username, "admin logged in");
    state.sessions.touch(&token_hash(&token));
    audit::record(
        &state,
        &creds.username,
        "login",
        None,
        Some(peer.ip().to_string()),
        json!({}),
    )
    .await;
    Ok(Json(json!({
        "success": true, "token": token, "token_type": "bearer",
        "expires_at": expires_at, "username": creds.username,
    })))
}

/// `POST /api/v1/internal/auth/logout`
#[utoipa::path(post, path = "/api/v1/internal/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Token revoked"), (status = 401, description = "No token, or session already ended"), (status = 403, description = "Invalid token")))]
pub async fn logout(State(state): State<AppState>, admin: Admin) -> Result<Json<Value>, ApiError> {
    if admin.username != "dev-token" {
        state.sessions.forget(&admin.token_hash);
        state
            .persister
            .run(&Command::RevokeSession {
                token_hash: admin.token_hash.clone(),
            })
            .await?;
    }
    audit::record(&state, &admin.username, "logout", None, None, json!({})).await;
    Ok(Json(json!({"success": true, "message": "Logged out"})))
}

/// Argon2 is deliberately slow: run it off the async workers. An unknown user is
/// checked against a dummy hash so that timing does not reveal which names exist.
async fn verify(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.with(|h| h.clone()));
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

thread_local! {
    static DUMMY_HASH: String = hash_password("not a password anyone has").unwrap_or_default();
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Option<String> {
    argon2()
        .hash_password(password.as_bytes())
        .ok()
        .map(|h| h.to_string())
}

/// Argon2id v1.3 with 19 MiB of memory, 2 passes, 1 lane (OWASP's baseline),
/// spelled out so a library default change cannot weaken it.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// `bytes` random bytes as URL-safe base64.
pub fn new_secret(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill(&mut raw[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Creates the first superadmin once the persister answers: from
/// `ADMIN_USERNAME`/`ADMIN_PASSWORD`, or with a generated password (logged once)
/// when none is configured and no admin exists yet.
pub async fn bootstrap_admin(
    pool: sqlx::PgPool,
    persister: Persister,
    username: String,
    password: Option<String>,
) {
    let mut pause = Duration::from_millis(200);
    loop {
        match try_bootstrap(&pool, &persister, &username, password.as_deref()).await {
            Ok(()) => return,
            Err(err) => tracing::debug!(%err, "admin bootstrap will be retried"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

async fn try_bootstrap(
    pool: &sqlx::PgPool,
    persister: &Persister,
    username: &str,
    password: Option<&str>,
) -> Result<(), ApiError> {
    let (password, generated) = match password {
        Some(p) => (p.to_owned(), false),
        None => {
            let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM admins")
                .fetch_one(pool)
                .await?;
            if admins > 0 {
                return Ok(());
            }
            (new_secret(18), true)
        }
    };
    let hash = tokio::task::spawn_blocking(move || hash_password(&password).map(|h| (h, password)))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Internal("password hashing failed".into()))?;
    let (password_hash, password) = hash;
    let done = persister
        .run(&Command::CreateAdmin {
            username: username.to_owned(),
            password_hash,
        })
        .await?;
    if done["created"] == true && generated {
        // Straight to stderr, never through tracing: the logs API serves what tracing records.
        eprintln!("\n  First superadmin created: username `{username}`, password `{password}`\n  (shown only now; set ADMIN_PASSWORD to choose it)\n");
        tracing::warn!(
            username,
            "created the first superadmin with a generated password (printed on stderr)"
        );
    }
    Ok(())
}
