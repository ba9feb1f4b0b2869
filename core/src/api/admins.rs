//! Admins manage themselves and each other: who am I, change my password, list,
//! add and remove admins (superadmins only; never the last one), and clear the
//! login throttle. Every change is audited, never with a password.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Path, State};
use axum::Json;
use moolai_proto::commands::Command;
use moolai_proto::secret::MIN_PASSWORD_CHARS;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::audit;
use crate::api::auth::{shortened, MAX_PASSWORD_CHARS};
use crate::api::error::ApiError;
use crate::api::extract::Body;
use crate::api::extract::{Admin, DEV_TOKEN_USER};
use crate::api::AppState;

/// Longest name of a new admin.
const MAX_NEW_USERNAME: usize = 64;

/// The admin a token stands for (`dev-token` for the development token).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub success: bool,
    pub username: String,
    pub superadmin: bool,
}

/// `GET /api/v1/internal/auth/me`
#[utoipa::path(get, operation_id = "get_me", path = "/api/v1/internal/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The token's admin", body = Me)))]
pub async fn me(admin: Admin) -> Json<Me> {
    Json(Me {
        success: true,
        username: admin.username,
        superadmin: admin.superadmin,
    })
}

/// A password changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    pub success: bool,
    /// The admin's other sessions, now ended.
    #[schema(required = true)]
    pub sessions_ended: Option<i64>,
}

/// An admin added: `data` as stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminAdded {
    pub success: bool,
    pub data: NewAdminRow,
}

/// The row of an admin just added (never its password).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewAdminRow {
    pub username: String,
    pub superadmin: bool,
    /// RFC 3339, as PostgreSQL writes it.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// An admin removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminRemoved {
    pub success: bool,
    pub username: String,
}

/// Throttle entries cleared.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    pub success: bool,
    /// Entries of this core removed.
    pub cleared: usize,
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// 12 to 1024 characters.
    pub new_password: String,
}

/// `POST /api/v1/internal/auth/password`
#[utoipa::path(post, operation_id = "change_password", path = "/api/v1/internal/auth/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 200, description = "Changed; the admin's other sessions are ended", body = PasswordChanged),
              (status = 403, description = "The development token has no password"),
              (status = 422, description = "Current password wrong, or new one too short/long"),
              (status = 429, description = "Too many logins or changes in progress")))]
pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    admin: Admin,
    Body(change): Body<PasswordChange>,
) -> Result<Json<PasswordChanged>, ApiError> {
    if admin.username == DEV_TOKEN_USER {
        return Err(ApiError::Forbidden(
            "the development token has no password; log in as an admin".into(),
        ));
    }
    check_password("new_password", &change.new_password)?;
    // A wrong current password counts as a failed login of this admin from this
    // address, so this endpoint cannot be used to guess it faster.
    let attempt = state.guard.admit_with_session(&admin.username, peer.ip())?;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE username = $1")
            .bind(&admin.username)
            .fetch_optional(&state.pool)
            .await?;
    if !state
        .passwords
        .verify(stored, change.current_password)
        .await
    {
        let address = Some(peer.ip().to_string());
        let detail = json!({"reason": "current password wrong"});
        audit::record(
            &state,
            &admin.username,
            "password_change_failed",
            None,
            address,
            detail,
        )
        .await;
        return Err(ApiError::field(
            "body",
            "current_password",
            "is not correct",
        ));
    }
    let password_hash = state.passwords.hash(change.new_password).await?;
    drop(attempt);
    let command = Command::SetAdminPassword {
        username: admin.username.clone(),
        password_hash,
        keep_session: Some(admin.token_hash.clone()),
        from_environment: false,
    };
    let audit = audit::by(&admin, "password_changed", &admin.username, json!({}))
        .with_answer(&["sessions_ended"]);
    let done = state.persister.run_audited(&command, audit).await?;
    state.guard.unlock(Some(&admin.username), Some(peer.ip()));
    Ok(Json(PasswordChanged {
        success: true,
        sessions_ended: done["sessions_ended"].as_i64(),
    }))
}

fn check_password(field: &str, password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        let msg = format!("between {MIN_PASSWORD_CHARS} and {MAX_PASSWORD_CHARS} characters");
        return Err(ApiError::field("body", field, msg));
    }
    Ok(())
}

/// One admin, as listed (never its password).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AdminItem {
    pub username: String,
    pub superadmin: bool,
    /// RFC 3339, as PostgreSQL writes it.
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub password_changed_at: String,
    /// Sessions neither logged out nor expired.
    pub open_sessions: i64,
}

/// `GET /api/v1/internal/admins`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminList {
    pub success: bool,
    pub data: AdminPage,
}

/// The admins of an [`AdminList`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminPage {
    pub total: usize,
    pub items: Vec<AdminItem>,
}

/// `GET /api/v1/internal/admins`
#[utoipa::path(get, operation_id = "list_admins", path = "/api/v1/internal/admins", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Every admin", body = AdminList)))]
pub async fn list(State(state): State<AppState>, _: Admin) -> Result<Json<AdminList>, ApiError> {
    let items: Vec<AdminItem> = sqlx::query_as(
        "SELECT a.username, a.superadmin, to_jsonb(a.created_at) #>> '{}' AS created_at,
                to_jsonb(a.password_changed_at) #>> '{}' AS password_changed_at,
                (SELECT count(*) FROM sessions s WHERE s.username = a.username
                   AND s.revoked_at IS NULL AND s.expires_at > now()) AS open_sessions
           FROM admins a ORDER BY a.username",
    )
    .fetch_all(&state.pool)
    .await?;
    let data = AdminPage {
        total: items.len(),
        items,
    };
    Ok(Json(AdminList {
        success: true,
        data,
    }))
}

