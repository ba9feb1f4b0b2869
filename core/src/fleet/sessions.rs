//! Follows handshakes and disconnects on the events stream, in two ways:
//!
//! - the **view** ([`follow`]): every core replica reads every handshake and
//!   disconnect through its own ordered consumer and keeps its live view, so
//!   any replica lists the whole fleet;
//! - the **decisions** (durable consumer `core`, shared): each event goes to
//!   one replica, which supersedes older connections, refuses deregistered
//!   orchestrators and provisions new ones — once, whichever replica it is.
//!   Before deciding, a replica waits until its view has applied the stream up
//!   to that event, so it decides on what the view says then.
//!
//! Events of one orchestrator must be handled in order (a disconnect overtaking its
//! handshake would leave a ghost), while different orchestrators need not wait for
//! each other; so each event goes to one of [`WORKERS`] sequential workers chosen
//! by a hash of the orchestrator id.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{
    self, consumer::pull, consumer::push, consumer::AckPolicy, consumer::DeliverPolicy,
};
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use moolai_proto::events::{DisconnectEvent, Event, HandshakeEvent};
use moolai_proto::subjects::CORE_CONSUMER;
use moolai_proto::{EventKind, OrchestratorId, Subjects};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::fleet::activity::{Feed, Kind};
use crate::fleet::live::{Connection, Live};
use crate::push::ordered::Pushes;
use crate::push::route::Routes;

/// Number of sequential workers events are spread over.
const WORKERS: usize = 16;
pub use moolai_proto::close::{
    DEREGISTERED as CLOSE_DEREGISTERED, SUPERSEDED as CLOSE_SUPERSEDED,
    TOKEN_REVOKED as CLOSE_TOKEN_REVOKED,
};
/// The reason sent with [`CLOSE_DEREGISTERED`] (at most 123 bytes in a close frame).
pub const DEREGISTERED_REASON: &str = "deregistered: an administrator must register it again";

/// What a worker needs.
#[derive(Clone)]
pub struct Sessions {
    pub live: Live,
    pub routes: Routes,
    pub pushes: Pushes,
    pub pool: PgPool,
    pub feed: Feed,
}

