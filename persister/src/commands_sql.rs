//! The SQL behind each write command. Functions return the affected row as JSON,
//! or `None` when the row to change does not exist (answered as 404).

use chrono::{DateTime, Utc};
use moolai_proto::commands::Registration;
use serde_json::{json, Value};
use sqlx::PgConnection;

type Row = Result<Option<Value>, sqlx::Error>;

/// Spec 000 "register": both tables upserted; a new instance is `inactive` until
/// its orchestrator connects, an existing one keeps its live status. A name or
/// location given here is the administrator's and wins over what handshakes
/// announce. Registering again undoes a deregistration. Answers whether the
/// instance was created (or updated), its status and its token generation (0:
/// no token was ever issued for it).
pub async fn register(tx: &mut PgConnection, r: &Registration) -> Result<Value, sqlx::Error> {
    forgive(tx, r.orchestrator_id.as_str()).await?;
    sqlx::query(
        "INSERT INTO organizations (organization_id, name, location, name_from_admin, location_from_admin)
         VALUES ($1, COALESCE($2, 'Organization ' || $1), $3, $2 IS NOT NULL, $3 IS NOT NULL)
         ON CONFLICT (organization_id) DO UPDATE
           SET name = COALESCE($2, organizations.name), location = COALESCE($3, organizations.location),
               name_from_admin = organizations.name_from_admin OR $2 IS NOT NULL,
               location_from_admin = organizations.location_from_admin OR $3 IS NOT NULL,
               updated_at = now()",
    )
    .bind(r.organization_id.as_str())
    .bind(&r.name)
    .bind(&r.location)
    .execute(&mut *tx)
    .await?;
    let (created, status, token_generation): (bool, String, i64) = sqlx::query_as(
        "INSERT INTO orchestrator_instances (orchestrator_id, organization_id, organization_name, name,
           location, internal_url, database_url, redis_url, container_id, image_name,
           environment_variables, features, monitoring_enabled, status, health_status)
         VALUES ($1, $2, (SELECT name FROM organizations WHERE organization_id = $2),
                 (SELECT name FROM organizations WHERE organization_id = $2),
                 $4, $5, $6, $7, $8, $9, $10, $11, $12, 'inactive', 'unknown')
         ON CONFLICT (orchestrator_id) DO UPDATE SET
           organization_id = EXCLUDED.organization_id,
           organization_name = COALESCE($3, orchestrator_instances.organization_name),
           name = COALESCE($3, orchestrator_instances.name),
           location = COALESCE(EXCLUDED.location, orchestrator_instances.location),
           internal_url = COALESCE(EXCLUDED.internal_url, orchestrator_instances.internal_url),
           database_url = COALESCE(EXCLUDED.database_url, orchestrator_instances.database_url),
           redis_url = COALESCE(EXCLUDED.redis_url, orchestrator_instances.redis_url),
           container_id = COALESCE(EXCLUDED.container_id, orchestrator_instances.container_id),
           image_name = COALESCE(EXCLUDED.image_name, orchestrator_instances.image_name),
           environment_variables = EXCLUDED.environment_variables,
           monitoring_enabled = EXCLUDED.monitoring_enabled, updated_at = now()
         RETURNING (xmax = 0), status, token_generation",
    )
    .bind(r.orchestrator_id.as_str())
    .bind(r.organization_id.as_str())
    .bind(&r.name)
    .bind(&r.location)
    .bind(&r.internal_url)
    .bind(&r.database_url)
    .bind(&r.redis_url)
    .bind(&r.container_id)
    .bind(&r.image_name)
    .bind(&r.environment_variables)
    .bind(&r.features)
    .bind(r.monitoring_enabled)
    .fetch_one(&mut *tx)
    .await?;
    tracing::info!(orchestrator_id = %r.orchestrator_id, "DB registration successful for {}", r.orchestrator_id);
    Ok(
        json!({"orchestrator_id": r.orchestrator_id, "organization_id": r.organization_id,
              "created": created, "status": status, "token_generation": token_generation}),
    )
}

