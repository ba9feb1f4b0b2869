//! Core's in-memory view of the fleet: who is connected where, and the rules that
//! decide each heartbeat. Heartbeats are decided from here alone — no database
//! query per heartbeat, which is what made the first version collapse.
//!
//! Everything known of one orchestrator (its rule, its connection, when its
//! heartbeat was last logged) is one entry of one `DashMap`, so deciding a
//! heartbeat is one lookup: the profile showed three lookups by id per heartbeat
//! as core's largest cost after JSON (docs/performance.md). Many heartbeat and
//! handshake tasks touch different orchestrators at once, and sharding keeps
//! them off each other's locks. No guard is ever held across an `.await`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// What this view knows of one orchestrator.
#[derive(Default)]
struct Known {
    rule: Rule,
    /// Its connection, while it has one.
    conn: Option<Connection>,
    /// When its heartbeat was last logged at info level, and on which connection.
    logged: Option<(Instant, ConnId)>,
    /// The newest heartbeat's own time, decided here or followed.
    last_beat_at: Option<DateTime<Utc>>,
}

/// What a heartbeat's one lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Its orchestrator is independent: the heartbeat changes nothing.
    pub independent: bool,
    /// Log it at info (the first after a change, else once per [`LOG_EVERY`]).
    pub loud: bool,
}

