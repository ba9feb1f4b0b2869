//! One orchestrator's WebSocket, from accept to goodbye.
//!
//! The life of a connection: read the handshake (within the handshake timeout),
//! validate it (see [`handshake`](crate::handshake)), store the handshake event
//! durably, answer `handshake_ack` as the very first frame, then run one `select!`
//! over the socket, the inbox (frames routed here by core, closes, and the drain
//! signal when the edge stops), the `controller_heartbeat` timer, the idle timer
//! and this connection's moment of the drain. Every way out has its own close code
//! ([`moolai_proto::close`]), every close the edge starts completes the closing
//! handshake (see [`closing`]), and the end is always published as a disconnect
//! event.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use moolai_proto::config::ConfigStatus;
use moolai_proto::events::{
    new_message_id, Beat, ConfigStatusEvent, ConnId, DisconnectEvent, Event, HandshakeEvent,
    MessageAckEvent, MessageEvent, ProvisioningRequest, SnapshotEvent,
};
use moolai_proto::frames::{
    parse_client_frame, timestamp, ClientFrame, FrameError, HandshakeData, ServerFrame,
};
use moolai_proto::{close, OrchestratorId};
use tokio::sync::mpsc::Receiver;
use tokio::time::{interval_at, timeout, Instant};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::Instrument;

use crate::admission::Pending;
use crate::closing;
use crate::handshake::{read_handshake, Handshake};
use crate::limits::{BadFrames, Exceeded, FrameRate};
use crate::registry::{frames_len, Handle, Outbound, Outbox};
use crate::upgrade::Socket;
use crate::Edge;

/// A socket that takes no bytes for this long while we write is closed as a
/// slow reader: without it a peer that stops reading would stall its loop forever.
const WRITE_STALL: Duration = Duration::from_secs(20);
/// How long the edge keeps trying to store a disconnect through a NATS outage.
pub const DISCONNECT_RETRY: Duration = Duration::from_secs(30);

/// Serves one upgraded socket until it ends.
/// `verified` is the orchestrator a token proved at upgrade (when tokens are
/// required); the handshake must then name that same id. `pending` is this
/// handshake's place in the edge's backlog, given back once `handshake_ack` is
/// sent or the attempt ends.
pub async fn serve(
    socket: Socket,
    edge: Arc<Edge>,
    verified: Option<OrchestratorId>,
    pending: Pending,
) {
    let conn_id = ConnId::new_v4();
    let span = tracing::info_span!("conn", %conn_id, edge_id = %edge.id, orchestrator_id = tracing::field::Empty);
    Session {
        socket,
        edge,
        conn_id,
        verified,
        outbox: Arc::default(),
        pending: Some(pending),
    }
    .run()
    .instrument(span)
    .await
}

struct Session {
    socket: Socket,
    /// Shared by every connection: one pointer each, not a copy of every handle.
    edge: Arc<Edge>,
    conn_id: ConnId,
    verified: Option<OrchestratorId>,
    /// Frames core routed here that wait for the socket.
    outbox: Arc<Outbox>,
    /// This handshake's place in the backlog, until the ack is sent.
    pending: Option<Pending>,
}

/// Why the main loop ended, which decides the close frame and the disconnect reason.
enum End {
    ClientClosed,
    Broken(String),
    Close(u16, String),
}

impl From<Exceeded> for End {
    fn from(over: Exceeded) -> Self {
        End::Close(close::POLICY, over.reason().into())
    }
}

