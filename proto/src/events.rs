//! Payloads carried on the bus (JSON), between edges, core and the persister.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::config::ConfigStatus;
use crate::frames::MessageType;
use crate::id::{CoreId, EdgeId, OrchestratorId};

/// Identifies one WebSocket connection; a new connection of the same orchestrator
/// gets a new one, which is how late events of an old connection are recognised.
pub type ConnId = Uuid;

/// An orchestrator completed its handshake on an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandshakeEvent {
    pub orchestrator_id: OrchestratorId,
    pub conn_id: ConnId,
    pub edge_id: EdgeId,
    pub at: DateTime<Utc>,
    /// The handshake's `metadata` as sent (name, location, features, version, ...).
    pub metadata: Map<String, Value>,
    /// Whether the client applies `provision_config` (else it gets `provisioning` too).
    pub provision_config_capable: bool,
}

impl HandshakeEvent {
    /// Display name announced by the orchestrator, with the first version's fallback.
    pub fn name(&self) -> String {
        self.metadata
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("Organization {}", self.orchestrator_id))
    }

    /// Location announced by the orchestrator, with the first version's fallback.
    pub fn location(&self) -> String {
        self.metadata
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned()
    }

    /// Features the orchestrator reports running with.
    pub fn features(&self) -> Value {
        self.metadata
            .get("features")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// A connection ended (closed, failed or superseded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisconnectEvent {
    pub orchestrator_id: OrchestratorId,
    pub conn_id: ConnId,
    pub edge_id: EdgeId,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// One `i_am_alive` received by an edge, stamped on receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub orchestrator_id: OrchestratorId,
    pub conn_id: ConnId,
    pub at: DateTime<Utc>,
}

/// The heartbeats one edge received in the last few milliseconds, as one core
/// NATS message: one publish, one delivery and one parse per batch instead of per
/// heartbeat (the bus's and core's cost per heartbeat was most of the total).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeHeartbeats {
    pub edge_id: EdgeId,
    pub beats: Vec<Beat>,
}

/// An `o_config_snapshot`: the configuration the orchestrator reports running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotEvent {
    pub orchestrator_id: OrchestratorId,
    pub conn_id: ConnId,
    pub at: DateTime<Utc>,
    pub data: Value,
}

/// A `config_status`: where the orchestrator is with a configuration it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigStatusEvent {
    pub orchestrator_id: OrchestratorId,
    pub conn_id: ConnId,
    pub at: DateTime<Utc>,
    pub status: ConfigStatus,
}

/// A message sent up by an orchestrator, to be stored in `orchestrator_messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// `msg_{orchestrator}_{unix seconds}_{random}`: the spec's prefix, made unique.
    pub message_id: String,
    pub orchestrator_id: OrchestratorId,
    pub at: DateTime<Utc>,
    pub message_type: MessageType,
    pub content: String,
    pub message_metadata: Value,
}

/// The orchestrator acknowledged a controller-written message (`message_ack`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageAckEvent {
    pub orchestrator_id: OrchestratorId,
    pub message_id: String,
    pub at: DateTime<Utc>,
}

/// Builds a message id with the spec's prefix that two messages in one second
/// cannot share (the first version's ids collided and answered 500).
pub fn new_message_id(id: &OrchestratorId, at: DateTime<Utc>) -> String {
    let random = Uuid::new_v4().simple().to_string();
    format!("msg_{}_{}_{}", id, at.timestamp(), &random[..12])
}

/// Every event an edge publishes durably, as the persister reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Handshake(HandshakeEvent),
    Disconnect(DisconnectEvent),
    Snapshot(SnapshotEvent),
    Message(MessageEvent),
    MessageAck(MessageAckEvent),
    ConfigStatus(ConfigStatusEvent),
}

/// What core tells an edge about one of its sockets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum EdgeCommand {
    /// Send these text frames, in order, if the connection is still the one meant.
    Deliver {
        orchestrator_id: OrchestratorId,
        conn_id: ConnId,
        frames: Vec<String>,
    },
    /// Close the connection with this code (e.g. 4000 `superseded`).
    Close {
        orchestrator_id: OrchestratorId,
        conn_id: ConnId,
        code: u16,
        reason: String,
    },
}

/// A client's `provisioning_request`, forwarded to core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningRequest {
    pub orchestrator_id: OrchestratorId,
    pub conn_id: ConnId,
    pub edge_id: EdgeId,
}

/// How often an edge announces its [`EdgePresence`].
pub const PRESENCE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// An edge silent for longer than this (three announcements) is down for core,
/// which forgets the sockets it held; an edge that could not announce for that
/// long (a stalled process, a paused VM) must assume so (`edge/src/stall.rs`).
pub const PRESENCE_UP_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// An edge's periodic "I am here" (core NATS; a missed one only ages it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EdgePresence {
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub edge_id: EdgeId,
    /// The address orchestrators connect to.
    pub address: String,
    /// Orchestrator sockets held now.
    pub connections: u64,
    /// `i_am_alive` frames received per second since the last announcement.
    pub heartbeats_per_sec: f64,
    /// Bad frames received since the edge started.
    pub bad_frames: u64,
    pub at: DateTime<Utc>,
}

/// A core replica's periodic "I am here" (core NATS, every second).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CorePresence {
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub core_id: CoreId,
    /// The address its HTTP server listens on.
    pub address: String,
    /// The singleton duties it holds now (`singleton`: the liveness sweep,
    /// token generations, the first admin); empty on the others.
    pub duties: Vec<String>,
    /// Whether it can serve (its `/readyz`).
    pub ready: bool,
    /// Orchestrators in its live view: every replica sees the whole fleet, so
    /// replicas that disagree for long are worth a look.
    pub connected: u64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// One accepted heartbeat to persist: `last_seen` of that connection's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatWrite {
    pub orchestrator_id: OrchestratorId,
    pub conn_id: ConnId,
    pub at: DateTime<Utc>,
}

/// Accepted heartbeats coalesced by core (latest per orchestrator), core → persister.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatBatch {
    pub items: Vec<HeartbeatWrite>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_in_one_second_differ() {
        let id = OrchestratorId::parse("org-1").unwrap();
        let at = Utc::now();
        let (a, b) = (new_message_id(&id, at), new_message_id(&id, at));
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("msg_org-1_{}_", at.timestamp())));
    }
}
