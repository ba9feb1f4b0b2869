//! Pushes that carry state (configuration, independence, message status) to one
//! orchestrator, in order: never an older state after a newer one.
//!
//! A handshake reads the orchestrator's state from the database and the live view
//! while an administrator may be changing it; whichever task reads later must also
//! send later. So every state push to an orchestrator runs under that
//! orchestrator's own async mutex, reads the state *inside* it, and skips what the
//! connection already has at the same or a newer revision. The frames carry their
//! revision too, so an orchestrator can also tell a late one (the agent ignores it).

use std::collections::HashMap;
use std::sync::Arc;

use dashmap::DashMap;
use moolai_proto::events::ConnId;
use moolai_proto::frames::{timestamp, Independence, ServerFrame};
use moolai_proto::OrchestratorId;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::fleet::live::{Connection, Live, Rule};
use crate::fleet::waiting::{Waiting, What};
use crate::push::desired::Configs;
use crate::push::route::Routes;
use crate::store;

/// A push that could not be made (database read or bus publish).
pub type PushError = async_nats::Error;

/// What one connection has been sent so far.
#[derive(Default)]
struct Sent {
    conn_id: Option<ConnId>,
    config: Option<i64>,
    rule: Option<i64>,
    independent: Option<bool>,
    statuses: HashMap<String, i64>,
}

/// The shared handle; cheap to clone.
#[derive(Clone)]
pub struct Pushes {
    live: Live,
    routes: Routes,
    pool: PgPool,
    sent: Arc<DashMap<OrchestratorId, Arc<Mutex<Sent>>>>,
    /// Desired configurations, in memory (a handshake reads none from PostgreSQL).
    pub configs: Configs,
    /// Who may have messages or sends waiting for a handshake.
    pub waiting: Waiting,
}

/// What a handshake's welcome sent.
pub struct Welcome {
    /// Controller messages delivered (pending, unacknowledged, not held).
    pub messages: usize,
}

impl Pushes {
    pub fn new(live: Live, routes: Routes, pool: PgPool) -> Self {
        Self {
            live,
            routes,
            pool,
            sent: Arc::default(),
            configs: Configs::default(),
            waiting: Waiting::default(),
        }
    }

    /// The database pool pushes read from.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads the desired configurations and the waiting marks (at start).
    pub async fn load(&self) -> Result<usize, sqlx::Error> {
        self.waiting.load(&self.pool).await?;
        self.configs.load_all(&self.pool).await
    }

    /// After another replica changed `id`'s configuration: the new one goes to
    /// the connection only if this replica sent it an older one (the replica
    /// that made the change sends it to connections it sent nothing).
    pub async fn refresh_config(&self, id: &OrchestratorId) -> Result<bool, PushError> {
        let Some(conn) = self.live.connection(id) else {
            return Ok(false);
        };
        let mut sent = self.lock(id, &conn).await;
        if sent.config.is_none() {
            return Ok(false);
        }
        self.send_config(&mut sent, id, &conn, false).await
    }

    /// Takes `id`'s push lock; what was sent is forgotten when `conn` is a new
    /// connection. The dashmap guard is dropped before waiting on the mutex.
    async fn lock(&self, id: &OrchestratorId, conn: &Connection) -> OwnedMutexGuard<Sent> {
        let slot = self.sent.entry(id.clone()).or_default().clone();
        let mut sent = slot.lock_owned().await;
        if sent.conn_id != Some(conn.conn_id) {
            *sent = Sent {
                conn_id: Some(conn.conn_id),
                ..Sent::default()
            };
        }
        sent
    }

    /// Forgets `id` (deregistered).
    pub fn forget(&self, id: &OrchestratorId) {
        self.sent.remove(id);
    }

    /// After a handshake: configuration, independence, and the controller messages
    /// it has not acknowledged (unless it is independent: they are held).
    pub async fn welcome(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
    ) -> Result<Welcome, PushError> {
        let mut sent = self.lock(id, conn).await;
        self.send_config(&mut sent, id, conn, true).await?;
        let messages = self.send_rule(&mut sent, id, conn).await?;
        Ok(Welcome { messages })
    }

    /// The stored configuration, if this connection has an older one (or always,
    /// with `force`: the orchestrator asked for it).
    pub async fn config(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
        force: bool,
    ) -> Result<bool, PushError> {
        let mut sent = self.lock(id, conn).await;
        self.send_config(&mut sent, id, conn, force).await
    }

