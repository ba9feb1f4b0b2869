//! One orchestrator: connect, handshake, heartbeat, apply configuration, and
//! reconnect — with exponential backoff and jitter, failing over between edges.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use moolai_proto::close;
use moolai_proto::config::{ApplyStatus, ConfigContent, ConfigStatus, CAP_CONFIG_STATUS};
use moolai_proto::frames::{
    timestamp, ClientFrame, HandshakeData, MessageAck, ProvisionData, ServerFrame,
    CAP_PROVISION_CONFIG,
};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::watch;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::dial::{self, Socket};
use crate::error::AgentError;
use crate::narrate::{message_summary, provision_summary, say, Narration};
use crate::outbox::{self, Outbox};
use crate::pacing::{after_deregistered, after_hint, backoff, edge_order, hint_in_close, jitter};
use crate::revisions::{Kind, Revisions};
use crate::state_file::keep_state;
use crate::stats::Stats;

/// How long to wait for the TCP/WebSocket connect and for the `handshake_ack`.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the agent is doing, for tests and the single-agent log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// The edge URL of the current session, if connected.
    pub connected_to: Option<String>,
    /// Sessions established so far.
    pub sessions: u64,
}

/// One orchestrator's settings.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    pub id: String,
    pub urls: Vec<String>,
    pub interval: Duration,
    pub state_file: Option<PathBuf>,
    pub name: String,
    pub location: String,
    /// The orchestrator token, sent as `Authorization: Bearer` when set.
    pub token: Option<String>,
    /// Local address to connect from (load mode spreads connections over
    /// 127.0.0.x so that one source address's ephemeral ports do not run out).
    pub source_ip: Option<std::net::IpAddr>,
    /// Fault injection for tests: leave out every Nth heartbeat (0: none).
    pub drop_heartbeat_every: u32,
    /// TLS trust for `wss://` URLs; `None`: the system's roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Fault injection for tests and demos: a configuration whose features or
    /// settings name one of these keys fails to apply (`config_status` `failed`).
    pub fail_config_keys: Vec<String>,
    /// Start on the first URL rather than a random one (the benchmark gives
    /// each load process "its" edge first and the others to fail over to).
    pub start_at_first: bool,
    /// After an administrator deregistered it (close 4001): keep trying, minutes
    /// apart, instead of stopping.
    pub retry_deregistered: bool,
    /// Messages to send up to the controller, each once, when connected.
    pub outbox: Outbox,
}

/// How an orchestrator's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was told to stop (signal, `--duration-sec`, a test).
    Stopped,
    /// An administrator deregistered it (close 4001) and it was not told to
    /// keep trying: nothing it can do will let it in again.
    Deregistered,
}

enum Ended {
    Shutdown,
    /// The connection ended; with the delay hint of a 1013 close, if any.
    Closed(String, Option<Duration>),
    /// Closed with 4001: an administrator deregistered this orchestrator.
    Deregistered(String),
}

/// What the orchestrator does after a session ended or could not start.
enum Next {
    Wait(Duration),
    Stop(Outcome),
}

/// Where an orchestrator is in its reconnects.
#[derive(Default)]
struct Pace {
    /// Failed connection attempts in a row, for the backoff.
    attempt: u32,
    /// Connection attempts since the last session, as the first client counted.
    tries: u32,
    /// 4001 closes in a row (with `retry_deregistered`).
    deregistered: u32,
    /// Index into the orchestrator's own order of the edges.
    url_index: usize,
}

