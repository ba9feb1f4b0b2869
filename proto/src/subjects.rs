//! Every name on the bus: subjects, streams and consumers.
//!
//! The subject tree is an API: monitoring tools subscribe to it. All names start
//! with `MOOLAI_SUBJECT_PREFIX` (but the edges' bus probe, which has it second)
//! so several stacks (parallel tests, staging beside production) can share one
//! NATS deployment. Tokens that come from ids are
//! validated types, so no id can add or widen a token. The tree is documented in
//! `docs/architecture.md`.

use crate::id::{validate_id, CoreId, EdgeId, IdError, OrchestratorId};

/// The event kinds an edge publishes durably; each is one subject token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Handshake,
    Disconnect,
    Snapshot,
    Message,
    MessageAck,
    ConfigStatus,
}

impl EventKind {
    /// The subject token of this kind.
    pub fn token(self) -> &'static str {
        match self {
            Self::Handshake => "handshake",
            Self::Disconnect => "disconnect",
            Self::Snapshot => "snapshot",
            Self::Message => "message",
            Self::MessageAck => "message_ack",
            Self::ConfigStatus => "config_status",
        }
    }
}

/// Builds every subject, stream and consumer name for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// `prefix` follows the id rule, so it is exactly one subject token.
    pub fn new(prefix: impl Into<String>) -> Result<Self, IdError> {
        let prefix = prefix.into();
        validate_id(&prefix)?;
        Ok(Self { prefix })
    }

    /// The prefix these names start with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{p}.events.{kind}.{orchestrator}`: durable orchestrator events (stream `events`).
    pub fn event(&self, kind: EventKind, id: &OrchestratorId) -> String {
        format!("{}.events.{}.{}", self.prefix, kind.token(), id)
    }

    /// `{p}.events.{kind}.*`: every event of one kind, for filtered consumers.
    pub fn events_of(&self, kind: EventKind) -> String {
        format!("{}.events.{}.*", self.prefix, kind.token())
    }

    /// `{p}.events.>`: what the events stream captures.
    pub fn all_events(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// `{p}.heartbeats.{edge}`: batches of the `i_am_alive` frames an edge
    /// received (core NATS), a message every few milliseconds.
    pub fn heartbeats(&self, edge: &EdgeId) -> String {
        format!("{}.heartbeats.{}", self.prefix, edge)
    }

    /// `{p}.heartbeats.*`: every edge's heartbeat batches, as core subscribes.
    pub fn all_heartbeats(&self) -> String {
        format!("{}.heartbeats.*", self.prefix)
    }

    /// `{p}.request.provisioning.{orchestrator}`: a client asked for its config again.
    pub fn provisioning_request(&self, id: &OrchestratorId) -> String {
        format!("{}.request.provisioning.{}", self.prefix, id)
    }

    /// `{p}.request.provisioning.*`: what core listens on for those.
    pub fn all_provisioning_requests(&self) -> String {
        format!("{}.request.provisioning.*", self.prefix)
    }

    /// `{p}.edge.{edge}.commands`: frames and closes for sockets held by one edge.
    pub fn edge_commands(&self, edge: &EdgeId) -> String {
        format!("{}.edge.{}.commands", self.prefix, edge)
    }

    /// `_PROBE.{p}.{edge}`: where an edge sends its bus round-trip probe every
    /// second. Nobody serves it: the server's "no responders" answer is the
    /// round trip. Outside the `{p}.` tree on purpose, so that a monitoring
    /// subscriber on `{p}.>` cannot silence that answer (which would make every
    /// edge think it had lost the bus).
    pub fn edge_probe(&self, edge: &EdgeId) -> String {
        format!("_PROBE.{}.{edge}", self.prefix)
    }

    /// `{p}.edges.presence.{edge}`: each edge says it is alive every few seconds.
    pub fn edge_presence(&self, edge: &EdgeId) -> String {
        format!("{}.edges.presence.{}", self.prefix, edge)
    }

    /// `{p}.edges.presence.*`: what core listens on.
    pub fn all_edge_presence(&self) -> String {
        format!("{}.edges.presence.*", self.prefix)
    }

    /// `{p}.cores.presence.{core}`: each core replica says it is alive, and
    /// which duties it holds, every second.
    pub fn core_presence(&self, core: &CoreId) -> String {
        format!("{}.cores.presence.{core}", self.prefix)
    }

    /// `{p}.cores.presence.*`: what every core replica listens on.
    pub fn all_core_presence(&self) -> String {
        format!("{}.cores.presence.*", self.prefix)
    }

    /// `{p}.cores.state`: a rule or registration a core replica changed, for
    /// the others' views.
    pub fn core_state(&self) -> String {
        format!("{}.cores.state", self.prefix)
    }

    /// `{p}.cores.activity`: activity entries, recorded by the replica that
    /// saw them happen and kept by every replica's feed.
    pub fn core_activity(&self) -> String {
        format!("{}.cores.activity", self.prefix)
    }

    /// `{p}.cores.logins`: login attempts counted (and pardoned, unlocked)
    /// by one core replica, so every replica throttles the same.
    pub fn core_logins(&self) -> String {
        format!("{}.cores.logins", self.prefix)
    }

    /// `{p}.logs.{service}`: log records (info and above) of each process.
    pub fn logs(&self, service: &str) -> String {
        format!("{}.logs.{}", self.prefix, service)
    }

    /// `{p}.logs.*`: what core collects into the cluster-wide log.
    pub fn all_logs(&self) -> String {
        format!("{}.logs.*", self.prefix)
    }

    /// `{p}.writes.heartbeats`: batches of accepted heartbeats, core → persister.
    pub fn heartbeat_writes(&self) -> String {
        format!("{}.writes.heartbeats", self.prefix)
    }

    /// `{p}.writes.>`: what the writes stream captures.
    pub fn all_writes(&self) -> String {
        format!("{}.writes.>", self.prefix)
    }

    /// `{p}.persist.commands`: writes requested by core, answered after commit
    /// (request/reply, queue group [`PERSISTER_QUEUE`]).
    pub fn persist_commands(&self) -> String {
        format!("{}.persist.commands", self.prefix)
    }

    /// `{p}.deadletter.{stream}`: messages the persister gave up on, kept for a human.
    pub fn dead_letter(&self, stream: &str) -> String {
        format!("{}.deadletter.{}", self.prefix, stream)
    }

    /// Stream of orchestrator events published by edges.
    pub fn events_stream(&self) -> String {
        format!("{}_events", self.prefix)
    }

    /// Stream of write batches published by core.
    pub fn writes_stream(&self) -> String {
        format!("{}_writes", self.prefix)
    }

    /// KV bucket of each orchestrator's current token generation (edges watch it).
    pub fn token_bucket(&self) -> String {
        format!("{}_orchestrator_tokens", self.prefix)
    }

    /// KV bucket holding the core replicas' duty lease.
    pub fn duty_bucket(&self) -> String {
        format!("{}_core_duties", self.prefix)
    }

    /// Stream holding dead letters.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}_deadletter", self.prefix)
    }

    /// `{p}.deadletter.>`.
    pub fn all_dead_letters(&self) -> String {
        format!("{}.deadletter.>", self.prefix)
    }
}

/// Queue group of persisters answering write commands.
pub const PERSISTER_QUEUE: &str = "persister";
/// Queue group of core replicas sharing heartbeats and provisioning requests.
pub const CORE_QUEUE: &str = "core";
/// Durable consumer through which core follows handshakes and disconnects.
pub const CORE_CONSUMER: &str = "core";
/// Durable consumer through which the persister writes orchestrator events.
pub const PERSISTER_EVENTS_CONSUMER: &str = "persister-events";
/// Durable consumer through which the persister writes heartbeat batches.
pub const PERSISTER_WRITES_CONSUMER: &str = "persister-writes";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let s = Subjects::new("t1").unwrap();
        let id = OrchestratorId::parse("org-1").unwrap();
        assert_eq!(
            s.event(EventKind::Handshake, &id),
            "t1.events.handshake.org-1"
        );
        let edge = EdgeId::parse("e-1").unwrap();
        assert_eq!(s.heartbeats(&edge), "t1.heartbeats.e-1");
        assert_eq!(s.events_stream(), "t1_events");
    }

    #[test]
    fn a_prefix_with_a_dot_is_refused() {
        assert!(Subjects::new("a.b").is_err());
    }
}