    /// The rule in force, if this connection has an older one; when independence
    /// has just ended, the messages held meanwhile follow.
    pub async fn rule(&self, id: &OrchestratorId, conn: &Connection) -> Result<(), PushError> {
        let mut sent = self.lock(id, conn).await;
        self.send_rule(&mut sent, id, conn).await.map(drop)
    }

    /// A new controller message, unless the orchestrator is independent (held until
    /// independence ends or its next handshake after that).
    pub async fn message(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
        data: Value,
    ) -> Result<bool, PushError> {
        let _sent = self.lock(id, conn).await;
        if self.live.rule(id).is_independent {
            return Ok(false);
        }
        let frame = ServerFrame::Message { data }.to_json();
        self.routes.deliver(id, conn, vec![frame]).await?;
        Ok(true)
    }

    /// A message's new status, unless this connection was told a newer one.
    pub async fn status(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
        message_id: &str,
        status: &str,
        revision: i64,
    ) -> Result<bool, PushError> {
        let mut sent = self.lock(id, conn).await;
        if sent
            .statuses
            .get(message_id)
            .is_some_and(|r| *r >= revision)
        {
            return Ok(false);
        }
        let frame = ServerFrame::MessageStatus {
            data: json!({"id": message_id, "status": status, "revision": revision}),
        };
        self.routes.deliver(id, conn, vec![frame.to_json()]).await?;
        sent.statuses.insert(message_id.to_owned(), revision);
        Ok(true)
    }

    async fn send_config(
        &self,
        sent: &mut Sent,
        id: &OrchestratorId,
        conn: &Connection,
        force: bool,
    ) -> Result<bool, PushError> {
        let desired = self.configs.get(&self.pool, id).await?;
        let revision = desired.provision.data.revision;
        let newer = match (sent.config, revision) {
            (None, _) => true,
            (Some(had), Some(now)) => now > had,
            (Some(_), None) => false,
        };
        if !(newer || force) {
            return Ok(false);
        }
        self.routes.provision(id, conn, &desired).await?;
        sent.config = revision.or(sent.config);
        Ok(true)
    }

    /// Returns how many held messages went out with it.
    async fn send_rule(
        &self,
        sent: &mut Sent,
        id: &OrchestratorId,
        conn: &Connection,
    ) -> Result<usize, PushError> {
        // Read under the lock, after every await before it: the newest rule wins.
        let rule = self.live.rule(id);
        if sent.rule.is_some_and(|had| had >= rule.revision) {
            return Ok(0);
        }
        let mut frames = vec![independence_frame(rule)];
        let released = sent.independent != Some(false) && !rule.is_independent;
        if released && self.waiting.may_have(What::Messages, id) {
            let waiting = store::fleet::undelivered_messages(&self.pool, id).await?;
            if waiting.is_empty() {
                self.waiting.clear(What::Messages, id);
            }
            for data in waiting {
                frames.push(ServerFrame::Message { data }.to_json());
            }
        }
        // The rule is read again: the messages query awaited, and a rule that changed
        // meanwhile must not go out behind this one.
        let rule_now = self.live.rule(id);
        if rule_now != rule {
            frames[0] = independence_frame(rule_now);
            if rule_now.is_independent {
                frames.truncate(1);
            }
        }
        let messages = frames.len() - 1;
        self.routes.deliver(id, conn, frames).await?;
        sent.rule = Some(rule_now.revision);
        sent.independent = Some(rule_now.is_independent);
        Ok(messages)
    }
}