impl Session {
    async fn run(mut self) {
        tracing::info!("[C-OCS] WebSocket connection accepted");
        metrics::counter!("moolai_edge_connections_accepted_total").increment(1);
        let handshake_timeout = Duration::from_secs(self.edge.config.handshake_timeout_sec);
        // Every frame counts against the rate from the first one: pings before
        // the handshake too, which tungstenite answers at our cost.
        let mut rate =
            FrameRate::new(self.edge.config.max_frames_per_sec).forgiving(self.edge.clock.clone());
        // Boxed like the other one-off steps below (handshake, refusal, announce,
        // goodbye): the task keeps only the main loop's state while it idles.
        let read = read_handshake(&mut self.socket, &mut rate);
        let read = Box::pin(timeout(handshake_timeout, read));
        let data = match read.await {
            Err(_) => return Box::pin(self.refuse(close::POLICY, "handshake_timeout")).await,
            Ok(Handshake::Gone) => return,
            Ok(Handshake::Refused(code, reason)) => {
                return Box::pin(self.refuse(code, &reason)).await
            }
            Ok(Handshake::Valid(id, data)) => (id, data),
        };
        let (id, data) = data;
        // The edge's shares of a handshake's latency: from its first frame to
        // the ack (mostly the durable write), and from admission (the upgrade
        // request let in) to the ack. What a client measures on top is TCP and
        // the wait before the edge's handler ran: the benchmarks print all three.
        let read_at = std::time::Instant::now();
        if self.verified.as_ref().is_some_and(|v| *v != id) {
            // A token for one orchestrator cannot be used to connect as another.
            return Box::pin(self.refuse(close::POLICY, "token_mismatch")).await;
        }
        tracing::Span::current().record("orchestrator_id", tracing::field::display(&id));
        let (handle, inbox) = Handle::new(self.conn_id, self.outbox.clone());
        if let Some(old) = self.edge.registry.insert(id.clone(), handle) {
            // Same edge, same id: the newest connection wins at once.
            old.close(close::SUPERSEDED, "superseded");
        }
        if !Box::pin(self.announce(&id, data)).await {
            self.edge.registry.remove(&id, self.conn_id);
            let reason = self.edge.backlog.hinted("try_again_later");
            return Box::pin(self.refuse(close::TRY_AGAIN_LATER, &reason)).await;
        }
        metrics::gauge!("moolai_edge_connections").increment(1.0);
        let ack = ServerFrame::HandshakeAck {
            orch_id: id.to_string(),
            ts: timestamp(Utc::now()),
        };
        let sent = Box::pin(self.send_text(ack.to_json())).await;
        // The handshake is over either way.
        let admitted = self.pending.take().map(|p| p.age());
        let end = match sent {
            Err(end) => end,
            Ok(()) => {
                metrics::histogram!("moolai_edge_handshake_seconds")
                    .record(read_at.elapsed().as_secs_f64());
                if let Some(age) = admitted {
                    metrics::histogram!("moolai_edge_admitted_handshake_seconds")
                        .record(age.as_secs_f64());
                }
                tracing::info!("[C-OCS] handshake_ack sent to {id}");
                self.serve_frames(&id, inbox, rate).await
            }
        };
        Box::pin(self.finish(&id, end)).await;
        metrics::gauge!("moolai_edge_connections").decrement(1.0);
    }

