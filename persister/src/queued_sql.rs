//! The SQL behind queued sends (`queued_sends`, migration 0012): frames kept for
//! an orchestrator that was not connected, claimed by the handshake that
//! delivers them. A claim is one `UPDATE … RETURNING`, so two cores (or a
//! redelivered handshake) never both get the same send.

use chrono::{DateTime, Utc};
use moolai_proto::commands::QueuedSend;
use serde_json::{json, Value};
use sqlx::PgConnection;

/// Stores `q` if its orchestrator exists; `None` otherwise.
pub async fn queue(tx: &mut PgConnection, q: &QueuedSend) -> Result<Option<Value>, sqlx::Error> {
    let row: Option<Value> = sqlx::query_scalar(
        "INSERT INTO queued_sends (id, orchestrator_id, frame, frame_type, created_by, expires_at)
         SELECT $1, $2, $3, $4, $5, $6
          WHERE EXISTS (SELECT 1 FROM orchestrator_instances WHERE orchestrator_id = $2)
         RETURNING jsonb_build_object('id', id, 'orchestrator_id', orchestrator_id,
                   'frame_type', frame_type, 'created_at', created_at, 'expires_at', expires_at)",
    )
    .bind(&q.id)
    .bind(q.orchestrator_id.as_str())
    .bind(&q.frame)
    .bind(&q.frame_type)
    .bind(&q.created_by)
    .bind(q.expires_at)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_some() {
        tracing::info!(
            orchestrator_id = %q.orchestrator_id,
            "Send {} queued for {} until {} (type: {})",
            q.id, q.orchestrator_id, q.expires_at, q.frame_type
        );
    }
    Ok(row)
}

/// Marks delivered the sends of `orchestrator_id` not delivered and not expired
/// at `now`; answers them oldest first.
pub async fn claim(
    tx: &mut PgConnection,
    orchestrator_id: &str,
    now: DateTime<Utc>,
) -> Result<Value, sqlx::Error> {
    let sends: Vec<Value> = sqlx::query_scalar(
        "WITH claimed AS (
            UPDATE queued_sends SET delivered_at = now()
             WHERE orchestrator_id = $1 AND delivered_at IS NULL AND expires_at > $2
            RETURNING id, frame, frame_type, created_at)
         SELECT jsonb_build_object('id', id, 'frame', frame, 'frame_type', frame_type)
           FROM claimed ORDER BY created_at, id",
    )
    .bind(orchestrator_id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    Ok(json!({ "sends": sends }))
}

/// Queues again the sends `ids` (claimed, but their frames were not published).
pub async fn release(tx: &mut PgConnection, ids: &[String]) -> Result<Value, sqlx::Error> {
    let released = sqlx::query("UPDATE queued_sends SET delivered_at = NULL WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    Ok(json!({ "released": released }))
}
