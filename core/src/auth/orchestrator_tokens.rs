//! Orchestrator token generations as the edges see them: the KV bucket core
//! publishes each orchestrator's current generation to, and the start-up sync
//! that brings it level with PostgreSQL. Issuing and revoking are in
//! `api::tokens`.

use async_nats::jetstream::kv;

/// What core needs to issue tokens; absent without `ORCHESTRATOR_TOKEN_SECRET`.
#[derive(Clone)]
pub struct Tokens {
    pub secret: Vec<u8>,
    pub kv: async_nats::jetstream::kv::Store,
}

/// Publishes every stored generation to the KV bucket (at start: the bucket may be
/// new or behind the database).
pub async fn sync(
    pool: &sqlx::PgPool,
    kv: &async_nats::jetstream::kv::Store,
) -> Result<usize, async_nats::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT orchestrator_id, token_generation FROM orchestrator_instances WHERE token_generation > 0",
    )
    .fetch_all(pool)
    .await?;
    for (id, generation) in &rows {
        raise_generation(kv, id, *generation).await?;
    }
    Ok(rows.len())
}

/// Publishes `generation` unless the bucket holds a newer one: a sync that read
/// the database before another replica revoked a token must not bring the old
/// generation back (compare-and-set on the entry's revision).
async fn raise_generation(
    kv: &async_nats::jetstream::kv::Store,
    id: &str,
    generation: i64,
) -> Result<(), async_nats::Error> {
    let value = generation.to_string();
    let Some(entry) = kv.entry(id).await? else {
        return match kv.create(id, value.into()).await {
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => Ok(()),
            other => other.map(drop).map_err(Into::into),
        };
    };
    let stored: Option<i64> = std::str::from_utf8(&entry.value)
        .ok()
        .and_then(|v| v.parse().ok());
    if stored.is_some_and(|stored| stored >= generation) {
        return Ok(());
    }
    match kv.update(id, value.into(), entry.revision).await {
        Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(()),
        other => other.map(drop).map_err(Into::into),
    }
}
