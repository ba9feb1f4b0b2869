//! Answers write commands from core (request/reply on `{p}.persist.commands`).
//! Each command is one transaction, together with the audit entry recording it;
//! the reply is sent only after it commits, so a client that reads after a
//! successful write sees it, and a committed change never lacks its entry.

use std::sync::Arc;

use async_nats::Subscriber;
use bytes::Bytes;
use futures::StreamExt;
use moolai_proto::commands::{AuditEntry, Command, Failure, Fence, Reply, Request};
use moolai_proto::id::OrchestratorId;
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admins_sql as admins;
use crate::bounds::Bounds;
use crate::commands_sql as sql;
use crate::config_sql::{self as revisions, Reason};
use crate::enrollment_sql as enrollment;
use crate::outcome::Outcome;
use crate::queued_sql as queued;

/// Commands handled at once; more wait in the subscription.
const CONCURRENCY: usize = 16;

/// Serves commands until `shutdown`.
pub async fn serve(
    nats: async_nats::Client,
    mut sub: Subscriber,
    pool: PgPool,
    bounds: Bounds,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return,
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { return };
        let Some(reply_to) = msg.reply.clone() else {
            continue;
        };
        // Core asks with a request, so its reply subject is an inbox. Anything
        // else came another way (e.g. a JetStream consumer made to deliver here,
        // whose reply is `$JS.ACK.…`): not a command from core, not answered.
        if !reply_to.starts_with("_INBOX.") {
            tracing::warn!(reply = %reply_to, "command not sent as a request; ignored");
            metrics::counter!("moolai_persister_commands_ignored_total").increment(1);
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (nats, pool) = (nats.clone(), pool.clone());
        tasks.spawn(async move {
            let reply = answer(&pool, &bounds, &msg.payload).await;
            let body = Bytes::from(serde_json::to_vec(&reply).unwrap_or_default());
            if let Err(err) = nats.publish(reply_to, body).await {
                tracing::warn!(%err, "command reply not sent");
            }
            drop(permit);
        });
    }
}

async fn answer(pool: &PgPool, bounds: &Bounds, payload: &[u8]) -> Reply {
    let Request { command, audit } = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(err) => return failed(Failure::Invalid, format!("undecodable command: {err}")),
    };
    if let Err(why) = bounds.check(&command, chrono::Utc::now()) {
        tracing::warn!(%why, "command refused");
        return failed(Failure::Invalid, why);
    }
    if let Command::Ping = command {
        let database = sqlx::query("SELECT 1").execute(pool).await.is_ok();
        return Reply::Done {
            data: json!({ "database": database }),
        };
    }
    match run(pool, &command, audit.as_ref()).await {
        Ok(Ok(data)) => Reply::Done { data },
        Ok(Err((failure, detail))) => failed(failure, detail),
        Err(err) => from_sql(err),
    }
}

fn failed(failure: Failure, detail: String) -> Reply {
    Reply::Failed { failure, detail }
}

/// Unique violations are conflicts; the other refusals are invalid input; the rest
/// means the database could not be used.
fn from_sql(err: sqlx::Error) -> Reply {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            failed(Failure::Conflict, "already exists".into())
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            failed(Failure::NotFound, "a referenced row does not exist".into())
        }
        sqlx::Error::Database(db) => failed(Failure::Invalid, db.message().to_owned()),
        other => {
            tracing::warn!(err = %other, "command failed: database unavailable");
            failed(Failure::Unavailable, "database unavailable".into())
        }
    }
}

async fn run(pool: &PgPool, command: &Command, audit: Option<&AuditEntry>) -> Outcome {
    let mut tx = pool.begin().await?;
    let outcome = apply(&mut tx, command).await?;
    if let Ok(answer) = &outcome {
        first_revision(&mut tx, command, audit, answer).await?;
    }
    if let (Ok(answer), Some(entry)) = (&outcome, audit) {
        write_audit(&mut tx, entry, answer).await?;
    }
    if outcome.is_ok() {
        tx.commit().await?;
    }
    Ok(outcome)
}