/// The `independence_update` frame for `rule`.
pub fn independence_frame(rule: Rule) -> String {
    ServerFrame::IndependenceUpdate {
        data: Independence {
            is_independent: rule.is_independent,
            privacy_mode: rule.privacy_mode,
            revision: Some(rule.revision),
        },
        timestamp: timestamp(chrono::Utc::now()),
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::testing::{conn, org, Rig};

    fn rule(revision: i64, is_independent: bool) -> Rule {
        Rule {
            is_independent,
            privacy_mode: false,
            revision,
        }
    }

    fn types(rig: &Rig) -> Vec<String> {
        rig.frames()
            .iter()
            .map(|(_, f)| f["type"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The path reads no PostgreSQL: the configuration is held, nothing waits.
    #[tokio::test(start_paused = true)]
    async fn a_welcome_sends_the_configuration_then_the_rule() {
        let rig = Rig::new();
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        rig.live.register(id.clone(), c.clone());
        rig.live.set_rule(id.clone(), rule(3, true), None);
        rig.hold_config(&id, 7);
        let welcome = rig.pushes.welcome(&id, &c).await.unwrap();
        assert_eq!(welcome.messages, 0);
        assert_eq!(types(&rig), ["provision_config", "independence_update"]);
        let frames = rig.frames();
        assert!(frames.iter().all(|(to, _)| *to == c.conn_id));
        assert_eq!(frames[0].1["revision"], 7);
        assert_eq!(frames[1].1["data"]["revision"], 3);
        assert_eq!(frames[1].1["data"]["is_independent"], true);
        // A welcome again (a redelivered handshake) sends the configuration
        // again, and not the rule this connection has.
        rig.pushes.welcome(&id, &c).await.unwrap();
        assert_eq!(types(&rig)[2..], ["provision_config"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_legacy_client_also_gets_the_first_versions_frame() {
        let rig = Rig::new();
        let id = org("org-1");
        let mut c = conn("edge-1", Utc::now());
        c.provision_config_capable = false;
        rig.live.register(id.clone(), c.clone());
        rig.hold_config(&id, 1);
        rig.pushes.config(&id, &c, false).await.unwrap();
        assert_eq!(types(&rig), ["provision_config", "provisioning"]);
    }

    #[tokio::test(start_paused = true)]
    async fn never_an_older_rule_after_a_newer_one() {
        let rig = Rig::new();
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        rig.live.register(id.clone(), c.clone());
        let mut tasks = Vec::new();
        for revision in [3, 1, 4, 2, 5, 5] {
            let (live, pushes, id, c) =
                (rig.live.clone(), rig.pushes.clone(), id.clone(), c.clone());
            tasks.push(tokio::spawn(async move {
                live.set_rule(id.clone(), rule(revision, revision % 2 == 0), None);
                pushes.rule(&id, &c).await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let sent: Vec<i64> = rig
            .frames()
            .iter()
            .map(|(_, f)| f["data"]["revision"].as_i64().unwrap())
            .collect();
        assert!(sent.windows(2).all(|w| w[0] < w[1]), "{sent:?}");
        assert_eq!(sent.last(), Some(&5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_is_sent_the_rule_again() {
        let rig = Rig::new();
        let id = org("org-1");
        let (c1, c2) = (conn("edge-1", Utc::now()), conn("edge-2", Utc::now()));
        rig.live.set_rule(id.clone(), rule(2, false), None);
        rig.pushes.rule(&id, &c1).await.unwrap();
        rig.pushes.rule(&id, &c1).await.unwrap();
        rig.pushes.rule(&id, &c2).await.unwrap();
        let to: Vec<_> = rig.frames().iter().map(|(to, _)| *to).collect();
        assert_eq!(to, [c1.conn_id, c2.conn_id]);
    }

    #[tokio::test(start_paused = true)]
    async fn never_an_older_status_or_configuration_after_a_newer_one() {
        let rig = Rig::new();
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        rig.live.register(id.clone(), c.clone());
        let p = &rig.pushes;
        assert!(p.status(&id, &c, "m1", "delivered", 2).await.unwrap());
        assert!(!p.status(&id, &c, "m1", "pending", 1).await.unwrap());
        assert!(!p.status(&id, &c, "m1", "delivered", 2).await.unwrap());
        assert!(
            p.status(&id, &c, "m2", "pending", 1).await.unwrap(),
            "per message"
        );
        assert!(p.status(&id, &c, "m1", "read", 3).await.unwrap());

        rig.hold_config(&id, 5);
        assert!(p.config(&id, &c, false).await.unwrap());
        rig.hold_config(&id, 4);
        assert!(!p.refresh_config(&id).await.unwrap(), "older than sent");
        assert!(!p.config(&id, &c, false).await.unwrap());
        assert!(
            p.config(&id, &c, true).await.unwrap(),
            "asked for: sent anyway"
        );
        rig.hold_config(&id, 6);
        assert!(p.refresh_config(&id).await.unwrap());
        let revisions: Vec<_> = rig
            .frames()
            .iter()
            .filter(|(_, f)| f["type"] == "provision_config")
            .map(|(_, f)| f["revision"].as_i64().unwrap())
            .collect();
        assert_eq!(revisions, [5, 4, 6], "only the forced one is not newer");
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_is_held_while_independent() {
        let rig = Rig::new();
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        rig.live.register(id.clone(), c.clone());
        rig.live.set_rule(id.clone(), rule(1, true), None);
        assert!(!rig
            .pushes
            .message(&id, &c, json!({"id": "m1"}))
            .await
            .unwrap());
        rig.live.set_rule(id.clone(), rule(2, false), None);
        assert!(rig
            .pushes
            .message(&id, &c, json!({"id": "m2"}))
            .await
            .unwrap());
        assert_eq!(types(&rig), ["message"]);
    }
}
