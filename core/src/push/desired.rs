//! Each organization's desired configuration, held in memory, so that a
//! handshake is answered (`provision_config`) without reading PostgreSQL: a
//! fleet coming back after an outage is thousands of handshakes a second, and
//! a read each was most of what a handshake cost core.
//!
//! Loaded at start; every change an administrator or a rollout makes reloads
//! the organizations it changed on the replica that made it, which tells the
//! others (`changes::Change::Configs`); every replica also reloads what changed
//! in PostgreSQL lately every `changes::RESYNC_EVERY`, for a message it missed.
//! Entries only move forward by revision, so a late reload never puts an older
//! configuration back. An organization not held here (new since the last load:
//! its first handshake makes it) is read from PostgreSQL and then held.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use moolai_proto::frames::ProvisionData;
use moolai_proto::OrchestratorId;
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::store::fleet::Provision;

/// An organization's configuration as pushed, with its hash computed once.
pub struct Desired {
    pub provision: Provision,
    pub hash: String,
}

impl Desired {
    fn new(provision: Provision) -> Self {
        let hash = provision.data.content().hash();
        Self { provision, hash }
    }

    /// What an orchestrator without an organization of its own is sent.
    pub fn empty() -> Self {
        let empty = || Value::Object(Map::new());
        Self::new(Provision {
            data: ProvisionData {
                features: empty(),
                settings: empty(),
                policies: empty(),
                revision: None,
            },
            name: None,
            location: None,
        })
    }

    fn revision(&self) -> i64 {
        self.provision.data.revision.unwrap_or(0)
    }
}

/// The shared handle; cheap to clone.
#[derive(Clone, Default)]
pub struct Configs {
    held: Arc<DashMap<OrchestratorId, Arc<Desired>>>,
}

const SELECT: &str =
    "SELECT organization_id, features, settings, policies, config_revision, name, location
                        FROM organizations";

impl Configs {
    /// Loads every organization's configuration; how many.
    pub async fn load_all(&self, pool: &PgPool) -> Result<usize, sqlx::Error> {
        let rows = sqlx::query(SELECT).fetch_all(pool).await?;
        self.keep_rows(&rows)
    }

    /// Reloads the organizations written since `since` (a resync).
    pub async fn load_changed_since(
        &self,
        pool: &PgPool,
        since: DateTime<Utc>,
    ) -> Result<usize, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE updated_at >= $1"
        )))
        .bind(since)
        .fetch_all(pool)
        .await?;
        self.keep_rows(&rows)
    }

    /// Reloads `ids` (after a change); one that no longer exists is forgotten.
    pub async fn reload(&self, pool: &PgPool, ids: &[OrchestratorId]) -> Result<(), sqlx::Error> {
        let names: Vec<&str> = ids.iter().map(OrchestratorId::as_str).collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE organization_id = ANY($1)"
        )))
        .bind(&names)
        .fetch_all(pool)
        .await?;
        let mut found = std::collections::HashSet::with_capacity(rows.len());
        for row in &rows {
            if let Some(id) = self.keep_row(row)? {
                found.insert(id);
            }
        }
        for id in ids.iter().filter(|id| !found.contains(*id)) {
            self.held.remove(id);
        }
        Ok(())
    }

    /// `id`'s configuration: held, else read (and held from then on).
    pub async fn get(
        &self,
        pool: &PgPool,
        id: &OrchestratorId,
    ) -> Result<Arc<Desired>, sqlx::Error> {
        if let Some(held) = self.held.get(id) {
            return Ok(held.clone());
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE organization_id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?;
        match row {
            Some(row) => {
                self.keep_row(&row)?;
                Ok(self
                    .held
                    .get(id)
                    .map(|h| h.clone())
                    .unwrap_or_else(|| Arc::new(Desired::empty())))
            }
            // Not made yet: its first handshake's event is still on its way
            // to the persister. Not held, so the next read finds it.
            None => Ok(Arc::new(Desired::empty())),
        }
    }

    /// Holds `provision` as `id`'s configuration (tests: no database).
    #[cfg(test)]
    pub(crate) fn hold(&self, id: OrchestratorId, provision: Provision) {
        self.held.insert(id, Arc::new(Desired::new(provision)));
    }

    fn keep_rows(&self, rows: &[PgRow]) -> Result<usize, sqlx::Error> {
        for row in rows {
            self.keep_row(row)?;
        }
        Ok(rows.len())
    }

    /// Holds `row`'s configuration unless a newer revision is held already.
    fn keep_row(&self, row: &PgRow) -> Result<Option<OrchestratorId>, sqlx::Error> {
        let Ok(id) = OrchestratorId::parse(row.try_get::<String, _>("organization_id")?) else {
            return Ok(None); // written before validation existed; nothing connects as it
        };
        let desired = Desired::new(Provision {
            data: ProvisionData {
                features: row.try_get("features")?,
                settings: row.try_get("settings")?,
                policies: row.try_get("policies")?,
                revision: Some(row.try_get("config_revision")?),
            },
            name: row.try_get("name")?,
            location: row.try_get("location")?,
        });
        let mut held = self
            .held
            .entry(id.clone())
            .or_insert_with(|| Arc::new(Desired::empty()));
        // Equal revisions too: a rename (name, location) does not move the revision.
        if desired.revision() >= held.revision() {
            *held = Arc::new(desired);
        }
        Ok(Some(id))
    }
}