/// A configuration written with a new organization becomes its first revision
/// (made by the admin the audit entry names).
async fn first_revision(
    tx: &mut PgConnection,
    command: &Command,
    audit: Option<&AuditEntry>,
    answer: &Value,
) -> Result<(), sqlx::Error> {
    let id = match command {
        Command::CreateOrganization {
            organization_id, ..
        } => organization_id,
        Command::CreateInstance {
            orchestrator_id, ..
        } => orchestrator_id,
        Command::Register(r) => &r.organization_id,
        Command::Enroll(_) => match answer["organization_id"].as_str() {
            Some(id) => return first_revision_of(tx, id, audit).await,
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    first_revision_of(tx, id.as_str(), audit).await
}

async fn first_revision_of(
    tx: &mut PgConnection,
    id: &str,
    audit: Option<&AuditEntry>,
) -> Result<(), sqlx::Error> {
    let hashed: Option<Option<String>> =
        sqlx::query_scalar("SELECT config_hash FROM organizations WHERE organization_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(None) = hashed {
        let by = audit.map_or("system", |a| a.actor.as_str());
        revisions::record_revision(tx, id, by, Reason::Initial).await?;
    }
    Ok(())
}

/// Stores `entry`, its detail completed with the keys it asks of `answer`.
async fn write_audit(
    tx: &mut PgConnection,
    entry: &AuditEntry,
    answer: &Value,
) -> Result<Value, sqlx::Error> {
    let detail = completed_detail(entry, answer);
    sql::audit(
        tx,
        &entry.actor,
        &entry.action,
        entry.target.as_deref(),
        entry.address.as_deref(),
        &detail,
    )
    .await
}

/// Applies `command` in `tx`: one function per command, its answer adapted
/// (a missing row is "not found").
async fn apply(tx: &mut PgConnection, command: &Command) -> Outcome {
    use Command as C;
    match command {
        C::Register(r) => sql::register(tx, r).await.map(Ok),
        C::CreateOrganization {
            organization_id,
            name,
            location,
            features,
            metadata,
        } => {
            let new = described(organization_id, name, location, features, metadata);
            sql::create_organization(tx, &new).await.map(Ok)
        }
        C::CreateInstance {
            orchestrator_id,
            name,
            location,
            features,
            metadata,
        } => {
            let new = described(orchestrator_id, name, location, features, metadata);
            sql::create_instance(tx, &new).await.map(Ok)
        }
        C::UpdateOrganization {
            organization_id: id,
            name,
            location,
        } => {
            let (name, location) = (name.as_deref(), location.as_deref());
            let updated = sql::update_organization(tx, id.as_str(), name, location);
            found(updated.await, id)
        }
        C::DeleteInstance { orchestrator_id } => {
            let id = orchestrator_id.as_str();
            found(sql::delete_instance(tx, id, false).await, id)
        }
        C::Deregister { orchestrator_id } => {
            let id = orchestrator_id.as_str();
            found(sql::delete_instance(tx, id, true).await, id)
        }
        C::SetIndependence {
            orchestrator_id: id,
            is_independent,
            privacy_mode,
        } => {
            let set = sql::set_independence(tx, id.as_str(), *is_independent, *privacy_mode);
            found(set.await, id)
        }
        C::MergeFeatures {
            organization_id: id,
            features,
            by,
        } => {
            let by = by.as_deref().unwrap_or("unknown");
            let none = Map::new();
            let merged = revisions::merge(tx, id.as_str(), features, &none, by, Reason::Features);
            found(merged.await, id)
        }
        C::RollbackConfig {
            organization_id: id,
            revision,
            by,
        } => revisions::rollback(tx, id.as_str(), *revision, by).await,
        C::CreateRollout(r) => revisions::create_rollout(tx, r).await,
        C::StartRolloutWave { rollout_id, wave } => {
            revisions::start_wave(tx, rollout_id, *wave).await
        }
        C::EndRolloutWave {
            rollout_id,
            wave,
            next,
        } => revisions::end_wave(tx, rollout_id, *wave, next).await,
        C::SetRolloutState { rollout_id, action } => {
            revisions::set_state(tx, rollout_id, *action).await
        }
        C::DeleteOrganization { organization_id } => {
            sql::delete_organization(tx, organization_id.as_str()).await
        }
        C::BumpTokenGeneration {
            orchestrator_id,
            above,
        } => {
            let id = orchestrator_id.as_str();
            found(sql::bump_token_generation(tx, id, *above).await, id)
        }
        C::ExpireStale { ttl_sec, fence } => expire_stale(tx, *ttl_sec, *fence).await,
        C::CreateMessage {
            message_id,
            orchestrator_id: id,
            message_type,
            content,
            metadata,
        } => {
            let kind = message_type.as_str();
            let created = sql::create_message(tx, message_id, id.as_str(), kind, content, metadata);
            found(created.await, id)
        }
        C::SetMessageStatus {
            message_id: id,
            status,
        } => found(sql::set_message_status(tx, id, status).await, id),
        C::CreateAdmin {
            username,
            password_hash,
        } => {
            let created = sql::create_admin(tx, username, password_hash).await?;
            Ok(Ok(json!({ "created": created })))
        }
        C::CreateSession {
            token_hash,
            username,
            expires_at,
        } => {
            let created = sql::create_session(tx, token_hash, username, *expires_at);
            created.await.map(Ok)
        }
        C::RevokeSession { token_hash } => {
            found(sql::revoke_session(tx, token_hash).await, "session")
        }
        C::TouchSession { token_hash } => {
            found(admins::touch_session(tx, token_hash).await, "session")
        }
        C::SetAdminPassword {
            username,
            password_hash,
            keep_session,
            from_environment,
        } => {
            let (keep, env) = (keep_session.as_deref(), *from_environment);
            let set = admins::set_admin_password(tx, username, password_hash, keep, env);
            found(set.await, username)
        }
        C::AddAdmin {
            username,
            password_hash,
            superadmin,
        } => {
            let added = admins::add_admin(tx, username, password_hash, *superadmin);
            added.await.map(Ok)
        }
        C::RemoveAdmin { username } => admins::remove_admin(tx, username).await,
        C::CreateEnrollment(e) => enrollment::create(tx, e).await,
        C::RevokeEnrollment { id } => found(enrollment::revoke(tx, id).await, id),
        C::Enroll(r) => enrollment::enroll(tx, r).await,
        C::QueueSend(q) => found(queued::queue(tx, q).await, &q.orchestrator_id),
        C::ClaimQueuedSends {
            orchestrator_id,
            now,
        } => queued::claim(tx, orchestrator_id.as_str(), *now)
            .await
            .map(Ok),
        C::ReleaseQueuedSends { ids } => queued::release(tx, ids).await.map(Ok),
        C::Audit {
            actor,
            action,
            target,
            address,
            detail,
        } => {
            let (target, address) = (target.as_deref(), address.as_deref());
            let entry = sql::audit(tx, actor, action, target, address, detail);
            entry.await.map(Ok)
        }
        // Answered before a transaction is opened ([`answer`]).
        C::Ping => Ok(Ok(Value::Null)),
    }
}

/// An organization or instance to create, as its command gives it.
fn described<'a>(
    id: &'a OrchestratorId,
    name: &'a str,
    location: &'a Option<String>,
    features: &'a Value,
    metadata: &'a Value,
) -> sql::Described<'a> {
    let (id, location) = (id.as_str(), location.as_deref());
    sql::Described {
        id,
        name,
        location,
        features,
        metadata,
    }
}