/// Lifts a deregistration: the id may connect (and be created by a handshake) again.
async fn forgive(tx: &mut PgConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM deregistered_orchestrators WHERE orchestrator_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Remembers that `id` was removed by an administrator: its handshakes create
/// nothing until it is registered or created again.
async fn banish(tx: &mut PgConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deregistered_orchestrators (orchestrator_id) VALUES ($1)
         ON CONFLICT (orchestrator_id) DO UPDATE SET deregistered_at = now()",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Changes the names an administrator gives an organization (and its instances);
/// handshakes no longer overwrite what was set here.
pub async fn update_organization(
    tx: &mut PgConnection,
    id: &str,
    name: Option<&str>,
    location: Option<&str>,
) -> Row {
    let row: Option<Value> = sqlx::query_scalar(
        "UPDATE organizations SET name = COALESCE($2, name), location = COALESCE($3, location),
                name_from_admin = name_from_admin OR $2 IS NOT NULL,
                location_from_admin = location_from_admin OR $3 IS NOT NULL, updated_at = now()
          WHERE organization_id = $1 RETURNING to_jsonb(organizations.*)",
    )
    .bind(id)
    .bind(name)
    .bind(location)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_some() {
        sqlx::query(
            "UPDATE orchestrator_instances SET name = COALESCE($2, name), organization_name = COALESCE($2, organization_name),
                    location = COALESCE($3, location), updated_at = now()
              WHERE organization_id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(location)
        .execute(&mut *tx)
        .await?;
        tracing::info!(organization_id = id, "Organization {id} updated");
    }
    Ok(row)
}

/// An organization or an instance as an administrator creates it.
pub struct Described<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub location: Option<&'a str>,
    pub features: &'a Value,
    pub metadata: &'a Value,
}

impl Described<'_> {
    /// Runs `insert`, its `$1`..`$5` the id, name, location, features and
    /// metadata; answers the row it returns.
    async fn insert(
        &self,
        tx: &mut PgConnection,
        insert: &'static str,
    ) -> Result<Value, sqlx::Error> {
        sqlx::query_scalar(insert)
            .bind(self.id)
            .bind(self.name)
            .bind(self.location)
            .bind(self.features)
            .bind(self.metadata)
            .fetch_one(tx)
            .await
    }
}

/// A plain insert: an existing organization is a unique violation (409).
pub async fn create_organization(
    tx: &mut PgConnection,
    new: &Described<'_>,
) -> Result<Value, sqlx::Error> {
    let id = new.id;
    forgive(tx, id).await?;
    let row = new
        .insert(
            tx,
            "INSERT INTO organizations (organization_id, name, location, features, metadata,
               name_from_admin, location_from_admin)
             VALUES ($1, $2, $3, $4, $5, TRUE, $3 IS NOT NULL) RETURNING to_jsonb(organizations.*)",
        )
        .await?;
    tracing::info!(
        organization_id = id,
        "Organization {id} created successfully"
    );
    Ok(row)
}

/// A new instance (inactive until it connects), with its organization if missing.
pub async fn create_instance(
    tx: &mut PgConnection,
    new: &Described<'_>,
) -> Result<Value, sqlx::Error> {
    let id = new.id;
    forgive(tx, id).await?;
    sqlx::query(
        "INSERT INTO organizations (organization_id, name, location, name_from_admin, location_from_admin)
         VALUES ($1, $2, $3, TRUE, $3 IS NOT NULL)
         ON CONFLICT (organization_id) DO NOTHING",
    )
    .bind(id)
    .bind(new.name)
    .bind(new.location)
    .execute(&mut *tx)
    .await?;
    let row = new
        .insert(
            tx,
            "INSERT INTO orchestrator_instances (orchestrator_id, organization_id, organization_name, name,
               location, features, metadata, status, health_status)
             VALUES ($1, $1, $2, $2, $3, $4, $5, 'inactive', 'unknown')
             RETURNING to_jsonb(orchestrator_instances.*)",
        )
        .await?;
    tracing::info!(
        orchestrator_id = id,
        "Orchestrator instance {id} created successfully"
    );
    Ok(row)
}

