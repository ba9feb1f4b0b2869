//! Which orchestrators may have something waiting for their next handshake:
//! controller messages not acknowledged yet, and queued sends. A handshake
//! reads PostgreSQL (or claims through the persister) only for those, not for
//! every orchestrator of a fleet reconnecting at once.
//!
//! A hint may be wrong one way only: an orchestrator may be marked with nothing
//! waiting (its mark goes when a read finds nothing), never the other way round
//! for long. A replica marks what it creates and tells the others
//! (`changes::Change::Waiting`); every replica reloads the marks from
//! PostgreSQL every `changes::RESYNC_EVERY`, for a message it missed.

use std::sync::Arc;

use dashmap::DashSet;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// What may be waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    Messages,
    Sends,
}

/// The shared handle; cheap to clone.
#[derive(Clone, Default)]
pub struct Waiting {
    messages: Arc<DashSet<OrchestratorId>>,
    sends: Arc<DashSet<OrchestratorId>>,
}

impl Waiting {
    fn set(&self, what: What) -> &DashSet<OrchestratorId> {
        match what {
            What::Messages => &self.messages,
            What::Sends => &self.sends,
        }
    }

    /// Marks `id`: something of `what` waits for it.
    pub fn mark(&self, what: What, id: &OrchestratorId) {
        self.set(what).insert(id.clone());
    }

    /// A read found nothing of `what` for `id`.
    pub fn clear(&self, what: What, id: &OrchestratorId) {
        self.set(what).remove(id);
    }

    /// Whether something of `what` may wait for `id`.
    pub fn may_have(&self, what: What, id: &OrchestratorId) -> bool {
        self.set(what).contains(id)
    }

    /// Replaces the marks with what PostgreSQL holds now. A mark made while
    /// reading is kept (added, never dropped by a read that started before it).
    pub async fn load(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let messages: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT orchestrator_id FROM orchestrator_messages
              WHERE source = 'controller' AND status = 'pending' AND acked_at IS NULL",
        )
        .fetch_all(pool)
        .await?;
        let sends: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT orchestrator_id FROM queued_sends
              WHERE delivered_at IS NULL AND expires_at > now()",
        )
        .fetch_all(pool)
        .await?;
        for (what, ids) in [(What::Messages, messages), (What::Sends, sends)] {
            for id in ids
                .into_iter()
                .filter_map(|id| OrchestratorId::parse(id).ok())
            {
                self.mark(what, &id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_stays_until_a_read_finds_nothing() {
        let waiting = Waiting::default();
        let id = OrchestratorId::parse("org-1").unwrap();
        assert!(!waiting.may_have(What::Messages, &id));
        waiting.mark(What::Messages, &id);
        assert!(waiting.may_have(What::Messages, &id));
        assert!(!waiting.may_have(What::Sends, &id), "kinds are apart");
        waiting.clear(What::Messages, &id);
        assert!(!waiting.may_have(What::Messages, &id));
    }
}
