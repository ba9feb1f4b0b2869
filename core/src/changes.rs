//! Rules and registrations an administrator changed, shared between core
//! replicas.
//!
//! The replica that took the API call applies a change to its own view before
//! answering, then tells the others on `{p}.cores.state` (core NATS): every
//! replica decides heartbeats and handshakes, so each must know at once that an
//! orchestrator became independent or was deregistered. A replica that missed a
//! message (cut off, or starting) catches up from the database every
//! [`RESYNC_EVERY`]; rules carry their revision, so a late copy never replaces a
//! newer one. The persister rechecks independence in SQL when it writes
//! heartbeats, so what is recorded never depends on this message arriving.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use moolai_proto::{CoreId, OrchestratorId, Subjects};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::live::{Live, Rule};
use crate::push::Pushes;

/// How often every replica reloads rules and registrations from the database.
pub const RESYNC_EVERY: Duration = Duration::from_secs(30);

/// One change, as it travels between replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
enum Change {
    Rule {
        orchestrator_id: OrchestratorId,
        is_independent: bool,
        privacy_mode: bool,
        revision: i64,
    },
    Deregistered {
        orchestrator_id: OrchestratorId,
    },
    Registered {
        orchestrator_id: OrchestratorId,
    },
}

/// A change with the replica it comes from (which has applied it already).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Envelope {
    from: CoreId,
    #[serde(flatten)]
    change: Change,
}

/// The handle the API changes rules and registrations through.
#[derive(Clone)]
pub struct Changes {
    me: CoreId,
    live: Live,
    pushes: Pushes,
    nats: async_nats::Client,
    subject: String,
}

impl Changes {
    pub fn new(
        me: CoreId,
        live: Live,
        pushes: Pushes,
        nats: async_nats::Client,
        subjects: &Subjects,
    ) -> Self {
        Self {
            me,
            live,
            pushes,
            nats,
            subject: subjects.core_state(),
        }
    }

    /// Sets `id`'s rule here and on the other replicas; returns the rule in
    /// force here (a newer one may be known already).
    pub async fn set_rule(&self, id: OrchestratorId, rule: Rule) -> Rule {
        let now = self.live.set_rule(id.clone(), rule);
        self.tell(Change::Rule {
            orchestrator_id: id,
            is_independent: rule.is_independent,
            privacy_mode: rule.privacy_mode,
            revision: rule.revision,
        })
        .await;
        now
    }

    /// `id` was deregistered: every replica refuses its handshakes and forgets
    /// it. Closing its socket is the caller's (one close, not one per replica).
    pub async fn deregistered(&self, id: &OrchestratorId) {
        self.apply(&Change::Deregistered {
            orchestrator_id: id.clone(),
        });
        self.tell(Change::Deregistered {
            orchestrator_id: id.clone(),
        })
        .await;
    }

    /// `id` was registered (or created) again.
    pub async fn registered(&self, id: &OrchestratorId) {
        let change = Change::Registered {
            orchestrator_id: id.clone(),
        };
        self.apply(&change);
        self.tell(change).await;
    }

    async fn tell(&self, change: Change) {
        let envelope = Envelope {
            from: self.me.clone(),
            change,
        };
        let payload = Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default());
        if let Err(err) = self.nats.publish(self.subject.clone(), payload).await {
            // The others catch up at their next resync.
            tracing::warn!(%err, "change not told to the other core replicas");
        }
    }

    fn apply(&self, change: &Change) {
        match change {
            Change::Rule {
                orchestrator_id,
                is_independent,
                privacy_mode,
                revision,
            } => {
                let rule = Rule {
                    is_independent: *is_independent,
                    privacy_mode: *privacy_mode,
                    revision: *revision,
                };
                self.live.set_rule(orchestrator_id.clone(), rule);
            }
            Change::Deregistered { orchestrator_id } => {
                self.live.set_deregistered(orchestrator_id, true);
                self.pushes.forget(orchestrator_id);
                self.live.forget(orchestrator_id);
            }
            Change::Registered { orchestrator_id } => {
                self.live.set_deregistered(orchestrator_id, false);
            }
        }
    }
}

/// Applies the other replicas' changes, and reloads from the database every
/// [`RESYNC_EVERY`], until `shutdown`.
pub async fn follow(
    changes: Changes,
    pool: PgPool,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let mut sub = changes.nats.subscribe(changes.subject.clone()).await?;
    let mut resync = tokio::time::interval(RESYNC_EVERY);
    resync.reset(); // the state was loaded at start
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = resync.tick() => {
                if let Err(err) = crate::store::load_rules(&pool, &changes.live).await {
                    tracing::debug!(%err, "rules not reloaded; retrying at the next resync");
                }
            }
            msg = sub.next() => {
                let Some(msg) = msg else { return Ok(()) };
                match serde_json::from_slice::<Envelope>(&msg.payload) {
                    Ok(e) if e.from != changes.me => changes.apply(&e.change),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(%err, "undecodable change from a core replica"),
                }
            }
        }
    }
}
