//! Core's in-memory view of the fleet: who is connected where, and the rules that
//! decide each heartbeat. Heartbeats are decided from here alone — no database
//! query per heartbeat, which is what made the first version collapse.
//!
//! Both maps are `DashMap`s: many heartbeat and handshake tasks touch different
//! orchestrators at once, and sharding keeps them off each other's locks. No guard
//! is ever held across an `.await`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use moolai_proto::events::ConnId;
use moolai_proto::{EdgeId, OrchestratorId};
use serde_json::{Map, Value};
use tokio::sync::watch;

/// One connected orchestrator.
#[derive(Debug, Clone)]
pub struct Connection {
    pub edge_id: EdgeId,
    pub conn_id: ConnId,
    pub connected_at: DateTime<Utc>,
    pub last_keepalive: Option<DateTime<Utc>>,
    pub metadata: Map<String, Value>,
    pub provision_config_capable: bool,
}

/// Rules for one orchestrator, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rule {
    pub is_independent: bool,
    pub privacy_mode: bool,
    /// Grows with every change (`orchestrator_instances.rule_revision`): a rule
    /// read late never replaces a newer one, here or on the orchestrator.
    pub revision: i64,
}

/// The cheap-to-clone handle every task shares.
#[derive(Clone, Default)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    connections: DashMap<OrchestratorId, Connection>,
    rules: DashMap<OrchestratorId, Rule>,
    /// Removed by an administrator: their handshakes are refused until registered again.
    deregistered: dashmap::DashSet<OrchestratorId>,
    /// When each orchestrator's heartbeat was last logged at info level, and on
    /// which connection.
    logged: DashMap<OrchestratorId, (Instant, ConnId)>,
    /// Heartbeats processed since start (for the rate the dashboard charts).
    processed: AtomicU64,
    /// Heartbeats ignored (independent orchestrators) since start.
    ignored: AtomicU64,
    /// The connection each newest one replaced, until the replica deciding
    /// that handshake has closed it: the view and the decision are two
    /// consumers (see `sessions`), and either may see the handshake first.
    superseded: DashMap<OrchestratorId, (ConnId, Connection)>,
    /// The events stream's sequence this view has applied up to.
    applied: watch::Sender<u64>,
    /// No other core replica announced itself lately (see `heartbeats`).
    others: std::sync::atomic::AtomicBool,
    /// Raised by a decision that waited in vain for the view.
    stalled: tokio::sync::Notify,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            connections: DashMap::default(),
            rules: DashMap::default(),
            deregistered: dashmap::DashSet::default(),
            logged: DashMap::default(),
            processed: AtomicU64::default(),
            ignored: AtomicU64::default(),
            superseded: DashMap::default(),
            applied: watch::Sender::new(0),
            others: std::sync::atomic::AtomicBool::new(false),
            stalled: tokio::sync::Notify::new(),
        }
    }
}

/// What registering a connection displaced.
pub enum Registered {
    /// No other connection was known.
    New,
    /// This replaced an older connection, which must be closed (4000 `superseded`).
    Superseded(Connection),
    /// This very connection was already registered (a redelivered event).
    Again,
    /// A newer connection is already known: this event is late and changes nothing.
    Stale,
}

/// How often per orchestrator a heartbeat line is logged at info level, so a large
/// fleet does not flood the log.
const LOG_EVERY: Duration = Duration::from_secs(60);

impl Live {
    /// Records a handshake; the newest connection wins.
    pub fn register(&self, id: OrchestratorId, conn: Connection) -> Registered {
        use dashmap::mapref::entry::Entry;
        // A new connection is a change: its first heartbeat is logged at once.
        self.inner.logged.remove(&id);
        match self.inner.connections.entry(id) {
            Entry::Vacant(v) => {
                v.insert(conn);
                Registered::New
            }
            Entry::Occupied(mut o) => {
                if o.get().conn_id == conn.conn_id {
                    return Registered::Again;
                }
                if o.get().connected_at > conn.connected_at {
                    return Registered::Stale;
                }
                let new_conn = conn.conn_id;
                let old = o.insert(conn);
                let id = o.key().clone();
                drop(o);
                self.inner.superseded.insert(id, (new_conn, old.clone()));
                Registered::Superseded(old)
            }
        }
    }