/// A new admin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAdmin {
    /// 1 to 64 of `A-Z a-z 0-9 . _ @ -`.
    pub username: String,
    /// 12 to 1024 characters.
    pub password: String,
    /// May manage admins too (default false).
    #[serde(default)]
    pub superadmin: bool,
}

fn superadmin_only(admin: &Admin) -> Result<(), ApiError> {
    if admin.superadmin {
        return Ok(());
    }
    // The development token stands for no admin, so it cannot be made one; the
    // answer says which login can.
    if admin.username == DEV_TOKEN_USER {
        return Err(ApiError::Forbidden(
            "the development token (DEV_BEARER_TOKEN) cannot add or remove admins: \
             log in as a superadmin (POST /api/v1/internal/auth/login; scripts/stack.sh's \
             `admin`, password in .data/admin-password)"
                .into(),
        ));
    }
    Err(ApiError::Forbidden(
        "only a superadmin may add or remove admins".into(),
    ))
}

fn valid_username(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
    (1..=MAX_NEW_USERNAME).contains(&name.len())
        && name.chars().all(allowed)
        && name != DEV_TOKEN_USER
}

/// `POST /api/v1/internal/admins`
#[utoipa::path(post, operation_id = "create_admin", path = "/api/v1/internal/admins", tag = "auth", security(("bearer" = [])), request_body = NewAdmin,
    responses((status = 200, description = "Added", body = AdminAdded), (status = 403, description = "Not a superadmin"),
              (status = 409, description = "That username exists"), (status = 422, description = "Invalid username or password")))]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Body(new): Body<NewAdmin>,
) -> Result<Json<AdminAdded>, ApiError> {
    superadmin_only(&admin)?;
    if !valid_username(&new.username) {
        let msg = "1 to 64 of A-Z a-z 0-9 . _ @ -";
        return Err(ApiError::field("body", "username", msg));
    }
    check_password("password", &new.password)?;
    let _slot = state.guard.hashing_slot()?;
    let command = Command::AddAdmin {
        username: new.username.clone(),
        password_hash: state.passwords.hash(new.password).await?,
        superadmin: new.superadmin,
    };
    let detail = json!({"superadmin": new.superadmin});
    let audit = audit::by(&admin, "admin_added", &new.username, detail);
    let row = state.persister.run_audited(&command, audit).await?;
    let data = serde_json::from_value(row)
        .map_err(|e| ApiError::internal("unexpected answer to add_admin", e))?;
    Ok(Json(AdminAdded {
        success: true,
        data,
    }))
}

/// `DELETE /api/v1/internal/admins/{username}`
#[utoipa::path(delete, operation_id = "remove_admin", path = "/api/v1/internal/admins/{username}", tag = "auth", security(("bearer" = [])),
    params(("username" = String, Path, description = "The admin to remove")),
    responses((status = 200, description = "Removed, with its sessions", body = AdminRemoved), (status = 403, description = "Not a superadmin"),
              (status = 404, description = "No such admin"), (status = 409, description = "The last admin or last superadmin")))]
pub async fn remove(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
) -> Result<Json<AdminRemoved>, ApiError> {
    superadmin_only(&admin)?;
    let command = Command::RemoveAdmin {
        username: username.clone(),
    };
    let audit = audit::by(&admin, "admin_removed", &shortened(&username), json!({}));
    state.persister.run_audited(&command, audit).await?;
    Ok(Json(AdminRemoved {
        success: true,
        username,
    }))
}

/// What to unlock: a username (from every address), an address (for every
/// username), or one pair.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Unlock {
    pub username: Option<String>,
    pub address: Option<String>,
}

/// `POST /api/v1/internal/auth/unlock`
#[utoipa::path(post, operation_id = "unlock_login", path = "/api/v1/internal/auth/unlock", tag = "auth", security(("bearer" = [])), request_body = Unlock,
    responses((status = 200, description = "Throttle entries of this core removed", body = Unlocked),
              (status = 422, description = "Neither username nor address, or an invalid address")))]
pub async fn unlock(
    State(state): State<AppState>,
    admin: Admin,
    Body(what): Body<Unlock>,
) -> Result<Json<Unlocked>, ApiError> {
    let address = match &what.address {
        Some(raw) => Some(
            raw.trim()
                .parse::<IpAddr>()
                .map_err(|_| ApiError::field("body", "address", "an IPv4 or IPv6 address"))?,
        ),
        None => None,
    };
    if what.username.is_none() && address.is_none() {
        return Err(ApiError::field(
            "body",
            "username",
            "give a username, an address, or both",
        ));
    }
    let cleared = state.guard.unlock(what.username.as_deref(), address);
    let target = what.username.as_deref().map_or("*".into(), shortened);
    let detail = json!({"address": what.address, "cleared": cleared});
    let actor = &admin.username;
    audit::record(&state, actor, "login_unlocked", Some(&target), None, detail).await;
    Ok(Json(Unlocked {
        success: true,
        cleared,
    }))
}
