//! What core reads from PostgreSQL. Core never writes: the persister does.

use chrono::{DateTime, Utc};
use moolai_proto::events::ConnId;
use moolai_proto::frames::ProvisionData;
use moolai_proto::{EdgeId, OrchestratorId};
use serde_json::{Map, Value};
use sqlx::{PgPool, Row};

use crate::fleet::live::{Connection, Live, Rule};

/// What an orchestrator is provisioned with: its organization's configuration and
/// revision, and the names an administrator gave it (for the first version's
/// `provisioning` frame, whose client announces them at its next handshake).
pub struct Provision {
    pub data: ProvisionData,
    pub name: Option<String>,
    pub location: Option<String>,
}

/// Rebuilds rules and open connections from the database, so that a restarted core
/// keeps ignoring independent orchestrators and knows where sockets are.
pub async fn load(pool: &PgPool, live: &Live) -> Result<usize, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT orchestrator_id, is_independent, privacy_mode, rule_revision, conn_id, edge_id,
                connected_at, disconnected_at, metadata
           FROM orchestrator_instances",
    )
    .fetch_all(pool)
    .await?;
    let count = rows.len();
    for row in rows {
        let Ok(id) = OrchestratorId::parse(row.try_get::<String, _>("orchestrator_id")?) else {
            continue; // written before validation existed; nothing can route to it
        };
        live.set_rule(
            id.clone(),
            Rule {
                is_independent: row.try_get("is_independent")?,
                privacy_mode: row.try_get("privacy_mode")?,
                revision: row.try_get("rule_revision")?,
            },
            None,
        );
        if let Some(conn) = open_connection(&row)? {
            live.register(id, conn);
        }
    }
    load_deregistered(pool, live).await?;
    Ok(count)
}

/// Reloads every rule and the deregistered set: what a replica that missed a
/// change from another replica catches up with.
pub async fn load_rules(pool: &PgPool, live: &Live) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT orchestrator_id, is_independent, privacy_mode, rule_revision
           FROM orchestrator_instances",
    )
    .fetch_all(pool)
    .await?;
    for (id, is_independent, privacy_mode, revision) in rows {
        let Ok(id) = OrchestratorId::parse(id) else {
            continue;
        };
        let rule = Rule {
            is_independent,
            privacy_mode,
            revision,
        };
        live.set_rule(id, rule, None);
    }
    load_deregistered(pool, live).await
}

async fn load_deregistered(pool: &PgPool, live: &Live) -> Result<(), sqlx::Error> {
    let gone: Vec<String> =
        sqlx::query_scalar("SELECT orchestrator_id FROM deregistered_orchestrators")
            .fetch_all(pool)
            .await?;
    let gone = gone
        .into_iter()
        .filter_map(|id| OrchestratorId::parse(id).ok())
        .collect();
    live.replace_deregistered(gone);
    Ok(())
}

fn open_connection(row: &sqlx::postgres::PgRow) -> Result<Option<Connection>, sqlx::Error> {
    let conn_id: Option<ConnId> = row.try_get("conn_id")?;
    let edge: Option<String> = row.try_get("edge_id")?;
    let connected_at: Option<DateTime<Utc>> = row.try_get("connected_at")?;
    let disconnected_at: Option<DateTime<Utc>> = row.try_get("disconnected_at")?;
    let (Some(conn_id), Some(edge), Some(connected_at), None) =
        (conn_id, edge, connected_at, disconnected_at)
    else {
        return Ok(None);
    };
    let Ok(edge_id) = EdgeId::parse(edge) else {
        return Ok(None);
    };
    let metadata = match row.try_get::<Value, _>("metadata")? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(Some(Connection {
        edge_id,
        conn_id,
        connected_at,
        last_keepalive: None,
        provision_config_capable: metadata.get("capabilities").is_some(),
        metadata,
    }))
}

/// Controller-written messages the orchestrator has not acknowledged yet, oldest
/// first, as `message` frame bodies.
pub async fn undelivered_messages(
    pool: &PgPool,
    id: &OrchestratorId,
) -> Result<Vec<Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('id', id, 'message_type', message_type, 'content', content,
                'metadata', message_metadata, 'status', status, 'revision', revision)
           FROM orchestrator_messages
          WHERE orchestrator_id = $1 AND source = 'controller' AND status = 'pending' AND acked_at IS NULL
          ORDER BY created_at, id",
    )
    .bind(id.as_str())
    .fetch_all(pool)
    .await
}
