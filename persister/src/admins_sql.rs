//! The SQL behind the admin and session commands of issue 12: password changes
//! (ending sessions), adding and removing admins, and a session's last use.

use moolai_proto::commands::Failure;
use serde_json::{json, Value};
use sqlx::PgConnection;

type Row = Result<Option<Value>, sqlx::Error>;

/// Marks a session used now (the database's clock, as the idle check reads it).
pub async fn touch_session(tx: &mut PgConnection, token_hash: &str) -> Row {
    sqlx::query_scalar(
        "UPDATE sessions SET last_used_at = now() WHERE token_hash = $1
         RETURNING jsonb_build_object('username', username)",
    )
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await
}

/// Replaces the password and revokes every open session of the admin but
/// `keep`. `from_environment` records it as the `ADMIN_PASSWORD` applied; a
/// change through the API first keeps the old hash as that reference when none
/// was recorded (an admin created before migration 0009), so that an unchanged
/// `ADMIN_PASSWORD` does not undo it at the next start.
pub async fn set_admin_password(
    tx: &mut PgConnection,
    username: &str,
    hash: &str,
    keep: Option<&str>,
    from_environment: bool,
) -> Row {
    let updated = sqlx::query(
        "UPDATE admins SET password_hash = $2, password_changed_at = now(),
                environment_password_hash = CASE WHEN $3 THEN $2
                    ELSE COALESCE(environment_password_hash, password_hash) END
          WHERE username = $1",
    )
    .bind(username)
    .bind(hash)
    .bind(from_environment)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    let ended = sqlx::query(
        "UPDATE sessions SET revoked_at = now()
          WHERE username = $1 AND revoked_at IS NULL AND token_hash IS DISTINCT FROM $2",
    )
    .bind(username)
    .bind(keep)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tracing::info!(
        username = ?username,
        sessions_ended = ended,
        "admin password changed"
    );
    Ok(Some(json!({"username": username, "sessions_ended": ended})))
}

/// A new admin; an existing name is a unique violation (409).
pub async fn add_admin(
    tx: &mut PgConnection,
    username: &str,
    hash: &str,
    superadmin: bool,
) -> Result<Value, sqlx::Error> {
    let row: Value = sqlx::query_scalar(
        "INSERT INTO admins (username, password_hash, superadmin) VALUES ($1, $2, $3)
         RETURNING jsonb_build_object('username', username, 'superadmin', superadmin,
                                      'created_at', created_at)",
    )
    .bind(username)
    .bind(hash)
    .bind(superadmin)
    .fetch_one(&mut *tx)
    .await?;
    tracing::info!(username = ?username, superadmin, "admin added");
    Ok(row)
}

/// Removes an admin (its sessions go with it, `ON DELETE CASCADE`). The rows
/// are locked first so two removals at once cannot leave no admin at all.
pub async fn remove_admin(
    tx: &mut PgConnection,
    username: &str,
) -> Result<Result<Value, (Failure, String)>, sqlx::Error> {
    let admins: Vec<(String, bool)> =
        sqlx::query_as("SELECT username, superadmin FROM admins ORDER BY username FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    let Some((_, superadmin)) = admins.iter().find(|(name, _)| name == username) else {
        return Ok(Err((
            Failure::NotFound,
            format!("admin {username} not found"),
        )));
    };
    if admins.len() == 1 {
        return Ok(Err((
            Failure::Conflict,
            "the last admin cannot be removed".into(),
        )));
    }
    if *superadmin && admins.iter().filter(|(_, s)| *s).count() == 1 {
        return Ok(Err((
            Failure::Conflict,
            "the last superadmin cannot be removed".into(),
        )));
    }
    sqlx::query("DELETE FROM admins WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await?;
    tracing::info!(username = ?username, "admin removed");
    Ok(Ok(json!({"username": username})))
}