impl Orchestrator {
    /// An orchestrator with what every one needs; the rest off: no state file,
    /// token or source address, the system's TLS roots, no fault injection.
    /// Set any of them with struct update syntax.
    pub fn new(
        id: impl Into<String>,
        urls: Vec<String>,
        interval: Duration,
        name: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            urls,
            interval,
            state_file: None,
            name: name.into(),
            location: location.into(),
            token: None,
            source_ip: None,
            drop_heartbeat_every: 0,
            tls: None,
            fail_config_keys: Vec::new(),
            start_at_first: false,
            retry_deregistered: false,
            outbox: Outbox::default(),
        }
    }

    /// Runs until `shutdown`, reconnecting as needed, telling its story at debug.
    pub async fn run(
        self,
        stats: Stats,
        status: watch::Sender<Status>,
        shutdown: CancellationToken,
    ) -> Outcome {
        self.run_narrated(Narration::Debug, stats, status, shutdown)
            .await
    }

    /// Runs until `shutdown` (or until deregistered, see [`Outcome`]),
    /// reconnecting as needed, telling its story at the `narration` level. The
    /// edges are tried in an order of its own, random (after the first with
    /// `start_at_first`), so that a fleet given the same list spreads over all of
    /// them and a dead edge's orchestrators spread over the others; failures move
    /// on to the next in that order.
    pub async fn run_narrated(
        self,
        narration: Narration,
        stats: Stats,
        status: watch::Sender<Status>,
        shutdown: CancellationToken,
    ) -> Outcome {
        let mut pace = Pace::default();
        // Each orchestrator its own order over the edges (see `edge_order`).
        let order = edge_order(self.urls.len(), self.start_at_first);
        // Kept across reconnects: a late push of an older state is never applied.
        let mut seen = Revisions::default();
        while !shutdown.is_cancelled() {
            let url = &self.urls[order[pace.url_index % order.len()]];
            pace.tries = pace.tries.saturating_add(1);
            say!(narration, id = %self.id, "[O-CCS] Connecting to {url} (attempt {})", pace.tries);
            let ended = self
                .session(narration, url, &stats, &status, &mut seen, &shutdown)
                .await;
            status.send_modify(|s| s.connected_to = None);
            let pause = match self.next_step(narration, url, ended, &mut pace, &stats) {
                Next::Stop(outcome) => return outcome,
                Next::Wait(pause) => pause,
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = sleep(pause) => {}
            }
        }
        Outcome::Stopped
    }

    /// How long to wait before the next attempt, or whether to stop, after a
    /// session that ended (or never began) so.
    fn next_step(
        &self,
        narration: Narration,
        url: &str,
        ended: Result<Ended, AgentError>,
        pace: &mut Pace,
        stats: &Stats,
    ) -> Next {
        // Every way out moves on to the next edge first: the edge may be going
        // away, or busy while the next one has room.
        pace.url_index += 1;
        let ended = match ended {
            Err(AgentError::Refused { code, reason }) if code == close::DEREGISTERED => {
                Ok(Ended::Deregistered(format!("close {code} {reason}")))
            }
            other => other,
        };
        match ended {
            Ok(Ended::Shutdown) => Next::Stop(Outcome::Stopped),
            Ok(Ended::Deregistered(why)) => self.deregistered(narration, url, &why, pace, stats),
            Ok(Ended::Closed(why, hint)) => {
                (pace.attempt, pace.tries, pace.deregistered) = (1, 0, 0);
                let pause = match hint {
                    Some(hint) => {
                        stats.refused_with_hint();
                        after_hint(hint)
                    }
                    None => jitter(Duration::from_millis(500)),
                };
                say!(narration, id = %self.id, "[O-CCS] disconnected from {url} ({why}); reconnecting in {pause:.1?}");
                Next::Wait(pause)
            }
            // The edge is busy and said when to come back: wait that long (plus
            // jitter), without growing the backoff — this is not a failure of
            // ours. A fleet refused by one busy edge then spreads over the others.
            Err(err) if err.retry_hint().is_some() => {
                stats.refused_with_hint();
                let pause = after_hint(err.retry_hint().unwrap_or_default());
                say!(narration, id = %self.id, "[O-CCS] {url} is busy ({err}); retrying in {pause:.1?}");
                Next::Wait(pause)
            }
            Err(err) => {
                stats.error();
                pace.attempt = pace.attempt.saturating_add(1);
                let pause = backoff(pace.attempt);
                say!(narration, id = %self.id, "[O-CCS] could not connect to {url} ({err}); retrying in {pause:.1?}");
                Next::Wait(pause)
            }
        }
    }

    /// Close 4001: an administrator removed this orchestrator, and every edge
    /// will refuse it the same way until one registers it again. Reconnecting at
    /// once would only load the edges (the first agent did so 5 times a second,
    /// forever), so it stops, unless told to keep trying minutes apart.
    fn deregistered(
        &self,
        narration: Narration,
        url: &str,
        why: &str,
        pace: &mut Pace,
        stats: &Stats,
    ) -> Next {
        if !self.retry_deregistered {
            stats.deregistered();
            match narration {
                Narration::Info => {
                    tracing::error!(id = %self.id, "[O-CCS] stopping: {url} refused {} ({why}): an administrator deregistered it; register it again (POST /api/v1/internal/orchestrators/register) and restart the agent, or run it with --retry-deregistered to keep trying minutes apart", self.id)
                }
                Narration::Debug => {
                    tracing::debug!(id = %self.id, "[O-CCS] stopping: deregistered ({why})")
                }
            }
            return Next::Stop(Outcome::Deregistered);
        }
        (pace.tries, pace.deregistered) = (0, pace.deregistered.saturating_add(1));
        let pause = after_deregistered(pace.deregistered);
        say!(narration, id = %self.id, "[O-CCS] disconnected from {url} ({why}): deregistered by an administrator; retrying in {pause:.0?} (--retry-deregistered)");
        Next::Wait(pause)
    }

    async fn session(
        &self,
        narration: Narration,
        url: &str,
        stats: &Stats,
        status: &watch::Sender<Status>,
        seen: &mut Revisions,
        shutdown: &CancellationToken,
    ) -> Result<Ended, AgentError> {
        let started = Instant::now();
        let mut ws = self.handshake(narration, url).await?;
        say!(narration, id = %self.id, "[O-CCS] handshake_ack received");
        stats.connected(started.elapsed());
        status.send_modify(|s| {
            s.connected_to = Some(url.to_owned());
            s.sessions += 1;
        });
        let ended = self
            .heartbeat_loop(narration, &mut ws, stats, seen, shutdown)
            .await;
        if let Ended::Shutdown = ended {
            say!(narration, id = %self.id, "[O-CCS] stopping: closed the connection to {url}");
        }
        stats.disconnected();
        Ok(ended)
    }

    /// Connects and completes the handshake; the ack must be the first frame.
    async fn handshake(&self, narration: Narration, url: &str) -> Result<Socket, AgentError> {
        let connect = dial::open(url, self.token.as_deref(), self.source_ip, self.tls.clone());
        let mut ws = timeout(STEP_TIMEOUT, connect)
            .await
            .map_err(|_| AgentError::Timeout("connect"))??;
        say!(narration, id = %self.id, "[O-CCS] Connected to {url}; sending handshake");
        ws.send(Message::text(self.handshake_frame())).await?;
        let first = timeout(STEP_TIMEOUT, dial::next_text(&mut ws))
            .await
            .map_err(|_| AgentError::Timeout("handshake_ack"))??;
        match serde_json::from_str::<ServerFrame>(&first) {
            Ok(ServerFrame::HandshakeAck { .. }) => Ok(ws),
            _ => Err(AgentError::UnexpectedFirstFrame(first)),
        }
    }

    fn handshake_frame(&self) -> String {
        let features = self
            .stored_config()
            .map(|c| c.features)
            .unwrap_or_else(|| json!({}));
        let metadata = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "hostname": hostname(),
            "ip": "127.0.0.1",
            "ssl_enabled": false,
            "name": self.name,
            "location": self.location,
            "features": features,
            "capabilities": [CAP_PROVISION_CONFIG, CAP_CONFIG_STATUS],
            "agent": "moolai-agent",
            // Lets the controller judge silence by this orchestrator's own
            // rhythm (inactive after 3 missed intervals), not a global TTL.
            "heartbeat_interval_sec": self.interval.as_secs_f64(),
        });
        let frame = ClientFrame::Handshake {
            data: Some(HandshakeData {
                orchestrator_id: Some(self.id.clone()),
                metadata: object(metadata),
            }),
        };
        enveloped(&frame, Some("orchestrator"))
    }

    async fn heartbeat_loop(
        &self,
        narration: Narration,
        ws: &mut Socket,
        stats: &Stats,
        seen: &mut Revisions,
        shutdown: &CancellationToken,
    ) -> Ended {
        let mut tick = tokio::time::interval(self.interval);
        let mut beats: u32 = 0;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let frame = CloseFrame { code: CloseCode::Normal, reason: "agent_stopping".into() };
                    let _ = ws.send(Message::Close(Some(frame))).await;
                    return Ended::Shutdown;
                }
                _ = tick.tick() => {
                    beats = beats.wrapping_add(1);
                    if self.drop_heartbeat_every > 0 && beats.is_multiple_of(self.drop_heartbeat_every) {
                        tracing::debug!(id = %self.id, "i_am_alive #{beats} left out (fault injection)");
                        continue;
                    }
                    let frame = enveloped(&ClientFrame::IAmAlive {}, None);
                    if let Err(e) = ws.send(Message::text(frame)).await {
                        return Ended::Closed(format!("send failed: {e}"), None);
                    }
                    stats.heartbeat();
                    say!(narration, id = %self.id, "[O-CCS] i_am_alive sent #{beats}");
                }
                message = self.outbox.next() => {
                    if let Err(e) = ws.send(Message::text(outbox::frame(&message))).await {
                        self.outbox.put_back(message);
                        return Ended::Closed(format!("send failed: {e}"), None);
                    }
                    say!(narration, id = %self.id, "[O-CCS] message sent: type {}, {:?}", message.message_type.as_str(), message.content);
                }
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        for reply in self.on_frame(narration, text.as_str(), seen) {
                            if let Err(e) = ws.send(Message::text(reply)).await {
                                return Ended::Closed(format!("send failed: {e}"), None);
                            }
                        }
                    }
                    Some(Ok(Message::Close(frame))) => return closed(frame.as_ref()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Ended::Closed(format!("error: {e}"), None),
                    None => return Ended::Closed("connection ended without a close frame".into(), None),
                }
            }
        }
    }

    /// Applies a frame from the controller; returns the frames to answer with.
    fn on_frame(&self, narration: Narration, text: &str, seen: &mut Revisions) -> Vec<String> {
        let frame = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => frame,
            Err(_) => {
                tracing::debug!(id = %self.id, text, "frame not understood; ignored");
                return Vec::new();
            }
        };
        if !accepts(seen, &frame) {
            say!(narration, id = %self.id, "[O-CCS] ignored a late push of an older state: {text}");
            return Vec::new();
        }
        match frame {
            ServerFrame::ProvisionConfig { data, hash, .. } => {
                return self.apply_config(narration, data, hash, seen);
            }
            ServerFrame::IndependenceUpdate { data, .. } => {
                self.keep("independence", json!(data));
                say!(
                    narration,
                    id = %self.id,
                    "[O-CCS] independence_update received: independent={}, privacy_mode={}",
                    data.is_independent,
                    data.privacy_mode
                );
            }
            ServerFrame::Message { data } => {
                let (message_id, kind) = message_summary(&data);
                say!(narration, id = %self.id, "[O-CCS] message received: id {message_id}, type {kind}; acknowledging");
                let Some(id) = data.get("id").and_then(Value::as_str) else {
                    // Core's messages always have a string id; a `message_ack`
                    // without one is refused by the edge anyway.
                    tracing::warn!(id = %self.id, "message without an id: not acknowledged");
                    return Vec::new();
                };
                let ack = ClientFrame::MessageAck {
                    data: MessageAck { id: id.to_owned() },
                };
                return vec![ack.to_json()];
            }
            ServerFrame::MessageStatus { data } => {
                let (message_id, _) = message_summary(&data);
                let state = data.get("status").and_then(Value::as_str).unwrap_or("-");
                say!(narration, id = %self.id, "[O-CCS] message {message_id} is now {state}");
            }
            ServerFrame::Error { data } => {
                tracing::warn!(id = %self.id, error = %data, "controller refused a frame")
            }
            _ => {}
        }
        Vec::new()
    }

    /// Applies a configuration (or fails to, for a key it was told to fail on)
    /// and answers with `config_status`: `applying`, then `applied` or `failed`
    /// with the configuration it runs after all. The one it runs already (the
    /// push every handshake brings) is answered `applied` at once: there is
    /// nothing to apply, and a fleet reconnecting after an outage then costs
    /// the controller one status per orchestrator, not two.
    fn apply_config(
        &self,
        narration: Narration,
        data: ProvisionData,
        hash: Option<String>,
        seen: &mut Revisions,
    ) -> Vec<String> {
        if let Some(hash) = hash.as_deref().filter(|h| seen.runs(h)) {
            say!(narration, id = %self.id, "[O-CCS] provisioning unchanged: already running {hash}");
            return vec![config_status(
                hash,
                ApplyStatus::Applied,
                None,
                Some(data.content()),
            )];
        }
        let summary = provision_summary(&data);
        let refused = self.refused_key(&data);
        let effective = match &refused {
            None => {
                self.keep("provision_config", json!(data));
                say!(narration, id = %self.id, "[O-CCS] provisioning applied: {summary}");
                Some(data.content())
            }
            Some(key) => {
                say!(narration, id = %self.id, "[O-CCS] provisioning failed: {key} cannot be applied");
                self.stored_config().map(|c| c.content())
            }
        };
        let Some(hash) = hash else {
            return Vec::new(); // a controller that does not ask for statuses
        };
        let end = match refused {
            None => {
                seen.now_running(&hash);
                config_status(&hash, ApplyStatus::Applied, None, effective)
            }
            Some(key) => config_status(
                &hash,
                ApplyStatus::Failed,
                Some(format!(
                    "applying {key} failed (refused by --fail-config-key)"
                )),
                effective,
            ),
        };
        vec![config_status(&hash, ApplyStatus::Applying, None, None), end]
    }

    /// The first feature or setting named in `fail_config_keys`.
    fn refused_key(&self, data: &ProvisionData) -> Option<String> {
        let named = |v: &Value, key: &str| v.as_object().is_some_and(|m| m.contains_key(key));
        self.fail_config_keys
            .iter()
            .find(|k| named(&data.features, k) || named(&data.settings, k))
            .cloned()
    }

    fn stored_config(&self) -> Option<ProvisionData> {
        let text = std::fs::read_to_string(self.state_file.as_ref()?).ok()?;
        let state: Value = serde_json::from_str(&text).ok()?;
        serde_json::from_value(state.get("provision_config")?.clone()).ok()
    }

    /// Sets `key` in the state file.
    fn keep(&self, key: &str, value: Value) {
        if let Some(path) = &self.state_file {
            keep_state(path, &self.id, key, value);
        }
    }
}

