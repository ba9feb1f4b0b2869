//! The SQL the persister runs. Every statement is idempotent, so a message
//! redelivered after a crash (committed, not yet acknowledged) changes nothing, and
//! each is guarded by connection id and time so that events of an older
//! connection arriving late never overwrite a newer one.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use moolai_proto::config::ConfigContent;
use moolai_proto::events::{
    DisconnectEvent, Event, HandshakeEvent, HeartbeatWrite, MessageAckEvent, MessageEvent,
    SnapshotEvent,
};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Applies one orchestrator event inside the caller's transaction.
pub async fn apply_event(tx: &mut PgConnection, event: &Event) -> Result<(), sqlx::Error> {
    match event {
        Event::Handshake(e) => apply_handshake(tx, e).await,
        Event::Disconnect(e) => apply_disconnect(tx, e).await,
        Event::Snapshot(e) => apply_snapshot(tx, e).await,
        Event::Message(e) => apply_message(tx, e).await,
        Event::MessageAck(e) => apply_message_ack(tx, e).await,
        Event::ConfigStatus(e) => crate::config_sql::apply_statuses(tx, &[e]).await,
    }
}

/// Spec 000 "Database Updates" for a handshake: both tables upserted, status
/// `active`, health `healthy`. Applied only for a connection newer than the one
/// the row describes, so a replayed or late handshake is a no-op. The announced
/// name and location are kept as `reported_*`; they become the organization's own
/// only where no administrator set one. A deregistered id creates nothing.
async fn apply_handshake(tx: &mut PgConnection, e: &HandshakeEvent) -> Result<(), sqlx::Error> {
    let reported = Reported::of(e);
    // The instance row references its organization, so that must exist first.
    insert_organization(tx, &reported).await?;
    if !upsert_instance(tx, &reported, e).await? {
        return Ok(()); // older, replayed, or deregistered: the row already knows better
    }
    refresh_organization(tx, &reported, e.at).await?;
    let id = reported.id;
    tracing::info!(
        orchestrator_id = id,
        "[C-OCS] DB: Registered {id} in both tables"
    );
    Ok(())
}

/// What a handshake announces about its orchestrator: `$1`..`$4` of each
/// statement below.
struct Reported<'a> {
    id: &'a str,
    name: String,
    location: String,
    metadata: Value,
}

impl<'a> Reported<'a> {
    fn of(e: &'a HandshakeEvent) -> Self {
        Reported {
            id: e.orchestrator_id.as_str(),
            name: e.name(),
            location: e.location(),
            metadata: Value::Object(e.metadata.clone()),
        }
    }