    /// Whether this replica is the only one (then its heartbeat decisions
    /// see every batch and keep the view themselves).
    pub fn alone(&self) -> bool {
        !self.inner.others.load(Ordering::Relaxed)
    }

    /// Notes whether other core replicas announced themselves lately.
    pub fn set_others(&self, others: bool) {
        self.inner.others.store(others, Ordering::Relaxed);
    }

    /// The connection `new_conn` replaced, once: whoever closes it takes it.
    pub fn take_superseded(&self, id: &OrchestratorId, new_conn: ConnId) -> Option<Connection> {
        self.inner
            .superseded
            .remove_if(id, |_, (by, _)| *by == new_conn)
            .map(|(_, (_, old))| old)
    }

    /// Notes that the view has applied the events stream up to `sequence`.
    pub fn applied(&self, sequence: u64) {
        self.inner.applied.send_if_modified(|seen| {
            let newer = sequence > *seen;
            if newer {
                *seen = sequence;
            }
            newer
        });
    }

    /// Says that a decision waited in vain for the view: its consumer is made
    /// anew (a consumer on a NATS node that died can go silent without the
    /// client noticing for a long time).
    pub fn view_stalled(&self) {
        self.inner.stalled.notify_one();
    }

    /// Completes when a decision said the view stalled.
    pub async fn stall_reported(&self) {
        self.inner.stalled.notified().await;
    }

