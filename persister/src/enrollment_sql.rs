//! Enrollment credentials (migration 0008): create, revoke, and use one to
//! register a new orchestrator. Every refusal of [`enroll`] is decided under the
//! credential's row lock, so concurrent uses never exceed `max_uses`.

use chrono::{DateTime, Utc};
use moolai_proto::commands::{EnrollRequest, Failure, NewEnrollment};
use serde_json::{json, Value};
use sqlx::PgConnection;

/// A command's own refusal, or what it answers.
type Decided = Result<Result<Value, (Failure, String)>, sqlx::Error>;

/// The longest an enrollment credential may live; the persister bounds it too,
/// whatever core asked.
pub const MAX_LIFETIME_DAYS: i64 = 366;

pub async fn create(tx: &mut PgConnection, e: &NewEnrollment) -> Decided {
    let latest = Utc::now() + chrono::Duration::days(MAX_LIFETIME_DAYS);
    if e.expires_at <= Utc::now() || e.expires_at > latest {
        let why = format!("expires_at must be in the next {MAX_LIFETIME_DAYS} days");
        return Ok(Err((Failure::Invalid, why)));
    }
    if e.max_uses == Some(0) || e.max_uses.is_some_and(|m| m > i32::MAX as u32) {
        return Ok(Err((Failure::Invalid, "max_uses must be positive".into())));
    }
    let row: Value = sqlx::query_scalar(
        "INSERT INTO enrollment_tokens (id, secret_hash, description, id_prefix, organization_id,
           max_uses, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING to_jsonb(enrollment_tokens.*) - 'secret_hash'",
    )
    .bind(&e.id)
    .bind(&e.secret_hash)
    .bind(&e.description)
    .bind(&e.id_prefix)
    .bind(e.organization_id.as_ref().map(|o| o.as_str()))
    .bind(e.max_uses.map(|m| m as i32))
    .bind(e.expires_at)
    .bind(&e.created_by)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Ok(row))
}

pub async fn revoke(tx: &mut PgConnection, id: &str) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
         RETURNING to_jsonb(enrollment_tokens.*) - 'secret_hash'",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
}

/// The credential's row, locked for this transaction.
#[derive(sqlx::FromRow)]
struct Credential {
    id: String,
    id_prefix: Option<String>,
    organization_id: Option<String>,
    max_uses: Option<i32>,
    uses: i32,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Why the credential cannot be used now (answered 401 by core), if it cannot.
fn unusable(c: &Credential) -> Option<&'static str> {
    if c.revoked_at.is_some() {
        Some("enrollment token revoked")
    } else if c.expires_at <= Utc::now() {
        Some("enrollment token expired")
    } else if c.max_uses.is_some_and(|m| c.uses >= m) {
        Some("enrollment token used up")
    } else {
        None
    }
}

/// Registers `r.orchestrator_id` at token generation 1 if the credential allows
/// it and the id (and, unscoped, its organization) is new. A deregistered id is
/// not new: only an administrator may bring it back.
pub async fn enroll(tx: &mut PgConnection, r: &EnrollRequest) -> Decided {
    let credential: Option<Credential> = sqlx::query_as(
        "SELECT id, id_prefix, organization_id, max_uses, uses, expires_at, revoked_at
           FROM enrollment_tokens WHERE secret_hash = $1 FOR UPDATE",
    )
    .bind(&r.secret_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(c) = credential else {
        return Ok(Err((Failure::NotFound, "unknown enrollment token".into())));
    };
    if let Some(why) = unusable(&c) {
        return Ok(Err((Failure::NotFound, why.into())));
    }
    let id = r.orchestrator_id.as_str();
    if let Some(prefix) = c.id_prefix.as_deref().filter(|p| !id.starts_with(p)) {
        let why = format!("this enrollment token only enrolls ids starting with '{prefix}'");
        return Ok(Err((Failure::Invalid, why)));
    }
    let organization = c.organization_id.clone().unwrap_or_else(|| id.to_owned());
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM orchestrator_instances WHERE orchestrator_id = $1)
             OR EXISTS (SELECT 1 FROM deregistered_orchestrators WHERE orchestrator_id = $1)
             OR ($3 AND EXISTS (SELECT 1 FROM organizations WHERE organization_id = $2))",
    )
    .bind(id)
    .bind(&organization)
    .bind(c.organization_id.is_none())
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        let why = format!(
            "orchestrator {id} already exists (or was deregistered): an enrollment token \
             registers new ids only; an administrator can issue its token"
        );
        return Ok(Err((Failure::Conflict, why)));
    }
    insert_instance(tx, id, &organization).await?;
    sqlx::query("UPDATE enrollment_tokens SET uses = uses + 1, last_used_at = now() WHERE id = $1")
        .bind(&c.id)
        .execute(&mut *tx)
        .await?;
    tracing::info!(orchestrator_id = id, enrollment_id = %c.id, "Orchestrator {id} enrolled");
    Ok(Ok(json!({
        "orchestrator_id": id, "organization_id": organization,
        "generation": 1, "enrollment_id": c.id,
    })))
}

/// The organization if missing, then the instance (a plain insert: a concurrent
/// enrollment of the same id waits for this one and then fails as a conflict).
async fn insert_instance(tx: &mut PgConnection, id: &str, org: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO organizations (organization_id, name) VALUES ($1, 'Organization ' || $1)
         ON CONFLICT (organization_id) DO NOTHING",
    )
    .bind(org)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO orchestrator_instances (orchestrator_id, organization_id, organization_name,
           name, status, health_status, token_generation)
         SELECT $1, organization_id, name, name, 'inactive', 'unknown', 1
           FROM organizations WHERE organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn credential() -> Credential {
        Credential {
            id: "e1".into(),
            id_prefix: None,
            organization_id: None,
            max_uses: None,
            uses: 0,
            expires_at: Utc::now() + Duration::hours(1),
            revoked_at: None,
        }
    }

    #[test]
    fn a_credential_is_unusable_once_revoked_expired_or_used_up() {
        assert_eq!(unusable(&credential()), None);
        let unlimited = Credential {
            uses: 10_000,
            ..credential()
        };
        assert_eq!(unusable(&unlimited), None, "no max_uses: no limit");
        let revoked = Credential {
            revoked_at: Some(Utc::now()),
            ..credential()
        };
        assert_eq!(unusable(&revoked), Some("enrollment token revoked"));
        let expired = Credential {
            expires_at: Utc::now() - Duration::seconds(1),
            ..credential()
        };
        assert_eq!(unusable(&expired), Some("enrollment token expired"));
        let used_up = Credential {
            max_uses: Some(2),
            uses: 2,
            ..credential()
        };
        assert_eq!(unusable(&used_up), Some("enrollment token used up"));
        let one_left = Credential {
            max_uses: Some(2),
            uses: 1,
            ..credential()
        };
        assert_eq!(unusable(&one_left), None);
    }
}