/// Creates (or finds) core's durable consumer. A first start begins with new events:
/// the state before it is loaded from the database.
pub async fn consumer(
    js: &jetstream::Context,
    subjects: &Subjects,
) -> Result<PullConsumer, async_nats::Error> {
    let stream = js.get_stream(subjects.events_stream()).await?;
    let consumer = stream
        .get_or_create_consumer(
            CORE_CONSUMER,
            pull::Config {
                durable_name: Some(CORE_CONSUMER.to_owned()),
                deliver_policy: DeliverPolicy::New,
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_deliver: -1,
                filter_subjects: vec![
                    subjects.events_of(EventKind::Handshake),
                    subjects.events_of(EventKind::Disconnect),
                ],
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

/// How far back a starting view reads: events the persister may not have
/// written yet when the state was loaded from the database.
const VIEW_OVERLAP: Duration = Duration::from_secs(60);
/// Longest a decision waits for this replica's view to catch up; then the
/// view's consumer is made anew.
const VIEW_WAIT: Duration = Duration::from_secs(2);

/// Keeps the live view from every handshake and disconnect since `loaded_at`
/// (less an overlap; replaying one is harmless) until `shutdown`, through an
/// ordered consumer of this replica's own. The consumer is made anew after a
/// reconnection to NATS (a restarted server forgets it, and the client does not
/// always notice), from the next sequence the view has not applied.
pub async fn follow(
    js: jetstream::Context,
    nats: async_nats::Client,
    subjects: Subjects,
    live: Live,
    loaded_at: chrono::DateTime<chrono::Utc>,
    shutdown: CancellationToken,
) {
    let since = loaded_at - chrono::Duration::from_std(VIEW_OVERLAP).unwrap_or_default();
    while !shutdown.is_cancelled() {
        let connects = nats.statistics().connects.load(Ordering::Relaxed);
        let start = match live.applied_sequence() {
            0 => match time::OffsetDateTime::from_unix_timestamp(since.timestamp()) {
                Ok(start_time) => DeliverPolicy::ByStartTime { start_time },
                Err(_) => DeliverPolicy::All,
            },
            seen => DeliverPolicy::ByStartSequence {
                start_sequence: seen + 1,
            },
        };
        match view_messages(&js, &nats, &subjects, start).await {
            Ok(messages) => apply_all(messages, &live, &nats, connects, &shutdown).await,
            Err(err) => tracing::error!(%err, "live view consumer cannot be opened; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn view_messages(
    js: &jetstream::Context,
    nats: &async_nats::Client,
    subjects: &Subjects,
    deliver_policy: DeliverPolicy,
) -> Result<push::Ordered, async_nats::Error> {
    let stream = js.get_stream(subjects.events_stream()).await?;
    let consumer = stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: nats.new_inbox(),
            filter_subjects: vec![
                subjects.events_of(EventKind::Handshake),
                subjects.events_of(EventKind::Disconnect),
            ],
            deliver_policy,
            ..Default::default()
        })
        .await?;
    Ok(consumer.messages().await?)
}

/// Applies events until the stream ends, the client reconnected since
/// `connects`, a decision found the view stalled, or `shutdown`.
async fn apply_all(
    mut messages: push::Ordered,
    live: &Live,
    nats: &async_nats::Client,
    connects: u64,
    shutdown: &CancellationToken,
) {
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = live.stall_reported() => {
                tracing::warn!("live view behind the decisions; its consumer made anew");
                return;
            }
            _ = check.tick() => {
                if nats.statistics().connects.load(Ordering::Relaxed) != connects {
                    tracing::info!("reconnected to NATS; live view consumer made anew");
                    return;
                }
                continue;
            }
            next = messages.next() => next,
        };
        match next {
            Some(Ok(msg)) => apply(live, &msg),
            Some(Err(err)) => tracing::warn!(%err, "live view consumer hiccup"),
            None => return,
        }
    }
}

/// Applies one event to the view; no decision, no push, no log line.
fn apply(live: &Live, msg: &Message) {
    apply_event(live, &msg.payload);
    if let Ok(info) = msg.info() {
        live.applied(info.stream_sequence);
    }
}

fn apply_event(live: &Live, payload: &[u8]) {
    match serde_json::from_slice::<Event>(payload) {
        Ok(Event::Handshake(e)) if !live.is_deregistered(&e.orchestrator_id) => {
            live.register(e.orchestrator_id.clone(), connection(&e));
        }
        Ok(Event::Disconnect(e)) => {
            live.unregister(&e.orchestrator_id, e.conn_id);
        }
        _ => {}
    }
}

fn connection(e: &HandshakeEvent) -> Connection {
    Connection {
        edge_id: e.edge_id.clone(),
        conn_id: e.conn_id,
        connected_at: e.at,
        last_keepalive: None,
        metadata: e.metadata.clone(),
        provision_config_capable: e.provision_config_capable,
    }
}

/// Short pulls with idle heartbeats: after a NATS node dies, a missing pull is
/// noticed in seconds instead of after the default 30 s expiry.
async fn open(consumer: &PullConsumer) -> Result<pull::Stream, async_nats::Error> {
    Ok(consumer
        .stream()
        .expires(Duration::from_secs(5))
        .heartbeat(Duration::from_secs(2))
        .messages()
        .await?)
}

/// Dispatches events to the workers until `shutdown`.
pub async fn run(
    sessions: Sessions,
    consumer: PullConsumer,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) {
    let mut workers = Vec::with_capacity(WORKERS);
    for _ in 0..WORKERS {
        let (tx, rx) = mpsc::channel::<Message>(256);
        tasks.spawn(worker(sessions.clone(), rx));
        workers.push(tx);
    }
    // The stream is reopened whenever it ends or fails: core must never sit alive
    // but deaf to handshakes.
    while !shutdown.is_cancelled() {
        match open(&consumer).await {
            Ok(messages) => dispatch(messages, &workers, &shutdown).await,
            Err(err) => tracing::error!(%err, "core consumer cannot be opened; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn dispatch(
    mut messages: pull::Stream,
    workers: &[mpsc::Sender<Message>],
    shutdown: &CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = messages.next() => next,
        };
        let msg = match next {
            Some(Ok(msg)) => msg,
            Some(Err(err)) => {
                tracing::warn!(%err, "core consumer hiccup");
                continue;
            }
            None => {
                tracing::error!("core consumer stream ended; reopening");
                return;
            }
        };
        let slot = worker_for(msg.subject.as_str());
        if workers[slot].send(msg).await.is_err() {
            return;
        }
    }
}

fn worker_for(subject: &str) -> usize {
    // The last token is the orchestrator id.
    let id = subject.rsplit('.').next().unwrap_or(subject);
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    (h.finish() as usize) % WORKERS
}

async fn worker(sessions: Sessions, mut rx: mpsc::Receiver<Message>) {
    while let Some(msg) = rx.recv().await {
        if let Ok(info) = msg.info() {
            if !sessions
                .live
                .caught_up(info.stream_sequence, VIEW_WAIT)
                .await
            {
                // The view lags (it is behind, so it cannot have seen a later
                // event of this orchestrator): the event is applied here, so
                // the decision is still made on it, and the view's consumer is
                // made anew.
                tracing::warn!(
                    sequence = info.stream_sequence,
                    "deciding before the live view caught up"
                );
                sessions.live.view_stalled();
                apply_event(&sessions.live, &msg.payload);
            }
        }
        let outcome = match serde_json::from_slice::<Event>(&msg.payload) {
            Ok(Event::Handshake(e)) => sessions.on_handshake(e).await,
            Ok(Event::Disconnect(e)) => {
                sessions.on_disconnect(e);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(err) => {
                // The persister dead-letters it; core has nothing to do with it.
                tracing::warn!(%err, subject = %msg.subject, "undecodable event skipped");
                Ok(())
            }
        };
        let ack = match outcome {
            Ok(()) => msg.ack().await,
            Err(err) => {
                tracing::warn!(%err, "event will be retried");
                msg.ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await
            }
        };
        if let Err(err) = ack {
            tracing::warn!(%err, "ack failed; the event will be redelivered");
        }
    }
}

impl Sessions {
    #[tracing::instrument(skip_all, fields(orchestrator_id = %e.orchestrator_id, edge_id = %e.edge_id, conn_id = %e.conn_id))]
    async fn on_handshake(&self, e: HandshakeEvent) -> Result<(), async_nats::Error> {
        let id = e.orchestrator_id.clone();
        let conn = connection(&e);
        if self.live.is_deregistered(&id) {
            // Removed by an administrator: refused until registered again. The edge
            // has acknowledged the handshake already (it waits only for the stream),
            // so the refusal is a close with a reason the operator can read.
            tracing::info!("[C-OCS] Refusing deregistered orchestrator {id}");
            self.routes
                .close(&id, &conn, CLOSE_DEREGISTERED, DEREGISTERED_REASON)
                .await?;
            return Ok(());
        }
        match self.live.connection(&id) {
            Some(current) if current.conn_id == conn.conn_id => {}
            Some(current) if current.connected_at > conn.connected_at => {
                // A newer connection won already; this one must not linger either.
                self.routes
                    .close(&id, &conn, CLOSE_SUPERSEDED, "superseded")
                    .await?;
                return Ok(());
            }
            // Gone again before this decision: nothing to provision.
            _ => return Ok(()),
        }
        if let Some(old) = self.live.take_superseded(&id, conn.conn_id) {
            tracing::info!(old_conn_id = %old.conn_id, old_edge_id = %old.edge_id, "superseding older connection");
            self.routes
                .close(&id, &old, CLOSE_SUPERSEDED, "superseded")
                .await?;
        }
        tracing::info!("[C-OCS] Orchestrator {id} connected");
        self.feed.record(
            Kind::Handshake,
            json!({"orchestrator_id": id, "edge_id": conn.edge_id}),
        );
        self.welcome(&id, &conn).await
    }

    /// Configuration, independence, and every controller message not
    /// acknowledged yet (delivered again at each reconnect, held while
    /// independent).
    async fn welcome(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
    ) -> Result<(), async_nats::Error> {
        let welcome = self.pushes.welcome(id, conn).await?;
        crate::push::queued::deliver(&self.pushes.waiting, &self.routes, &self.feed, id, conn)
            .await?;
        tracing::info!("[C-OCS] Initial provisioning sent to {id}");
        self.feed
            .record(Kind::Provision, json!({"orchestrator_id": id}));
        let messages = welcome.messages;
        if messages > 0 {
            tracing::info!(messages, "pending messages delivered to {id}");
            self.feed.record(
                Kind::MessageSent,
                json!({"orchestrator_id": id, "count": messages}),
            );
        }
        Ok(())
    }

    /// Logged when it leaves the orchestrator unconnected (the view has
    /// applied it already); a superseded connection's goodbye is not news.
    fn on_disconnect(&self, e: DisconnectEvent) {
        let id = &e.orchestrator_id;
        if self.live.connection(id).is_none() {
            tracing::info!(orchestrator_id = %id, conn_id = %e.conn_id, reason = %e.reason,
                "[C-OCS] Orchestrator {id} disconnected");
            self.feed.record(
                Kind::Disconnect,
                json!({"orchestrator_id": id, "reason": e.reason}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use moolai_proto::events::ConnId;
    use serde_json::Map;

    use super::*;
    use crate::testing::{edge, org, Rig};

    fn handshake(id: &OrchestratorId, edge_name: &str, at: DateTime<Utc>) -> HandshakeEvent {
        HandshakeEvent {
            orchestrator_id: id.clone(),
            conn_id: ConnId::new_v4(),
            edge_id: edge(edge_name),
            at,
            metadata: Map::new(),
            provision_config_capable: true,
        }
    }

    fn disconnect(e: &HandshakeEvent) -> DisconnectEvent {
        DisconnectEvent {
            orchestrator_id: e.orchestrator_id.clone(),
            conn_id: e.conn_id,
            edge_id: e.edge_id.clone(),
            at: e.at,
            reason: "closed".into(),
        }
    }

    /// What the view's consumer does with an event.
    fn view(live: &Live, event: Event) {
        apply_event(live, &serde_json::to_vec(&event).unwrap());
    }

    fn welcomed(rig: &Rig, conn_id: ConnId) -> bool {
        rig.frames()
            .iter()
            .any(|(to, f)| *to == conn_id && f["type"] == "provision_config")
    }

    fn disconnects(rig: &Rig) -> usize {
        rig.feed.recent(Some("disconnect"), None, 100).len()
    }

    /// No PostgreSQL on these paths: the configuration is held and nothing
    /// is marked waiting (so no message read, no claim of queued sends).
    fn rig(id: &OrchestratorId) -> (Rig, Sessions) {
        let rig = Rig::new();
        rig.hold_config(id, 1);
        let sessions = rig.sessions();
        (rig, sessions)
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_connection_supersedes_the_older_which_is_closed() {
        let id = org("org-1");
        let (rig, sessions) = rig(&id);
        let now = Utc::now();
        let old = handshake(&id, "edge-1", now);
        let new = handshake(&id, "edge-2", now + TimeDelta::seconds(1));
        view(&rig.live, Event::Handshake(old.clone()));
        sessions.on_handshake(old.clone()).await.unwrap();
        assert!(welcomed(&rig, old.conn_id));
        assert!(rig.closes().is_empty());
        assert!(
            rig.persister.requests().is_empty(),
            "nothing waiting: no claim"
        );

        view(&rig.live, Event::Handshake(new.clone()));
        sessions.on_handshake(new.clone()).await.unwrap();
        assert_eq!(rig.closes(), [(old.conn_id, CLOSE_SUPERSEDED)]);
        let (to_edge, _) = rig
            .edges
            .sent()
            .into_iter()
            .find(|(_, c)| matches!(c, moolai_proto::events::EdgeCommand::Close { .. }))
            .unwrap();
        assert_eq!(to_edge, old.edge_id, "closed by the edge holding it");
        assert!(welcomed(&rig, new.conn_id));

        // The older connection's goodbye arrives after: the newer stays, and
        // it is no disconnect of the orchestrator.
        view(&rig.live, Event::Disconnect(disconnect(&old)));
        sessions.on_disconnect(disconnect(&old));
        assert_eq!(
            rig.live.connection(&id).map(|c| c.conn_id),
            Some(new.conn_id)
        );
        assert_eq!(disconnects(&rig), 0);
        // The newer's own goodbye is one.
        view(&rig.live, Event::Disconnect(disconnect(&new)));
        sessions.on_disconnect(disconnect(&new));
        assert!(rig.live.connection(&id).is_none());
        assert_eq!(disconnects(&rig), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_older_handshake_decided_late_is_closed_and_not_welcomed() {
        let id = org("org-1");
        let (rig, sessions) = rig(&id);
        let now = Utc::now();
        let old = handshake(&id, "edge-1", now);
        let new = handshake(&id, "edge-2", now + TimeDelta::seconds(1));
        view(&rig.live, Event::Handshake(new.clone()));
        view(&rig.live, Event::Handshake(old.clone()));
        sessions.on_handshake(new.clone()).await.unwrap();
        sessions.on_handshake(old.clone()).await.unwrap();
        assert_eq!(rig.closes(), [(old.conn_id, CLOSE_SUPERSEDED)]);
        assert!(!welcomed(&rig, old.conn_id));
        assert_eq!(
            rig.live.connection(&id).map(|c| c.conn_id),
            Some(new.conn_id)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_redelivered_handshake_closes_nothing() {
        let id = org("org-1");
        let (rig, sessions) = rig(&id);
        let e = handshake(&id, "edge-1", Utc::now());
        view(&rig.live, Event::Handshake(e.clone()));
        view(&rig.live, Event::Handshake(e.clone()));
        sessions.on_handshake(e.clone()).await.unwrap();
        sessions.on_handshake(e.clone()).await.unwrap();
        assert!(rig.closes().is_empty());
        assert_eq!(rig.live.connected(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deregistered_orchestrator_is_closed_with_its_code() {
        let id = org("org-1");
        let (rig, sessions) = rig(&id);
        rig.live.set_deregistered(&id, true);
        let e = handshake(&id, "edge-1", Utc::now());
        view(&rig.live, Event::Handshake(e.clone()));
        assert!(rig.live.connection(&id).is_none(), "not in the view either");
        sessions.on_handshake(e.clone()).await.unwrap();
        assert_eq!(rig.closes(), [(e.conn_id, CLOSE_DEREGISTERED)]);
        assert!(rig.frames().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_handshake_gone_before_its_decision_is_not_welcomed() {
        let id = org("org-1");
        let (rig, sessions) = rig(&id);
        let e = handshake(&id, "edge-1", Utc::now());
        view(&rig.live, Event::Handshake(e.clone()));
        view(&rig.live, Event::Disconnect(disconnect(&e)));
        sessions.on_handshake(e).await.unwrap();
        assert!(rig.edges.sent().is_empty());
    }

    /// The welcome's order: configuration, rule, then the queued sends claimed
    /// through the persister (marked waiting, so claimed; no message is marked,
    /// so no PostgreSQL read).
    #[tokio::test(start_paused = true)]
    async fn a_welcome_ends_with_the_queued_sends() {
        let id = org("org-1");
        let claimed = |request: &moolai_proto::commands::Request| match request.command {
            moolai_proto::commands::Command::ClaimQueuedSends { .. } => {
                moolai_proto::commands::Reply::Done {
                    data: serde_json::json!({"sends": [
                        {"id": "send_a", "frame": {"type": "restart"}, "frame_type": "restart"},
                    ]}),
                }
            }
            _ => moolai_proto::commands::Reply::Done {
                data: serde_json::Value::Null,
            },
        };
        let rig = Rig::with_persister(crate::persister_client::RecordedPersister::answering(
            claimed,
        ));
        rig.hold_config(&id, 1);
        rig.pushes
            .waiting
            .mark(crate::fleet::waiting::What::Sends, &id);
        let sessions = rig.sessions();
        let e = handshake(&id, "edge-1", Utc::now());
        view(&rig.live, Event::Handshake(e.clone()));
        sessions.on_handshake(e.clone()).await.unwrap();
        let types: Vec<_> = rig
            .frames()
            .into_iter()
            .map(|(_, f)| f["type"].clone())
            .collect();
        assert_eq!(
            types,
            ["provision_config", "independence_update", "restart"]
        );
        let asked = rig.persister.requests();
        assert!(
            matches!(
                &asked[..],
                [r] if matches!(&r.command, moolai_proto::commands::Command::ClaimQueuedSends { orchestrator_id, .. } if *orchestrator_id == id)
            ),
            "{asked:?}"
        );
        assert!(
            rig.pushes
                .waiting
                .may_have(crate::fleet::waiting::What::Sends, &id),
            "one was sent: may be more"
        );
    }

    #[test]
    fn one_orchestrators_events_go_to_one_worker() {
        let a = worker_for("p.events.handshake.org-1");
        assert_eq!(a, worker_for("p.events.disconnect.org-1"));
        assert!(a < WORKERS);
    }
}
