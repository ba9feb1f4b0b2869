//! Argon2id password hashing, run off the async workers, and the first admin
//! made (or its password rotated) at start from `ADMIN_USERNAME`/`ADMIN_PASSWORD`.

use std::io::IsTerminal;
use std::sync::LazyLock;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use moolai_proto::commands::Command;
use rand::RngExt;
use serde_json::json;

use super::error::ApiError;
use crate::persister_client::Persister;

/// What an unknown username is checked against, so that it costs the same
/// argon2 work as a wrong password and timing does not tell which names exist.
/// Made once (at start, see [`warm_up`]), not on each blocking thread.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a password anyone has").unwrap_or_default());

/// Computes the dummy hash before the first login needs it.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(|| LazyLock::force(&DUMMY_HASH)).await;
}

/// Whether `password` matches `stored` (an unknown user: `None`, checked
/// against the dummy hash all the same). Off the async workers.
pub async fn verify(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        matches(&phc, &password) && known
    })
    .await
    .unwrap_or(false)
}

fn matches(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Option<String> {
    argon2()
        .hash_password(password.as_bytes())
        .ok()
        .map(|h| h.to_string())
}

/// [`hash_password`] off the async workers.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Internal("password hashing failed".into()))
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

/// Brings `ADMIN_USERNAME` in line with `ADMIN_PASSWORD` once the persister
/// answers (retrying until then); without `ADMIN_PASSWORD`, creates a first
/// admin only when there is none and core has a terminal to show it on.
pub async fn bootstrap_admin(
    pool: sqlx::PgPool,
    persister: Persister,
    username: String,
    password: Option<String>,
) {
    warm_up().await;
    let mut pause = Duration::from_millis(200);
    loop {
        let attempt = match password.as_deref() {
            Some(p) => apply_configured(&pool, &persister, &username, p).await,
            None => generate_first(&pool, &persister, &username).await,
        };
        match attempt {
            Ok(()) => return,
            Err(err) => tracing::debug!(%err, "admin bootstrap will be retried"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Creates the admin with `password`, or, when `ADMIN_PASSWORD` differs from
/// the value applied last, replaces its password and ends its sessions. A
/// password changed through the API stays as long as `ADMIN_PASSWORD` does not
/// change.
async fn apply_configured(
    pool: &sqlx::PgPool,
    persister: &Persister,
    username: &str,
    password: &str,
) -> Result<(), ApiError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT password_hash, environment_password_hash FROM admins WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    let Some((current, applied)) = row else {
        let password_hash = hash(password.to_owned()).await?;
        let command = Command::CreateAdmin {
            username: username.to_owned(),
            password_hash,
        };
        persister.run(&command).await?;
        return Ok(());
    };
    let reference = applied.unwrap_or(current);
    if verify(Some(reference), password.to_owned()).await {
        return Ok(());
    }
    let command = Command::SetAdminPassword {
        username: username.to_owned(),
        password_hash: hash(password.to_owned()).await?,
        keep_session: None,
        from_environment: true,
    };
    let detail = json!({"source": "ADMIN_PASSWORD"});
    let audit = super::audit::entry(
        "core",
        "admin_password_rotated",
        Some(username),
        None,
        detail,
    )
    .with_answer(&["sessions_ended"]);
    let done = persister.run_audited(&command, audit).await?;
    tracing::warn!(
        username = ?username,
        sessions_ended = %done["sessions_ended"],
        "ADMIN_PASSWORD changed: the admin's password is replaced and its sessions ended"
    );
    Ok(())
}

/// No `ADMIN_PASSWORD`: a first admin with a generated password, shown on
/// core's terminal only. Never through tracing: log files and the logs API keep
/// what tracing records. Without a terminal (a service, a container, output
/// redirected to a file) nobody could read it safely, so none is made.
async fn generate_first(
    pool: &sqlx::PgPool,
    persister: &Persister,
    username: &str,
) -> Result<(), ApiError> {
    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM admins")
        .fetch_one(pool)
        .await?;
    if admins > 0 {
        return Ok(());
    }
    if !std::io::stdout().is_terminal() {
        tracing::error!(
            "no admin exists and ADMIN_PASSWORD is unset: set ADMIN_PASSWORD (at least 12 \
             characters) and restart core; a generated password is shown only on a terminal"
        );
        return Ok(());
    }
    let password = new_secret(18);
    let command = Command::CreateAdmin {
        username: username.to_owned(),
        password_hash: hash(password.clone()).await?,
    };
    let done = persister.run(&command).await?;
    if done["created"] == true {
        println!("\n  First superadmin created: username `{username}`, password `{password}`\n  (shown only now, on this terminal; set ADMIN_PASSWORD to choose it)\n");
        tracing::warn!(username = ?username, "created the first superadmin with a generated password (shown on the terminal only)");
    }
    Ok(())
}