struct Inner {
    known: DashMap<OrchestratorId, Known>,
    /// How many entries of `known` hold a connection.
    connected: AtomicUsize,
    /// Removed by an administrator: their handshakes are refused until registered again.
    deregistered: dashmap::DashSet<OrchestratorId>,
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
            known: DashMap::default(),
            connected: AtomicUsize::new(0),
            deregistered: dashmap::DashSet::default(),
            processed: AtomicU64::default(),
            ignored: AtomicU64::default(),
            superseded: DashMap::default(),
            applied: watch::Sender::new(0),
            // Until it has listened for its peers, a replica assumes it has
            // some: following costs a lone one little, while deciding as if
            // alone beside an unheard replica splits the log throttle.
            others: std::sync::atomic::AtomicBool::new(true),
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
        let mut known = self.inner.known.entry(id).or_default();
        let old = match &known.conn {
            None => None,
            Some(had) if had.conn_id == conn.conn_id => return Registered::Again,
            Some(had) if had.connected_at > conn.connected_at => return Registered::Stale,
            Some(had) => Some(had.clone()),
        };
        // A new connection is a change: its first heartbeat is logged at once.
        known.logged = None;
        let new_conn = conn.conn_id;
        known.conn = Some(conn);
        let id = known.key().clone();
        drop(known);
        match old {
            None => {
                self.inner.connected.fetch_add(1, Ordering::Relaxed);
                Registered::New
            }
            Some(old) => {
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
        let Some(mut known) = self.inner.known.get_mut(id) else {
            return false;
        };
        if known.conn.as_ref().is_none_or(|c| c.conn_id != conn_id) {
            return false;
        }
        known.conn = None;
        self.inner.connected.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// The current connection of `id`.
    pub fn connection(&self, id: &OrchestratorId) -> Option<Connection> {
        self.inner.known.get(id).and_then(|k| k.conn.clone())
    }

    /// Ids of the orchestrators connected now.
    pub fn connected_ids(&self) -> Vec<OrchestratorId> {
        self.inner
            .known
            .iter()
            .filter(|e| e.conn.is_some())
            .map(|e| e.key().clone())
            .collect()
    }

    /// Forgets everything about `id` (after it was deregistered).
    pub fn forget(&self, id: &OrchestratorId) -> Option<Connection> {
        let conn = self.inner.known.remove(id).and_then(|(_, k)| k.conn);
        if conn.is_some() {
            self.inner.connected.fetch_sub(1, Ordering::Relaxed);
        }
        conn
    }

    /// How many orchestrators are connected.
    pub fn connected(&self) -> usize {
        self.inner.connected.load(Ordering::Relaxed)
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

    /// Decides a heartbeat in one lookup: whether its orchestrator is
    /// independent and whether to log it; with `keep_view` (this replica keeps
    /// its view from the heartbeats it decides) it is also counted, and an
    /// accepted one is this connection's last keepalive.
    pub fn beat(
        &self,
        id: &OrchestratorId,
        conn_id: ConnId,
        at: DateTime<Utc>,
        keep_view: bool,
    ) -> Verdict {
        let now = Instant::now();
        let verdict = match self.inner.known.get_mut(id) {
            Some(mut known) => {
                let loud = known.logged.is_none_or(|(when, on)| {
                    on != conn_id || now.duration_since(when) >= LOG_EVERY
                });
                if loud {
                    known.logged = Some((now, conn_id));
                }
                known.last_beat_at = known.last_beat_at.max(Some(at));
                let independent = known.rule.is_independent;
                if keep_view && !independent {
                    keep_alive(&mut known, conn_id, at);
                }
                Verdict { independent, loud }
            }
            // Unknown here (its handshake not applied yet): the default rule.
            None => {
                let first = Known {
                    logged: Some((now, conn_id)),
                    last_beat_at: Some(at),
                    ..Known::default()
                };
                self.inner.known.entry(id.clone()).or_insert(first);
                Verdict {
                    independent: false,
                    loud: true,
                }
            }
        };
        if keep_view {
            self.count(verdict.independent);
        }
        verdict
    }

    /// Keeps the view from a heartbeat another replica decides: counted, and
    /// an accepted one is its connection's last keepalive; one lookup. The
    /// throttle is kept too: the deciding replica logged this heartbeat if a
    /// line was due, so the next line is due on every replica at the same
    /// time, not once per replica that happens to decide one.
    pub fn follow_beat(&self, id: &OrchestratorId, conn_id: ConnId, at: DateTime<Utc>) {
        self.beat(id, conn_id, at, true);
    }

    fn count(&self, ignored: bool) {
        let counter = if ignored {
            &self.inner.ignored
        } else {
            &self.inner.processed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The rule for `id` (the default: not independent).
    pub fn rule(&self, id: &OrchestratorId) -> Rule {
        self.inner.known.get(id).map(|k| k.rule).unwrap_or_default()
    }

    /// Sets the rule for `id` unless a newer revision is known already (two API
    /// calls may finish in either order); returns the rule in force. `changed_at`
    /// is when the change was made, where known (see below).
    pub fn set_rule(
        &self,
        id: OrchestratorId,
        rule: Rule,
        changed_at: Option<DateTime<Utc>>,
    ) -> Rule {
        let mut known = self.inner.known.entry(id).or_default();
        let changed = rule.revision >= known.rule.revision && known.rule != rule;
        if rule.revision >= known.rule.revision {
            known.rule = rule;
        }
        // A rule change is a change: the next heartbeat's verdict is logged at
        // once. The same rule read again (a periodic reload) is not. A change
        // another replica made may arrive here after a heartbeat sent after it,
        // which whoever decided it has logged under the new rule: then the line
        // is not due again (two-core CI saw a third line for that reason).
        let beat_since = match (known.last_beat_at, changed_at) {
            (Some(beat_at), Some(changed_at)) => beat_at > changed_at,
            _ => false,
        };
        if changed && !beat_since {
            known.logged = None;
        }
        known.rule
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
}

/// An accepted heartbeat on the current connection is its last keepalive.
fn keep_alive(known: &mut Known, conn_id: ConnId, at: DateTime<Utc>) {
    if let Some(c) = known.conn.as_mut().filter(|c| c.conn_id == conn_id) {
        c.last_keepalive = Some(at);
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
        let loud = |conn| live.beat(&id(), conn, Utc::now(), true).loud;
        assert!(loud(first), "the first one");
        assert!(!loud(first), "a repeat within the minute");
        // A new connection, even before its handshake is known here.
        assert!(loud(second));
        assert!(!loud(second));
        let rule = Rule {
            is_independent: true,
            privacy_mode: false,
            revision: 2,
        };
        live.set_rule(id(), rule, None);
        let verdict = live.beat(&id(), second, Utc::now(), true);
        assert!(verdict.loud, "after a rule change");
        assert!(verdict.independent);
        assert_eq!(
            (live.heartbeats_processed(), live.heartbeats_ignored()),
            (4, 1)
        );
    }

    #[test]
    fn a_heartbeat_another_replica_decided_counts_for_the_throttle() {
        let live = Live::default();
        let conn = ConnId::new_v4();
        live.follow_beat(&id(), conn, Utc::now());
        assert!(
            !live.beat(&id(), conn, Utc::now(), true).loud,
            "the other replica logged it"
        );
        live.set_rule(
            id(),
            Rule {
                is_independent: true,
                privacy_mode: false,
                revision: 2,
            },
            None,
        );
        live.follow_beat(&id(), conn, Utc::now());
        let verdict = live.beat(&id(), conn, Utc::now(), true);
        assert!(
            !verdict.loud,
            "the first after the change was logged by the other replica"
        );
        assert!(verdict.independent);
    }

    #[test]
    fn a_change_told_after_a_heartbeat_sent_after_it_is_not_logged_twice() {
        let live = Live::default();
        let conn = ConnId::new_v4();
        live.beat(&id(), conn, Utc::now(), true);
        let changed_at = Utc::now();
        // Another replica changed the rule and decided (logged) the next beat;
        // this one followed that beat before the change reached it.
        live.follow_beat(&id(), conn, changed_at + chrono::Duration::milliseconds(5));
        let rule = Rule {
            is_independent: true,
            privacy_mode: false,
            revision: 2,
        };
        live.set_rule(id(), rule, Some(changed_at));
        assert!(
            !live.beat(&id(), conn, Utc::now(), true).loud,
            "the beat after the change was logged where it was decided"
        );
        // A change made after the last beat makes the next one due, as before.
        let later = Rule {
            revision: 3,
            is_independent: false,
            ..rule
        };
        live.set_rule(id(), later, Some(Utc::now() + chrono::Duration::seconds(1)));
        assert!(live.beat(&id(), conn, Utc::now(), true).loud);
    }

    #[test]
    fn a_heartbeat_is_its_connections_keepalive_and_the_count_follows_connections() {
        let live = Live::default();
        let conn = Connection {
            edge_id: EdgeId::parse("edge-1").unwrap(),
            conn_id: ConnId::new_v4(),
            connected_at: Utc::now(),
            last_keepalive: None,
            metadata: Map::new(),
            provision_config_capable: true,
        };
        assert!(matches!(live.register(id(), conn.clone()), Registered::New));
        assert!(matches!(
            live.register(id(), conn.clone()),
            Registered::Again
        ));
        assert_eq!(live.connected(), 1);
        let at = Utc::now();
        live.follow_beat(&id(), ConnId::new_v4(), at);
        assert_eq!(
            live.connection(&id()).unwrap().last_keepalive,
            None,
            "another connection's"
        );
        live.follow_beat(&id(), conn.conn_id, at);
        assert_eq!(live.connection(&id()).unwrap().last_keepalive, Some(at));
        assert!(!live.unregister(&id(), ConnId::new_v4()));
        assert!(live.unregister(&id(), conn.conn_id));
        assert_eq!(live.connected(), 0);
        assert!(live.connected_ids().is_empty());
    }

    #[test]
    fn an_older_rule_never_replaces_a_newer_one() {
        let live = Live::default();
        let rule = |on, revision| Rule {
            is_independent: on,
            privacy_mode: false,
            revision,
        };
        live.set_rule(id(), rule(true, 3), None);
        assert_eq!(live.set_rule(id(), rule(false, 2), None), rule(true, 3));
        assert_eq!(live.rule(&id()), rule(true, 3));
        assert_eq!(live.set_rule(id(), rule(false, 4), None), rule(false, 4));
    }
}