    /// The events stream's sequence the view has applied up to (0: none yet).
    pub fn applied_sequence(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// Waits until the view has applied the events stream up to `sequence`, or
    /// `limit` has passed (a view that lags is still better than no decision);
    /// whether it got there.
    pub async fn caught_up(&self, sequence: u64, limit: Duration) -> bool {
        let mut seen = self.inner.applied.subscribe();
        let reached = tokio::time::timeout(limit, seen.wait_for(|seen| *seen >= sequence)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// Forgets a connection if it is still the current one; returns whether it was.
    pub fn unregister(&self, id: &OrchestratorId, conn_id: ConnId) -> bool {
        self.inner
            .connections
            .remove_if(id, |_, c| c.conn_id == conn_id)
            .is_some()
    }

    /// The current connection of `id`.
    pub fn connection(&self, id: &OrchestratorId) -> Option<Connection> {
        self.inner.connections.get(id).map(|c| c.clone())
    }

    /// Ids of the orchestrators connected now.
    pub fn connected_ids(&self) -> Vec<OrchestratorId> {
        self.inner
            .connections
            .iter()
            .map(|e| e.key().clone())
            .collect()
    }

    /// Forgets everything about `id` (after it was deregistered).
    pub fn forget(&self, id: &OrchestratorId) -> Option<Connection> {
        self.inner.rules.remove(id);
        self.inner.logged.remove(id);
        self.inner.connections.remove(id).map(|(_, c)| c)
    }

    /// How many orchestrators are connected.
    pub fn connected(&self) -> usize {
        self.inner.connections.len()
    }

    /// Heartbeats processed since start.
    pub fn heartbeats_processed(&self) -> u64 {
        self.inner.processed.load(Ordering::Relaxed)
    }

    /// Heartbeats ignored since start (their orchestrator was independent).
    pub fn heartbeats_ignored(&self) -> u64 {
        self.inner.ignored.load(Ordering::Relaxed)
    }

    /// Notes an ignored heartbeat.
    pub fn note_ignored(&self) {
        self.inner.ignored.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes a processed heartbeat.
    pub fn touch(&self, id: &OrchestratorId, conn_id: ConnId, at: DateTime<Utc>) {
        self.inner.processed.fetch_add(1, Ordering::Relaxed);
        if let Some(mut c) = self.inner.connections.get_mut(id) {
            if c.conn_id == conn_id {
                c.last_keepalive = Some(at);
            }
        }
    }

    /// The rule for `id` (the default: not independent).
    pub fn rule(&self, id: &OrchestratorId) -> Rule {
        self.inner.rules.get(id).map(|r| *r).unwrap_or_default()
    }

    /// Sets the rule for `id` unless a newer revision is known already (two API
    /// calls may finish in either order); returns the rule in force.
    pub fn set_rule(&self, id: OrchestratorId, rule: Rule) -> Rule {
        let (now, changed) = {
            let mut current = self.inner.rules.entry(id.clone()).or_default();
            let changed = rule.revision >= current.revision && *current != rule;
            if rule.revision >= current.revision {
                *current = rule;
            }
            (*current, changed)
        };
        // A rule change is a change: the next heartbeat's verdict is logged at
        // once. The same rule read again (a periodic reload) is not.
        if changed {
            self.inner.logged.remove(&id);
        }
        now
    }

    /// Marks `id` as removed by an administrator (or, with `false`, registered again).
    pub fn set_deregistered(&self, id: &OrchestratorId, gone: bool) {
        if gone {
            self.inner.deregistered.insert(id.clone());
        } else {
            self.inner.deregistered.remove(id);
        }
    }

    /// Replaces the deregistered set with the database's.
    pub fn replace_deregistered(&self, gone: std::collections::HashSet<OrchestratorId>) {
        self.inner.deregistered.retain(|id| gone.contains(id));
        for id in gone {
            self.inner.deregistered.insert(id);
        }
    }

    /// Whether `id` was deregistered and not registered again.
    pub fn is_deregistered(&self, id: &OrchestratorId) -> bool {
        self.inner.deregistered.contains(id)
    }

    /// Whether to log this heartbeat at info: the first one after a change (a new
    /// connection, a rule change) always, repeats at most once per [`LOG_EVERY`].
    /// The connection is compared here too, not only cleared at registration: a
    /// new connection's first heartbeat may reach core before its handshake does.
    pub fn should_log(&self, id: &OrchestratorId, conn_id: ConnId) -> bool {
        let now = Instant::now();
        // Per heartbeat: look up without cloning the id; insert only the first time.
        if let Some(mut last) = self.inner.logged.get_mut(id) {
            if last.1 == conn_id && now.duration_since(last.0) < LOG_EVERY {
                return false;
            }
            *last = (now, conn_id);
            return true;
        }
        self.inner.logged.insert(id.clone(), (now, conn_id));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> OrchestratorId {
        OrchestratorId::parse("org-1").unwrap()
    }

    #[test]
    fn a_heartbeat_is_logged_after_every_change_and_repeats_are_throttled() {
        let live = Live::default();
        let (first, second) = (ConnId::new_v4(), ConnId::new_v4());
        assert!(live.should_log(&id(), first), "the first one");
        assert!(!live.should_log(&id(), first), "a repeat within the minute");
        // A new connection, even before its handshake is known here.
        assert!(live.should_log(&id(), second));
        assert!(!live.should_log(&id(), second));
        let rule = Rule {
            is_independent: true,
            privacy_mode: false,
            revision: 2,
        };
        live.set_rule(id(), rule);
        assert!(live.should_log(&id(), second), "after a rule change");
    }

    #[test]
    fn an_older_rule_never_replaces_a_newer_one() {
        let live = Live::default();
        let rule = |on, revision| Rule {
            is_independent: on,
            privacy_mode: false,
            revision,
        };
        live.set_rule(id(), rule(true, 3));
        assert_eq!(live.set_rule(id(), rule(false, 2)), rule(true, 3));
        assert_eq!(live.rule(&id()), rule(true, 3));
        assert_eq!(live.set_rule(id(), rule(false, 4)), rule(false, 4));
    }
}