/// Deletes an instance (with its messages when `with_messages`), then its
/// organization if no other instance belongs to it.
pub async fn delete_instance(tx: &mut PgConnection, id: &str, with_messages: bool) -> Row {
    if with_messages {
        sqlx::query("DELETE FROM orchestrator_messages WHERE orchestrator_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let org: Option<Option<String>> = sqlx::query_scalar(
        "DELETE FROM orchestrator_instances WHERE orchestrator_id = $1 RETURNING organization_id",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(org) = org else { return Ok(None) };
    banish(tx, id).await?;
    let org = org.unwrap_or_else(|| id.to_owned());
    let removed = sqlx::query(
        "DELETE FROM organizations o WHERE o.organization_id = $1
           AND NOT EXISTS (SELECT 1 FROM orchestrator_instances i WHERE i.organization_id = o.organization_id)",
    )
    .bind(&org)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tracing::info!(
        orchestrator_id = id,
        "Orchestrator {id} deregistered from database"
    );
    Ok(Some(
        json!({"orchestrator_id": id, "organization_id": org, "organization_deleted": removed > 0}),
    ))
}

/// Sets independence on both tables. Turning it off makes the status what the
/// connection says (active if connected), not the first version's `inactive`.
pub async fn set_independence(
    tx: &mut PgConnection,
    id: &str,
    on: bool,
    privacy: Option<bool>,
) -> Row {
    let row: Option<Value> = sqlx::query_scalar(
        "UPDATE orchestrator_instances SET
           is_independent = $2, privacy_mode = COALESCE($3, privacy_mode),
           rule_revision = rule_revision + 1,
           status = CASE WHEN $2 THEN 'independent'
                         WHEN conn_id IS NOT NULL AND disconnected_at IS NULL THEN 'active'
                         ELSE 'inactive' END,
           updated_at = now()
         WHERE orchestrator_id = $1
         RETURNING jsonb_build_object('orchestrator_id', orchestrator_id, 'organization_id', organization_id,
           'is_independent', is_independent, 'privacy_mode', privacy_mode, 'status', status,
           'revision', rule_revision)",
    )
    .bind(id)
    .bind(on)
    .bind(privacy)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    sqlx::query("UPDATE organizations SET is_independent = $2, updated_at = now() WHERE organization_id = $1")
        .bind(row["organization_id"].as_str().unwrap_or(id))
        .bind(on)
        .execute(&mut *tx)
        .await?;
    tracing::info!(
        orchestrator_id = id,
        "Independence mode {} for {id}",
        if on { "enabled" } else { "disabled" }
    );
    Ok(Some(row))
}

/// A controller-written message for a known orchestrator.
pub async fn create_message(
    tx: &mut PgConnection,
    message_id: &str,
    orchestrator_id: &str,
    message_type: &str,
    content: &str,
    metadata: &Value,
) -> Row {
    let row = sqlx::query_scalar(
        "INSERT INTO orchestrator_messages (id, orchestrator_id, message_type, content, message_metadata, source)
         SELECT $1, $2, $3, $4, $5, 'controller'
          WHERE EXISTS (SELECT 1 FROM orchestrator_instances WHERE orchestrator_id = $2)
         RETURNING to_jsonb(orchestrator_messages.*)",
    )
    .bind(message_id)
    .bind(orchestrator_id)
    .bind(message_type)
    .bind(content)
    .bind(metadata)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_some() {
        tracing::info!(
            orchestrator_id,
            "Message {message_id} created for {orchestrator_id} (type: {message_type})"
        );
    }
    Ok(row)
}

pub async fn set_message_status(tx: &mut PgConnection, message_id: &str, status: &str) -> Row {
    let row = sqlx::query_scalar(
        "UPDATE orchestrator_messages SET status = $2, revision = revision + 1, updated_at = now() WHERE id = $1
         RETURNING to_jsonb(orchestrator_messages.*)",
    )
    .bind(message_id)
    .bind(status)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_some() {
        tracing::info!("Message {message_id} status updated to '{status}'");
    }
    Ok(row)
}

/// Whether the admin was created (false: one with that name exists).
pub async fn create_admin(
    tx: &mut PgConnection,
    username: &str,
    hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO admins (username, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(username)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn create_session(
    tx: &mut PgConnection,
    token_hash: &str,
    username: &str,
    expires_at: DateTime<Utc>,
) -> Result<Value, sqlx::Error> {
    sqlx::query("INSERT INTO sessions (token_hash, username, expires_at) VALUES ($1, $2, $3)")
        .bind(token_hash)
        .bind(username)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    Ok(json!({"username": username, "expires_at": expires_at}))
}

pub async fn revoke_session(tx: &mut PgConnection, token_hash: &str) -> Row {
    sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL
         RETURNING jsonb_build_object('username', username)",
    )
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await
}

/// The liveness rule: no heartbeat processed for `ttl_sec` → `inactive`, health
/// `unknown`. Independent orchestrators are never stale (their heartbeats are
/// ignored on purpose). Returns the ids it changed.
/// Marks silent orchestrators inactive: after 3 of the heartbeat intervals they
/// announced (bounded to 5 s – 1 h; the `liveness_ttl_sec` column, migration
/// 0006), or after `ttl_sec` if they announced none.
/// Three, so that losing one heartbeat in three (a gap of two intervals) never
/// flaps an orchestrator, while a silent one is noticed within 3× its interval
/// plus one sweep. The 5 s floor keeps sub-second benchmark intervals from
/// turning ordinary write lag into a verdict.
///
/// Rows locked by a heartbeat write in progress are skipped (`SKIP LOCKED`):
/// they are being refreshed, so they are not silent — and waiting on them made
/// the sweep and the heartbeat writes queue behind each other for seconds.
pub async fn expire_stale(tx: &mut PgConnection, ttl_sec: u64) -> Result<Value, sqlx::Error> {
    // Each with its own limit and how long it was really silent, so the log
    // says the true reason (a 1 s beater is stale after 3 s, not the default TTL).
    let stale: Vec<(String, f64, f64)> = sqlx::query_as(
        "WITH stale AS (
           SELECT orchestrator_id, COALESCE(liveness_ttl_sec, $1)::float8 AS limit_sec,
                  EXTRACT(EPOCH FROM now() - COALESCE(last_seen, connected_at, created_at))::float8 AS silent_sec
             FROM orchestrator_instances
            WHERE status = 'active' AND NOT is_independent
              AND COALESCE(last_seen, connected_at, created_at)
                  < now() - make_interval(secs => COALESCE(liveness_ttl_sec, $1))
              FOR UPDATE SKIP LOCKED)
         UPDATE orchestrator_instances AS o
            SET status = 'inactive', health_status = 'unknown', updated_at = now()
           FROM stale WHERE o.orchestrator_id = stale.orchestrator_id
         RETURNING o.orchestrator_id, stale.limit_sec, stale.silent_sec",
    )
    .persistent(false) // as the heartbeat write: the table's size changes by orders
    .bind(ttl_sec as f64)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<&str> = stale.iter().map(|(id, ..)| id.as_str()).collect();
    if !ids.is_empty() {
        sqlx::query(
            "UPDATE organizations o SET status = 'inactive', updated_at = now()
              WHERE o.organization_id = ANY($1)
                AND NOT EXISTS (SELECT 1 FROM orchestrator_instances i
                                 WHERE i.organization_id = o.organization_id AND i.status = 'active')",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    }
    let answer: Vec<Value> = stale
        .iter()
        .map(|(id, limit, silent)| {
            json!({"orchestrator_id": id, "limit_sec": limit.round() as u64,
                   "silent_sec": silent.floor() as u64})
        })
        .collect();
    Ok(Value::Array(answer))
}

/// Records `fence` as the newest of `duty` unless a newer one is recorded;
/// `false` when it is older (its holder lost the lease). The row lock orders
/// two sweeps racing each other.
pub async fn advance_fence(
    tx: &mut PgConnection,
    duty: &str,
    fence: moolai_proto::commands::Fence,
) -> Result<bool, sqlx::Error> {
    let advanced: Option<i32> = sqlx::query_scalar(
        "INSERT INTO core_duty_fences AS f (duty, epoch, revision) VALUES ($1, $2, $3)
         ON CONFLICT (duty) DO UPDATE SET epoch = EXCLUDED.epoch, revision = EXCLUDED.revision
          WHERE (f.epoch, f.revision) <= (EXCLUDED.epoch, EXCLUDED.revision)
         RETURNING 1",
    )
    .bind(duty)
    .bind(fence.epoch)
    .bind(fence.revision as i64)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(advanced.is_some())
}

pub async fn audit(
    tx: &mut PgConnection,
    actor: &str,
    action: &str,
    target: Option<&str>,
    address: Option<&str>,
    detail: &Value,
) -> Result<Value, sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (actor, action, target, address, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(address)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    Ok(Value::Null)
}

/// Voids every token issued so far for `id` (and any generation up to `above`);
/// returns the new generation.
pub async fn bump_token_generation(tx: &mut PgConnection, id: &str, above: u64) -> Row {
    sqlx::query_scalar(
        "UPDATE orchestrator_instances
            SET token_generation = GREATEST(token_generation, $2) + 1, updated_at = now()
          WHERE orchestrator_id = $1 RETURNING to_jsonb(token_generation)",
    )
    .bind(id)
    .bind(i64::try_from(above).unwrap_or(i64::MAX - 1))
    .fetch_optional(&mut *tx)
    .await
}

/// Deletes an organization without instances; one that still has some is a
/// conflict (deregister them first), an unknown one is not found.
pub async fn delete_organization(
    tx: &mut PgConnection,
    id: &str,
) -> Result<Result<Value, (moolai_proto::commands::Failure, String)>, sqlx::Error> {
    use moolai_proto::commands::Failure;
    let deleted: Option<String> = sqlx::query_scalar(
        "DELETE FROM organizations o WHERE organization_id = $1
           AND NOT EXISTS (SELECT 1 FROM orchestrator_instances i WHERE i.organization_id = o.organization_id)
         RETURNING organization_id",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if deleted.is_some() {
        banish(tx, id).await?;
        tracing::info!(organization_id = id, "Organization {id} deleted");
        return Ok(Ok(json!({"organization_id": id})));
    }
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM organizations WHERE organization_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Err(if exists {
        (
            Failure::Conflict,
            format!("organization {id} still has orchestrators; deregister them first"),
        )
    } else {
        (Failure::NotFound, format!("organization {id} not found"))
    }))
}
