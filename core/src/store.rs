//! What core reads from PostgreSQL. Core never writes: the persister does.

use chrono::{DateTime, Utc};
use moolai_proto::events::ConnId;
use moolai_proto::frames::ProvisionData;
use moolai_proto::{EdgeId, OrchestratorId};
use serde_json::{Map, Value};
use sqlx::{PgPool, Row};

use crate::live::{Connection, Live, Rule};

/// The configuration stored for an orchestrator's organization; empty objects for
/// one the controller has never configured.
pub async fn provision_data(
    pool: &PgPool,
    id: &OrchestratorId,
) -> Result<ProvisionData, sqlx::Error> {
    let row = sqlx::query(
        "SELECT features, settings, policies FROM organizations WHERE organization_id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(pool)
    .await?;
    let empty = || Value::Object(Map::new());
    Ok(match row {
        Some(row) => ProvisionData {
            features: row.try_get("features")?,
            settings: row.try_get("settings")?,
            policies: row.try_get("policies")?,
        },
        None => ProvisionData {
            features: empty(),
            settings: empty(),
            policies: empty(),
        },
    })
}

/// Rebuilds rules and open connections from the database, so that a restarted core
/// keeps ignoring independent orchestrators and knows where sockets are.
pub async fn load(pool: &PgPool, live: &Live) -> Result<usize, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT orchestrator_id, is_independent, privacy_mode, conn_id, edge_id, connected_at,
                disconnected_at, metadata
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
            },
        );
        if let Some(conn) = open_connection(&row)? {
            live.register(id, conn);
        }
    }
    Ok(count)
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
                'metadata', message_metadata, 'status', status)
           FROM orchestrator_messages
          WHERE orchestrator_id = $1 AND source = 'controller' AND status = 'pending' AND acked_at IS NULL
          ORDER BY created_at, id",
    )
    .bind(id.as_str())
    .fetch_all(pool)
    .await
}
