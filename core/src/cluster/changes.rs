//! Rules and registrations an administrator changed, shared between core
//! replicas.
//!
//! The replica that took the API call applies a change to its own view before
//! answering, then tells the others on `{p}.cores.state` (core NATS, through
//! `told`): every replica decides heartbeats and handshakes, so each must know
//! at once that an
//! orchestrator became independent or was deregistered. A replica that missed a
//! message (cut off, or starting) catches up from the database every
//! [`RESYNC_EVERY`]; rules carry their revision, so a late copy never replaces a
//! newer one. The persister rechecks independence in SQL when it writes
//! heartbeats, so what is recorded never depends on this message arriving.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::fleet::live::{Live, Rule};
use crate::fleet::waiting::What;
use crate::push::ordered::Pushes;

/// How often every replica reloads rules and registrations from the database.
pub const RESYNC_EVERY: Duration = Duration::from_secs(30);

/// One change, as it travels between replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Rule {
        orchestrator_id: OrchestratorId,
        is_independent: bool,
        privacy_mode: bool,
        revision: i64,
        /// When the replica that made it made it (absent from older replicas).
        #[serde(default)]
        changed_at: Option<DateTime<Utc>>,
    },
    Deregistered {
        orchestrator_id: OrchestratorId,
    },
    Registered {
        orchestrator_id: OrchestratorId,
    },
    /// These organizations' configurations (or names) changed: reload them.
    Configs {
        organization_ids: Vec<OrchestratorId>,
    },
    /// Something now waits for this orchestrator's next handshake.
    Waiting {
        what: What,
        orchestrator_id: OrchestratorId,
    },
}

/// The handle the API changes rules and registrations through.
#[derive(Clone)]
pub struct Changes {
    live: Live,
    pushes: Pushes,
    /// Where this replica's changes go to the others, once shared.
    outbox: Arc<OnceLock<mpsc::Sender<Change>>>,
}

impl Changes {
    pub fn new(live: Live, pushes: Pushes) -> Self {
        Self {
            live,
            pushes,
            outbox: Arc::default(),
        }
    }

    /// From now on, tells `outbox` every change made here (`told`).
    pub fn share(&self, outbox: mpsc::Sender<Change>) {
        let _ = self.outbox.set(outbox);
    }

    /// Sets `id`'s rule here and on the other replicas; returns the rule in
    /// force here (a newer one may be known already).
    pub fn set_rule(&self, id: OrchestratorId, rule: Rule) -> Rule {
        let changed_at = Utc::now();
        let now = self.live.set_rule(id.clone(), rule, Some(changed_at));
        self.tell(Change::Rule {
            orchestrator_id: id,
            is_independent: rule.is_independent,
            privacy_mode: rule.privacy_mode,
            revision: rule.revision,
            changed_at: Some(changed_at),
        });
        now
    }

    /// `id` was deregistered: every replica refuses its handshakes and forgets
    /// it. Closing its socket is the caller's (one close, not one per replica).
    pub fn deregistered(&self, id: &OrchestratorId) {
        self.here_and_there(Change::Deregistered {
            orchestrator_id: id.clone(),
        });
    }

    /// `id` was registered (or created) again.
    pub fn registered(&self, id: &OrchestratorId) {
        self.here_and_there(Change::Registered {
            orchestrator_id: id.clone(),
        });
    }

    /// Organizations whose configuration (or name, location) changed, or that
    /// were made or removed: reloaded here before this returns, then on the
    /// other replicas, which send the new configuration to connections they
    /// sent an older one.
    pub async fn configs_changed(&self, ids: Vec<OrchestratorId>) {
        if let Err(err) = self.pushes.configs.reload(self.pushes.pool(), &ids).await {
            tracing::warn!(%err, "configurations not reloaded; the next resync does");
        }
        self.tell(Change::Configs {
            organization_ids: ids,
        });
    }

    /// Something of `what` now waits for `id`'s next handshake.
    pub fn waiting(&self, what: What, id: &OrchestratorId) {
        self.here_and_there(Change::Waiting {
            what,
            orchestrator_id: id.clone(),
        });
    }

    fn here_and_there(&self, change: Change) {
        self.apply(&change);
        self.tell(change);
    }

    fn tell(&self, change: Change) {
        if let Some(outbox) = self.outbox.get() {
            // Full: the bus is slow; the others catch up at their next resync.
            let _ = outbox.try_send(change);
        }
    }

    /// Applies a change (this replica's own, or one another replica told).
    pub fn apply(&self, change: &Change) {
        match change {
            Change::Rule {
                orchestrator_id,
                is_independent,
                privacy_mode,
                revision,
                changed_at,
            } => {
                let rule = Rule {
                    is_independent: *is_independent,
                    privacy_mode: *privacy_mode,
                    revision: *revision,
                };
                self.live
                    .set_rule(orchestrator_id.clone(), rule, *changed_at);
            }
            Change::Deregistered { orchestrator_id } => {
                self.live.set_deregistered(orchestrator_id, true);
                self.pushes.forget(orchestrator_id);
                self.live.forget(orchestrator_id);
            }
            Change::Registered { orchestrator_id } => {
                self.live.set_deregistered(orchestrator_id, false);
            }
            Change::Configs { organization_ids } => {
                let (pushes, ids) = (self.pushes.clone(), organization_ids.clone());
                tokio::spawn(async move { reload_and_refresh(&pushes, &ids).await });
            }
            Change::Waiting {
                what,
                orchestrator_id,
            } => self.pushes.waiting.mark(*what, orchestrator_id),
        }
    }
}

/// Another replica changed these configurations: reload them, and send the
/// new one where this replica had sent an older one.
async fn reload_and_refresh(pushes: &Pushes, ids: &[OrchestratorId]) {
    if let Err(err) = pushes.configs.reload(pushes.pool(), ids).await {
        tracing::warn!(%err, "configurations not reloaded; the next resync does");
        return;
    }
    for id in ids {
        if let Err(err) = pushes.refresh_config(id).await {
            tracing::warn!(orchestrator_id = %id, %err, "new configuration not pushed");
        }
    }
}

/// Reloads rules, registrations, configurations written lately and the
/// waiting marks from the database every [`RESYNC_EVERY`] until `shutdown`:
/// what a replica that missed a told change catches up with.
pub async fn resync(live: Live, pushes: Pushes, pool: PgPool, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(RESYNC_EVERY);
    every.reset(); // the state was loaded at start
                   // Written since a little before the last pass (clocks, transactions in flight).
    let mut since = chrono::Utc::now() - chrono::Duration::seconds(5);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let started = chrono::Utc::now() - chrono::Duration::seconds(5);
        let reloaded = async {
            crate::store::fleet::load_rules(&pool, &live).await?;
            pushes.configs.load_changed_since(&pool, since).await?;
            pushes.waiting.load(&pool).await
        };
        match reloaded.await {
            Ok(()) => since = started,
            Err(err) => tracing::debug!(%err, "state not reloaded; retrying at the next resync"),
        }
    }
}