/// `entry`'s detail with the keys it asks of `answer` (null when absent).
fn completed_detail(entry: &AuditEntry, answer: &Value) -> Value {
    let mut detail = entry.detail.clone();
    if let Value::Object(fields) = &mut detail {
        for key in &entry.from_answer {
            fields.insert(key.clone(), answer.get(key).cloned().unwrap_or(Value::Null));
        }
    }
    detail
}

/// The liveness sweep, refused when a newer duty holder has swept already.
async fn expire_stale(tx: &mut PgConnection, ttl_sec: u64, fence: Option<Fence>) -> Outcome {
    if let Some(fence) = fence {
        if !sql::advance_fence(tx, "singleton", fence).await? {
            return Ok(Err((
                Failure::Conflict,
                "fenced: a newer core holds the singleton duties".into(),
            )));
        }
    }
    sql::expire_stale(tx, ttl_sec).await.map(Ok)
}

/// A row, or "not found" naming `what`.
fn found(row: Result<Option<Value>, sqlx::Error>, what: impl std::fmt::Display) -> Outcome {
    Ok(row?.ok_or((Failure::NotFound, format!("{what} not found"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail: Value, keys: &[&str]) -> AuditEntry {
        AuditEntry {
            actor: "admin".into(),
            action: "features".into(),
            target: Some("org-1".into()),
            address: None,
            detail,
            from_answer: Vec::new(),
        }
        .with_answer(keys)
    }

    #[test]
    fn the_detail_takes_the_keys_it_asks_of_the_answer() {
        let e = entry(json!({"keys": ["a"]}), &["revision", "missing"]);
        let answer = json!({"revision": 7, "features": {"a": true}});
        assert_eq!(
            completed_detail(&e, &answer),
            json!({"keys": ["a"], "revision": 7, "missing": null})
        );
    }

    #[test]
    fn a_detail_asking_nothing_is_stored_as_given() {
        let e = entry(json!({"status": "accepted"}), &[]);
        assert_eq!(
            completed_detail(&e, &json!({"revision": 7})),
            json!({"status": "accepted"})
        );
    }
}