/// Whether `frame` carries a state at least as new as the one applied.
fn accepts(seen: &mut Revisions, frame: &ServerFrame) -> bool {
    match frame {
        ServerFrame::ProvisionConfig { data, .. } => seen.accept(Kind::Config, data.revision),
        ServerFrame::IndependenceUpdate { data, .. } => seen.accept(Kind::Rule, data.revision),
        ServerFrame::MessageStatus { data } => match data.get("id").and_then(Value::as_str) {
            Some(id) => seen.accept(
                Kind::Status(id),
                data.get("revision").and_then(Value::as_i64),
            ),
            None => true,
        },
        _ => true,
    }
}

/// How a session that the edge closed with `frame` ended.
fn closed(frame: Option<&CloseFrame>) -> Ended {
    let why = close_reason(frame);
    match frame.map(|f| (u16::from(f.code), f.reason.as_str())) {
        Some((close::DEREGISTERED, _)) => Ended::Deregistered(why),
        Some((code, reason)) => Ended::Closed(why, hint_in_close(code, reason)),
        None => Ended::Closed(why, None),
    }
}

/// A close frame as its log line shows it: `close 1012 server_draining`.
fn close_reason(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(f) if f.reason.is_empty() => format!("close {}", u16::from(f.code)),
        Some(f) => format!("close {} {}", u16::from(f.code), f.reason),
        None => "close without a code".into(),
    }
}