    /// Stores the handshake durably; false if the bus could not take it.
    async fn announce(&mut self, id: &OrchestratorId, data: HandshakeData) -> bool {
        let capable = data.understands_provision_config();
        let event = Event::Handshake(HandshakeEvent {
            orchestrator_id: id.clone(),
            conn_id: self.conn_id,
            edge_id: self.edge.id.clone(),
            at: Utc::now(),
            metadata: data.metadata,
            provision_config_capable: capable,
        });
        match self
            .edge
            .bus
            .durable(&event, &format!("{}.handshake", self.conn_id))
            .await
        {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(%err, "handshake not stored; refusing the connection");
                false
            }
        }
    }

    /// The connection's main loop. Every branch's future lives across wakes
    /// (pinned once): the loop wakes for every frame, and futures re-created per
    /// wake — a shutdown token's `cancelled()`, a timer reset per frame — showed
    /// up in the edge's profile. Shutdown and slow-reader closes arrive through
    /// the inbox instead.
    async fn serve_frames(
        &mut self,
        id: &OrchestratorId,
        mut inbox: Receiver<Outbound>,
        mut rate: FrameRate,
    ) -> End {
        let config = &self.edge.config;
        let every = Duration::from_secs(config.controller_heartbeat_sec);
        let mut beat = interval_at(Instant::now() + every, every);
        let idle_after = Duration::from_secs(config.idle_timeout_sec);
        let mut last_frame = Instant::now();
        let idle = tokio::time::sleep(idle_after);
        tokio::pin!(idle);
        let mut bad = BadFrames::default();
        let drain = Duration::from_secs(config.drain_sec);
        // Draining: each socket closes at its own moment within EDGE_DRAIN_SEC, so
        // the fleet moves to other edges as a trickle, not a stampede.
        let mut draining = self.edge.shutdown.is_cancelled();
        let drain_at = tokio::time::sleep(spread(self.conn_id, drain));
        tokio::pin!(drain_at);
        loop {
            tokio::select! {
                _ = &mut drain_at, if draining => {
                    return End::Close(close::SERVICE_RESTART, "server_draining".into());
                }
                // Re-armed from the last frame only when it fires, not per frame.
                _ = &mut idle => {
                    if last_frame.elapsed() >= idle_after {
                        return End::Close(close::GOING_AWAY, "idle_timeout".into());
                    }
                    idle.as_mut().reset(last_frame + idle_after);
                }
                _ = beat.tick() => {
                    let frame = ServerFrame::ControllerHeartbeat { orch_id: id.to_string(), ts: timestamp(Utc::now()) };
                    if let Err(end) = self.send_text(frame.to_json()).await {
                        return end;
                    }
                }
                out = inbox.recv() => match out {
                    Some(Outbound::Frames(frames)) => {
                        if let Err(end) = self.deliver(frames).await {
                            return end;
                        }
                    }
                    Some(Outbound::Close { code, reason }) => return End::Close(code, reason),
                    Some(Outbound::Drain) if !draining => {
                        draining = true;
                        drain_at.as_mut().reset(Instant::now() + spread(self.conn_id, drain));
                    }
                    Some(Outbound::Drain) => {}
                    None => return End::Close(close::INTERNAL, "internal_error".into()),
                },
                msg = self.socket.next() => {
                    last_frame = Instant::now();
                    if let Some(over) = rate.note() {
                        return over.into();
                    }
                    if let Some(end) = self.on_message(id, msg, &mut bad).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Handles one read from the socket; `Some` ends the connection.
    async fn on_message(
        &mut self,
        id: &OrchestratorId,
        msg: Option<Result<Message, WsError>>,
        bad: &mut BadFrames,
    ) -> Option<End> {
        let msg = match msg {
            None => return Some(End::ClientClosed),
            Some(Err(err)) => return Some(classify_read_error(err)),
            Some(Ok(msg)) => msg,
        };
        match msg {
            Message::Text(text) => match parse_client_frame(text.as_str()) {
                Ok(frame) => {
                    self.edge.counters.frames_received.increment(1);
                    let is_message = matches!(frame, ClientFrame::Message { .. });
                    if is_message && !self.edge.quotas.admit(id, text.len()) {
                        // Dropped, not stored; boxed like the other rare writes.
                        let refusal = self.edge.quotas.refusal();
                        return Box::pin(self.send_text(refusal)).await.err();
                    }
                    self.on_frame(id, frame).await
                }
                Err(err) => {
                    self.edge
                        .counters
                        .bad_frames
                        .fetch_add(1, Ordering::Relaxed);
                    self.edge.counters.invalid_frames.increment(1);
                    // Boxed: rare (a bad frame), and it writes to the socket.
                    if let Some(end) = Box::pin(self.explain(&err)).await {
                        return Some(end);
                    }
                    bad.count(err).map(End::from)
                }
            },
            Message::Binary(_) => Some(End::Close(
                close::UNSUPPORTED,
                "binary_not_supported".into(),
            )),
            Message::Close(_) => Some(End::ClientClosed),
            // tungstenite answers pings itself; pongs need nothing, and raw
            // frames are only ever written, never read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
        }
    }

    async fn on_frame(&mut self, id: &OrchestratorId, frame: ClientFrame) -> Option<End> {
        let edge = &self.edge;
        let now = Utc::now();
        match frame {
            ClientFrame::IAmAlive {} => {
                edge.counters.heartbeats.fetch_add(1, Ordering::Relaxed);
                edge.heartbeats.note(Beat {
                    orchestrator_id: id.clone(),
                    conn_id: self.conn_id,
                    at: now,
                });
            }
            ClientFrame::ProvisioningRequest {} => {
                let req = ProvisioningRequest {
                    orchestrator_id: id.clone(),
                    conn_id: self.conn_id,
                    edge_id: edge.id.clone(),
                };
                let payload = serde_json::to_vec(&req).unwrap_or_default();
                let subject = edge.bus.subjects.provisioning_request(id);
                // Boxed: rare, and inline it would grow every connection's task.
                if let Err(err) = Box::pin(edge.bus.notify(subject, payload.into())).await {
                    tracing::warn!(%err, "provisioning request dropped");
                }
            }
            ClientFrame::OConfigSnapshot { data } => {
                let event = Event::Snapshot(SnapshotEvent {
                    orchestrator_id: id.clone(),
                    conn_id: self.conn_id,
                    at: now,
                    data,
                });
                self.store_in_background(
                    event,
                    format!("{}.snapshot.{}", self.conn_id, now.timestamp_micros()),
                );
            }
            ClientFrame::Message { data } => {
                let message_id = new_message_id(id, now);
                let event = Event::Message(MessageEvent {
                    message_id: message_id.clone(),
                    orchestrator_id: id.clone(),
                    at: now,
                    message_type: data.message_type,
                    content: data.content,
                    message_metadata: data.metadata,
                });
                self.store_in_background(event, message_id);
            }
            ClientFrame::MessageAck { data } => {
                let event = Event::MessageAck(MessageAckEvent {
                    orchestrator_id: id.clone(),
                    message_id: data.id.clone(),
                    at: now,
                });
                self.store_in_background(event, format!("{}.ack.{}", self.conn_id, data.id));
            }
            // Boxed: rare, and inline its error path would grow every connection's task.
            ClientFrame::ConfigStatus { data } => {
                return Box::pin(self.on_config_status(id, data, now)).await;
            }
            ClientFrame::Handshake { .. } => {
                tracing::debug!("second handshake on one connection ignored")
            }
        }
        None
    }

    /// A `config_status` is stored durably once checked; a bad one is explained.
    async fn on_config_status(
        &mut self,
        id: &OrchestratorId,
        data: ConfigStatus,
        now: chrono::DateTime<Utc>,
    ) -> Option<End> {
        let status = match data.checked() {
            Ok(status) => status,
            Err(err) => {
                let err = FrameError::Malformed {
                    kind: "config_status".into(),
                    reason: err.to_string(),
                };
                return self.explain(&err).await;
            }
        };
        let dedup = format!("{}.config_status.{}", self.conn_id, now.timestamp_micros());
        let event = Event::ConfigStatus(ConfigStatusEvent {
            orchestrator_id: id.clone(),
            conn_id: self.conn_id,
            at: now,
            status,
        });
        self.store_in_background(event, dedup);
        None
    }

    /// A known frame with bad content is answered with an `error` frame saying why;
    /// the socket stays open. (Non-JSON and unknown types are only logged, as the
    /// first version did.)
    async fn explain(&mut self, err: &FrameError) -> Option<End> {
        let FrameError::Malformed { kind, reason } = err else {
            return None;
        };
        let data = serde_json::json!({"code": "invalid_frame", "frame": kind, "detail": reason});
        let frame = ServerFrame::Error { data }.to_json();
        self.send_text(frame).await.err()
    }

    /// Stores an event without holding up the socket loop.
    fn store_in_background(&self, event: Event, dedup_id: String) {
        let bus = self.edge.bus.clone();
        self.edge.tasks.spawn(
            async move {
                if let Err(err) = bus
                    .durable_with_retry(&event, &dedup_id, DISCONNECT_RETRY)
                    .await
                {
                    tracing::error!(%err, "event lost: the bus did not take it");
                }
            }
            .in_current_span(),
        );
    }

    /// Writes one frame. A peer that takes none of it for [`WRITE_STALL`], or
    /// whose outbox overflows meanwhile, is closed as a slow reader.
    async fn send_text(&mut self, text: String) -> Result<(), End> {
        self.edge.counters.frames_sent.increment(1);
        let write = timeout(WRITE_STALL, self.socket.send(Message::text(text)));
        tokio::select! {
            written = write => match written {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(End::Broken(err.to_string())),
                Err(_) => Err(slow_reader()),
            },
            _ = self.outbox.overflowed() => Err(slow_reader()),
        }
    }

    /// Writes frames core routed here, then frees their room in the outbox.
    async fn deliver(&mut self, frames: Vec<String>) -> Result<(), End> {
        let bytes = frames_len(&frames);
        let mut sent = Ok(());
        for frame in frames {
            sent = self.send_text(frame).await;
            if sent.is_err() {
                break;
            }
        }
        self.outbox.release(bytes);
        sent
    }

    /// Closes a connection that never completed its handshake. The metric's
    /// label is the reason's first word (without a delay hint).
    async fn refuse(mut self, code: u16, reason: &str) {
        let label = reason.split_whitespace().next().unwrap_or("").to_owned();
        metrics::counter!("moolai_edge_handshakes_refused_total", "reason" => label).increment(1);
        tracing::info!(code, reason, "handshake refused");
        closing::close(&mut self.socket, code, reason).await;
    }

    /// Says goodbye on the socket and on the bus at once: the closing handshake
    /// may take up to a second (see [`closing`]), and the disconnect is not held
    /// back by it.
    async fn finish(self, id: &OrchestratorId, end: End) {
        let Session {
            mut socket,
            edge,
            conn_id,
            ..
        } = self;
        let reason = match &end {
            End::ClientClosed => "client_closed".to_owned(),
            End::Broken(why) => format!("broken: {why}"),
            End::Close(_, reason) => reason.clone(),
        };
        let goodbye = async {
            match &end {
                End::ClientClosed => closing::complete_peer_close(&mut socket).await,
                End::Broken(_) => {}
                End::Close(code, reason) => {
                    closing::close(&mut socket, *code, reason).await;
                }
            }
        };
        tokio::join!(goodbye, record_disconnect(&edge, conn_id, id, reason));
    }
}

/// Takes the connection out of the registry and stores its disconnect event.
async fn record_disconnect(edge: &Edge, conn_id: ConnId, id: &OrchestratorId, reason: String) {
    edge.registry.remove(id, conn_id);
    tracing::info!(reason, "[C-OCS] Orchestrator {id} disconnected");
    let event = Event::Disconnect(DisconnectEvent {
        orchestrator_id: id.clone(),
        conn_id,
        edge_id: edge.id.clone(),
        at: Utc::now(),
        reason,
    });
    let dedup = format!("{conn_id}.disconnect");
    if let Err(err) = edge
        .bus
        .durable_with_retry(&event, &dedup, DISCONNECT_RETRY)
        .await
    {
        tracing::error!(%err, "disconnect not stored; liveness will mark it inactive");
    }
    tracing::info!("[C-OCS] Cleaned up connection for {id}");
}

fn slow_reader() -> End {
    metrics::counter!("moolai_edge_slow_readers_closed_total").increment(1);
    End::Close(close::POLICY, "slow_reader".into())
}

/// This connection's moment within the drain period (spread evenly by its id).
fn spread(conn_id: ConnId, drain: Duration) -> Duration {
    let millis = drain.as_millis().max(1);
    Duration::from_millis((conn_id.as_u128() % millis) as u64)
}

fn classify_read_error(err: WsError) -> End {
    match closing::too_big(&err) {
        Some(_) => End::Close(close::TOO_BIG, "message_too_big".into()),
        None => End::Broken(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    /// The future of a connection's task is most of what an idle connection
    /// costs the edge (measured: 7,072 bytes before the one-off steps were
    /// boxed, 2,600 after). Guards against a change growing it back unnoticed.
    #[test]
    fn an_idle_connection_task_stays_small() {
        fn future_size<A, B, C, D, F, Fut>(_: F) -> usize
        where
            F: FnOnce(A, B, C, D) -> Fut,
        {
            std::mem::size_of::<Fut>()
        }
        let size = future_size(super::serve);
        eprintln!("connection task future: {size} bytes");
        assert!(size <= 3 * 1024, "connection future grew to {size} bytes");
    }
}