    /// `sql` with the id, name, location and metadata bound as `$1`..`$4`.
    fn bind(&self, sql: &'static str) -> Query<'_> {
        sqlx::query(sql)
            .bind(self.id)
            .bind(&self.name)
            .bind(&self.location)
            .bind(&self.metadata)
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The organization of a first handshake, unless it exists or was deregistered,
/// with its empty configuration as its first revision (one statement: this is
/// the handshake path).
async fn insert_organization(tx: &mut PgConnection, r: &Reported<'_>) -> Result<(), sqlx::Error> {
    static EMPTY: LazyLock<(String, Value)> = LazyLock::new(|| {
        let empty = ConfigContent {
            features: json!({}),
            settings: json!({}),
            policies: json!({}),
        };
        (empty.hash(), json!(empty))
    });
    r.bind(
        "WITH org AS (
           INSERT INTO organizations (organization_id, name, location, metadata, reported_name,
                                      reported_location, config_hash)
           SELECT $1, $2, $3, $4, $2, $3, $5
            WHERE NOT EXISTS (SELECT 1 FROM deregistered_orchestrators WHERE orchestrator_id = $1)
           ON CONFLICT (organization_id) DO NOTHING
           RETURNING organization_id, config_revision)
         INSERT INTO config_revisions (organization_id, revision, hash, config, created_by, reason)
         SELECT organization_id, config_revision, $5, $6, 'system', 'initial' FROM org",
    )
    .bind(&EMPTY.0)
    .bind(&EMPTY.1)
    .execute(tx)
    .await?;
    Ok(())
}

/// The instance row made this connection's, if it is newer than the one the row
/// describes; whether it was.
async fn upsert_instance(
    tx: &mut PgConnection,
    r: &Reported<'_>,
    e: &HandshakeEvent,
) -> Result<bool, sqlx::Error> {
    let applied = r
        .bind(
            "INSERT INTO orchestrator_instances AS i (orchestrator_id, organization_id, organization_name, name,
                   location, status, health_status, metadata, features, last_seen, last_activity,
                   conn_id, edge_id, connected_at, disconnected_at, reported_name, reported_location)
                 SELECT $1, $1, o.name, o.name, o.location, 'active', 'healthy', $4, $5, $6, $6, $7, $8, $6, NULL, $2, $3
                   FROM organizations o
                  WHERE o.organization_id = $1
                    AND NOT EXISTS (SELECT 1 FROM deregistered_orchestrators WHERE orchestrator_id = $1)
                 ON CONFLICT (orchestrator_id) DO UPDATE SET
                   organization_name = CASE WHEN (SELECT name_from_admin FROM organizations
                                                   WHERE organization_id = i.organization_id)
                                            THEN i.organization_name ELSE $2 END,
                   name = CASE WHEN (SELECT name_from_admin FROM organizations WHERE organization_id = i.organization_id)
                               THEN i.name ELSE $2 END,
                   location = CASE WHEN (SELECT location_from_admin FROM organizations
                                          WHERE organization_id = i.organization_id)
                                   THEN i.location ELSE $3 END,
                   reported_name = $2, reported_location = $3,
                   status = CASE WHEN i.is_independent THEN 'independent' ELSE 'active' END,
                   health_status = 'healthy', metadata = EXCLUDED.metadata, features = EXCLUDED.features,
                   last_seen = CASE WHEN i.is_independent THEN i.last_seen ELSE EXCLUDED.last_seen END,
                   last_activity = EXCLUDED.last_activity,
                   conn_id = EXCLUDED.conn_id, edge_id = EXCLUDED.edge_id,
                   connected_at = EXCLUDED.connected_at, disconnected_at = NULL, updated_at = now()
                 WHERE i.connected_at IS NULL OR i.connected_at < EXCLUDED.connected_at",
        )
        .bind(e.features())
        .bind(e.at)
        .bind(e.conn_id)
        .bind(e.edge_id.as_str())
        .execute(tx)
        .await?
        .rows_affected();
    Ok(applied > 0)
}

/// The organization as the handshake reports it (where no administrator set
/// its name or location), active as of `at`.
async fn refresh_organization(
    tx: &mut PgConnection,
    r: &Reported<'_>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    r.bind(
        "UPDATE organizations
            SET name = CASE WHEN name_from_admin THEN name ELSE $2 END,
                location = CASE WHEN location_from_admin THEN location ELSE $3 END,
                reported_name = $2, reported_location = $3,
                metadata = $4, status = 'active', is_active = TRUE, last_seen = $5, updated_at = now()
          WHERE organization_id = $1",
    )
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Marks the row inactive, but only if it still describes this connection: the
/// late disconnect of a superseded connection must not touch the newer one.
async fn apply_disconnect(tx: &mut PgConnection, e: &DisconnectEvent) -> Result<(), sqlx::Error> {
    let id = e.orchestrator_id.as_str();
    let applied = sqlx::query(
        "UPDATE orchestrator_instances
            SET status = CASE WHEN is_independent THEN 'independent' ELSE 'inactive' END,
                disconnected_at = $3, last_activity = $3, updated_at = now()
          WHERE orchestrator_id = $1 AND conn_id = $2 AND disconnected_at IS NULL",
    )
    .bind(id)
    .bind(e.conn_id)
    .bind(e.at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if applied > 0 {
        sqlx::query(
            "UPDATE organizations SET status = 'inactive', updated_at = now()
              WHERE organization_id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tracing::info!(orchestrator_id = id, reason = %e.reason, "DB: marked {id} inactive");
    }
    Ok(())
}

async fn apply_snapshot(tx: &mut PgConnection, e: &SnapshotEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orchestrator_instances
            SET o_config_snapshot = $2, o_config_snapshot_at = $3, last_activity = $3, updated_at = now()
          WHERE orchestrator_id = $1
            AND (o_config_snapshot_at IS NULL OR o_config_snapshot_at <= $3)",
    )
    .bind(e.orchestrator_id.as_str())
    .bind(&e.data)
    .bind(e.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn apply_message(tx: &mut PgConnection, e: &MessageEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO orchestrator_messages
           (id, orchestrator_id, message_type, content, message_metadata, status, created_at, updated_at, source)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, 'orchestrator')
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&e.message_id)
    .bind(e.orchestrator_id.as_str())
    .bind(e.message_type.as_str())
    .bind(&e.content)
    .bind(&e.message_metadata)
    .bind(e.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks a controller-written message as received, so reconnects stop redelivering it.
async fn apply_message_ack(tx: &mut PgConnection, e: &MessageAckEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orchestrator_messages SET acked_at = COALESCE(acked_at, $3)
          WHERE id = $1 AND orchestrator_id = $2",
    )
    .bind(&e.message_id)
    .bind(e.orchestrator_id.as_str())
    .bind(e.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Keeps the latest heartbeat per orchestrator: only it decides `last_seen`.
pub fn coalesce(writes: impl IntoIterator<Item = HeartbeatWrite>) -> Vec<HeartbeatWrite> {
    let mut latest: HashMap<String, HeartbeatWrite> = HashMap::new();
    for w in writes {
        match latest.get(w.orchestrator_id.as_str()) {
            Some(seen) if seen.at >= w.at => {}
            _ => {
                latest.insert(w.orchestrator_id.as_str().to_owned(), w);
            }
        }
    }
    latest.into_values().collect()
}

/// One set-based statement for a whole batch of heartbeats; returns the
/// organizations of the instances it moved, with their new `last_seen` (written
/// apart: `org_seen`). A heartbeat counts only
/// for the connection it came on, only while that connection is open, and never
/// for an orchestrator that is independent (the rule is rechecked here so that a
/// heartbeat already accepted by core cannot land after independence was set).
pub async fn apply_heartbeats(
    pool: &PgPool,
    writes: &[HeartbeatWrite],
) -> Result<Vec<(String, DateTime<Utc>)>, sqlx::Error> {
    let ids: Vec<&str> = writes.iter().map(|w| w.orchestrator_id.as_str()).collect();
    let conns: Vec<Uuid> = writes.iter().map(|w| w.conn_id).collect();
    let ats: Vec<DateTime<Utc>> = writes.iter().map(|w| w.at).collect();
    sqlx::query_as(
        "UPDATE orchestrator_instances AS o
            SET last_seen = GREATEST(o.last_seen, h.at), status = 'active',
                health_status = 'healthy', updated_at = now()
           FROM unnest($1::text[], $2::uuid[], $3::timestamptz[]) AS h(id, conn, at)
          WHERE o.orchestrator_id = h.id AND o.conn_id = h.conn
            AND o.disconnected_at IS NULL AND NOT o.is_independent
            AND o.organization_id IS NOT NULL
         RETURNING o.organization_id, o.last_seen",
    )
    .bind(&ids)
    .bind(&conns)
    .bind(&ats)
    // Planned afresh each time: a plan cached while the table was small (a
    // nested loop over a sequential scan) took 420 s for 7,000 rows once it
    // held 200,000 (docs/performance.md).
    .persistent(false)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use moolai_proto::OrchestratorId;
    use sqlx::{Connection, Executor};

    use super::*;

    fn beat(id: &str, conn: u128, at: DateTime<Utc>) -> HeartbeatWrite {
        HeartbeatWrite {
            orchestrator_id: OrchestratorId::parse(id).unwrap(),
            conn_id: Uuid::from_u128(conn),
            at,
        }
    }

    #[test]
    fn coalescing_keeps_the_latest_beat_of_each_orchestrator_whatever_the_order() {
        let t = Utc::now();
        let mut kept = coalesce([
            beat("a", 1, t),
            beat("b", 2, t),
            beat("a", 1, t + Duration::seconds(5)),
            beat("a", 1, t + Duration::seconds(2)),
        ]);
        kept.sort_by(|x, y| x.orchestrator_id.cmp(&y.orchestrator_id));
        assert_eq!(
            kept,
            [beat("a", 1, t + Duration::seconds(5)), beat("b", 2, t)]
        );
        assert!(coalesce([]).is_empty());
    }

    /// A database of its own, dropped at the end; `None` without
    /// `TEST_DATABASE_URL`.
    struct Scratch {
        admin: String,
        name: String,
        pool: PgPool,
    }

    impl Scratch {
        async fn new() -> Option<Self> {
            let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
                eprintln!("TEST_DATABASE_URL not set; skipping");
                return None;
            };
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let name = format!("moolai_unit_{:x}_{nanos:x}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
            let pool = PgPool::connect(&format!("{base}/{name}")).await.unwrap();
            crate::MIGRATOR.run(&pool).await.unwrap();
            Some(Self { admin, name, pool })
        }

        async fn drop_database(self) {
            self.pool.close().await;
            let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
            let drop = format!("DROP DATABASE {} WITH (FORCE)", self.name);
            conn.execute(sqlx::AssertSqlSafe(drop)).await.unwrap();
        }
    }

    fn status(
        id: &str,
        hash: &str,
        word: moolai_proto::config::ApplyStatus,
        at: DateTime<Utc>,
    ) -> moolai_proto::events::ConfigStatusEvent {
        moolai_proto::events::ConfigStatusEvent {
            orchestrator_id: OrchestratorId::parse(id).unwrap(),
            conn_id: Uuid::from_u128(1),
            at,
            status: moolai_proto::config::ConfigStatus {
                hash: hash.into(),
                status: word,
                error: None,
                effective: (word == moolai_proto::config::ApplyStatus::Applied)
                    .then(|| serde_json::json!({"features": {}})),
            },
        }
    }

    #[tokio::test]
    async fn a_batch_of_statuses_leaves_what_writing_them_one_by_one_would() {
        use moolai_proto::config::ApplyStatus::{Applied, Applying, Failed};
        let Some(db) = Scratch::new().await else {
            return;
        };
        let pool = &db.pool;
        sqlx::raw_sql(
            "INSERT INTO organizations (organization_id, name) VALUES ('a', 'A'), ('b', 'B');
             INSERT INTO orchestrator_instances (orchestrator_id, organization_id) VALUES ('a', 'a'), ('b', 'b');
             INSERT INTO config_revisions (organization_id, revision, hash, config, created_by, reason)
                  VALUES ('a', 1, 'h1', '{}', 'system', 'initial'), ('a', 2, 'h2', '{}', 'system', 'features'),
                         ('b', 1, 'h1', '{}', 'system', 'initial');",
        )
        .execute(pool)
        .await
        .unwrap();
        let t = Utc::now();
        let s = |secs| t + Duration::seconds(secs);
        let batch = [
            status("a", "h1", Applying, s(1)),
            status("a", "h1", Failed, s(2)),
            status("a", "h2", Applied, s(4)),
            status("a", "h2", Applying, s(3)), // late: older than the applied one
            status("b", "h1", Applied, s(1)),
            status("nobody", "h1", Applied, s(1)),
        ];
        let mut tx = pool.begin().await.unwrap();
        crate::config_sql::apply_statuses(&mut tx, &batch.iter().collect::<Vec<_>>())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let kept: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT orchestrator_id, config_reported_hash, config_status
               FROM orchestrator_config_status ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let row = |id: &str, h: &str, w: &str| (id.to_owned(), h.to_owned(), w.to_owned());
        assert_eq!(kept, [row("a", "h2", "applied"), row("b", "h1", "applied")]);
        let outcomes: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT organization_id, revision, outcome FROM config_revisions ORDER BY 1, 2",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let out = |id: &str, r: i64, w: &str| (id.to_owned(), r, Some(w.to_owned()));
        assert_eq!(
            outcomes,
            [
                out("a", 1, "failed"),
                out("a", 2, "applied"),
                out("b", 1, "applied")
            ]
        );
        // The same word again moves nothing; an older status of another hash
        // does not replace the one kept.
        let again = [
            status("b", "h1", Applied, s(9)),
            status("a", "h1", Applied, s(0)),
        ];
        let mut tx = pool.begin().await.unwrap();
        crate::config_sql::apply_statuses(&mut tx, &again.iter().collect::<Vec<_>>())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let b_at: DateTime<Utc> = sqlx::query_scalar(
            "SELECT outcome_at FROM config_revisions WHERE organization_id = 'b'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(
            (b_at - s(1)).num_milliseconds().abs() < 1,
            "outcome_at moved to {b_at}"
        );
        let a: (String, String) = sqlx::query_as(
            "SELECT config_reported_hash, config_status FROM orchestrator_config_status
              WHERE orchestrator_id = 'a'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(a, ("h2".to_owned(), "applied".to_owned()));
        db.drop_database().await;
    }

    #[tokio::test]
    async fn a_heartbeat_counts_only_for_its_open_connection_and_never_while_independent() {
        let Some(db) = Scratch::new().await else {
            return;
        };
        let pool = &db.pool;
        sqlx::raw_sql(
            "INSERT INTO organizations (organization_id, name)
                  VALUES ('open', 'Open'), ('old', 'Old'), ('ind', 'Ind');
             INSERT INTO orchestrator_instances
                    (orchestrator_id, organization_id, status, conn_id, is_independent)
                  VALUES ('open', 'open', 'active', '00000000-0000-0000-0000-000000000001', FALSE),
                         ('old',  'old',  'active', '00000000-0000-0000-0000-000000000002', FALSE),
                         ('ind',  'ind',  'independent', '00000000-0000-0000-0000-000000000003', TRUE);",
        )
        .execute(pool)
        .await
        .unwrap();
        let at = Utc::now();
        let organizations = apply_heartbeats(
            pool,
            &[beat("open", 1, at), beat("old", 9, at), beat("ind", 3, at)],
        )
        .await
        .unwrap();
        assert_eq!(
            organizations.len(),
            1,
            "only the open connection's organization"
        );
        assert_eq!(organizations[0].0, "open");
        let seen = |id: &'static str| {
            sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
                "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
            )
            .bind(id)
            .fetch_one(pool)
        };
        let stored = seen("open").await.unwrap().expect("last_seen of 'open'");
        assert!(
            (stored - at).num_milliseconds().abs() < 1,
            "{stored} vs {at}"
        );
        assert_eq!(
            seen("old").await.unwrap(),
            None,
            "a beat of another connection"
        );
        assert_eq!(seen("ind").await.unwrap(), None, "a beat while independent");

        // A late, older beat never moves last_seen back.
        apply_heartbeats(pool, &[beat("open", 1, at - Duration::seconds(30))])
            .await
            .unwrap();
        assert_eq!(seen("open").await.unwrap(), Some(stored));
        db.drop_database().await;
    }
}