/// A `config_status` frame for `hash`: where it is, why it failed, and the
/// configuration the orchestrator runs now.
fn config_status(
    hash: &str,
    status: ApplyStatus,
    error: Option<String>,
    effective: Option<ConfigContent>,
) -> String {
    let effective =
        effective.map(|c| serde_json::to_value(c).expect("a configuration always serialises"));
    ClientFrame::ConfigStatus {
        data: ConfigStatus {
            hash: hash.to_owned(),
            status,
            error,
            effective,
        },
    }
    .to_json()
}

/// `frame` with the envelope the first version's client puts around its
/// handshake and heartbeats: `service` (on a handshake) and a `timestamp`. The
/// controller reads past both; the agent sends them to look like that client.
fn enveloped(frame: &ClientFrame, service: Option<&'static str>) -> String {
    #[derive(Serialize)]
    struct Envelope<'a> {
        #[serde(flatten)]
        frame: &'a ClientFrame,
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'static str>,
        timestamp: String,
    }
    let envelope = Envelope {
        frame,
        service,
        timestamp: timestamp(Utc::now()),
    };
    serde_json::to_string(&envelope).expect("client frames always serialise")
}

/// The fields of a JSON object (`value` is one).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orchestrator(fail: &[&str]) -> Orchestrator {
        Orchestrator {
            fail_config_keys: fail.iter().map(|k| k.to_string()).collect(),
            ..Orchestrator::new(
                "o-1",
                vec!["ws://127.0.0.1:1/ws".into()],
                Duration::from_secs(30),
                "o",
                "here",
            )
        }
    }

    fn statuses(frames: &[String]) -> Vec<String> {
        frames
            .iter()
            .map(|f| serde_json::from_str::<Value>(f).unwrap()["data"]["status"].to_string())
            .collect()
    }

    #[test]
    fn a_configuration_already_running_is_answered_applied_at_once() {
        let data = |beta: bool| ProvisionData {
            features: json!({"beta": {"enabled": beta}}),
            settings: json!({}),
            policies: json!({}),
            revision: None,
        };
        let (agent, mut seen) = (orchestrator(&[]), Revisions::default());
        let apply = |seen: &mut Revisions, on: bool, hash: &str| {
            statuses(&agent.apply_config(Narration::Debug, data(on), Some(hash.into()), seen))
        };
        assert_eq!(
            apply(&mut seen, true, "h1"),
            [r#""applying""#, r#""applied""#]
        );
        // The push of the next handshake: the same hash.
        assert_eq!(apply(&mut seen, true, "h1"), [r#""applied""#]);
        assert_eq!(
            apply(&mut seen, false, "h2"),
            [r#""applying""#, r#""applied""#]
        );
        // A failed one is not running: its next push is tried again.
        let failing = orchestrator(&["beta"]);
        let mut seen = Revisions::default();
        let statuses_of = |seen: &mut Revisions, hash: &str| {
            statuses(&failing.apply_config(Narration::Debug, data(true), Some(hash.into()), seen))
        };
        assert_eq!(
            statuses_of(&mut seen, "h3"),
            [r#""applying""#, r#""failed""#]
        );
        assert_eq!(
            statuses_of(&mut seen, "h3"),
            [r#""applying""#, r#""failed""#]
        );
    }

    #[test]
    fn a_close_names_its_code_and_reason() {
        let frame = CloseFrame {
            code: CloseCode::from(moolai_proto::close::SUPERSEDED),
            reason: "superseded".into(),
        };
        assert_eq!(close_reason(Some(&frame)), "close 4000 superseded");
        assert_eq!(close_reason(None), "close without a code");
    }

    #[test]
    fn a_4001_close_is_a_deregistration_and_others_are_reconnects() {
        let frame = |code: u16, reason: &str| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let deregistered = frame(close::DEREGISTERED, "deregistered: gone");
        assert!(matches!(
            closed(Some(&deregistered)),
            Ended::Deregistered(why) if why == "close 4001 deregistered: gone"
        ));
        let busy = frame(close::TRY_AGAIN_LATER, "try_again_later retry_after=2");
        assert!(matches!(
            closed(Some(&busy)),
            Ended::Closed(_, Some(hint)) if hint == Duration::from_secs(2)
        ));
        assert!(matches!(closed(None), Ended::Closed(_, None)));
    }

    #[test]
    fn a_deregistered_orchestrator_stops_unless_told_to_keep_trying() {
        let refused = || {
            Err(AgentError::Refused {
                code: close::DEREGISTERED,
                reason: "deregistered".into(),
            })
        };
        let (stats, mut pace) = (Stats::default(), Pace::default());
        let stopping = orchestrator(&[]);
        assert!(matches!(
            stopping.next_step(Narration::Debug, "ws://e", refused(), &mut pace, &stats),
            Next::Stop(Outcome::Deregistered)
        ));
        assert_eq!(stats.snapshot().deregistered, 1);
        let trying = Orchestrator {
            retry_deregistered: true,
            ..orchestrator(&[])
        };
        match trying.next_step(Narration::Debug, "ws://e", refused(), &mut pace, &stats) {
            Next::Wait(pause) => assert!(pause >= Duration::from_secs(60), "{pause:?}"),
            Next::Stop(_) => panic!("stopped although told to keep trying"),
        }
    }

    #[test]
    fn the_frames_sent_have_the_first_clients_fields_and_parse_at_the_edge() {
        let keys = |text: &str, at: &[&str]| {
            let mut value: Value = serde_json::from_str(text).unwrap();
            for key in at {
                value = value[*key].take();
            }
            let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let agent = orchestrator(&[]);
        let handshake = agent.handshake_frame();
        assert_eq!(
            keys(&handshake, &[]),
            ["data", "service", "timestamp", "type"]
        );
        assert_eq!(keys(&handshake, &["data"]), ["metadata", "orchestrator_id"]);
        assert_eq!(
            keys(&handshake, &["data", "metadata"]),
            [
                "agent",
                "capabilities",
                "features",
                "heartbeat_interval_sec",
                "hostname",
                "ip",
                "location",
                "name",
                "ssl_enabled",
                "version"
            ]
        );
        let heartbeat = enveloped(&ClientFrame::IAmAlive {}, None);
        assert_eq!(keys(&heartbeat, &[]), ["timestamp", "type"]);
        let content = ConfigContent {
            features: json!({}),
            settings: json!({}),
            policies: json!({}),
        };
        let failed = config_status(
            &"a".repeat(64),
            ApplyStatus::Failed,
            Some("no".into()),
            Some(content),
        );
        assert_eq!(
            keys(&failed, &["data"]),
            ["effective", "error", "hash", "status"]
        );
        for frame in [handshake, heartbeat, failed] {
            moolai_proto::frames::parse_client_frame(&frame).unwrap();
        }
    }
}
