//! What the edge puts on the bus, and how durably.
//!
//! Handshakes, disconnects, snapshots and messages go to JetStream with a
//! `Nats-Msg-Id` (retries are deduplicated) and are confirmed before the edge acts
//! on them. Heartbeats go to core NATS: the next one replaces a lost one, and a
//! socket loop must never wait on the bus for them.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use moolai_proto::events::Event;
use moolai_proto::{EventKind, Subjects};

/// How long a durable publish may take before it counts as failed.
pub const DURABLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a core NATS publish (heartbeat batch, provisioning request) may wait
/// for room in the client's outbound queue (it only waits while NATS is
/// reconnecting) before it is dropped.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(250);

/// Why a publish did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("bus did not confirm within {0:?}")]
    Timeout(Duration),
    #[error("bus refused: not connected to NATS")]
    NotConnected,
    #[error("bus refused: {0}")]
    Bus(#[source] async_nats::Error),
}

/// The edge's side of the bus.
#[derive(Clone)]
pub struct Bus {
    /// Heartbeats, deliveries to this edge and the bus probe.
    pub nats: async_nats::Client,
    /// The connection `js` publishes on.
    pub durable: async_nats::Client,
    pub js: jetstream::Context,
    pub subjects: Subjects,
}

impl Bus {
    /// Publishes `event` to the events stream and waits for JetStream to store it.
    /// `dedup_id` makes a retry of the same event harmless.
    pub async fn durable(&self, event: &Event, dedup_id: &str) -> Result<(), PublishError> {
        // Fail at once rather than after the timeout when the broker is known to be
        // away: an orchestrator is better told to come back than left waiting.
        if let async_nats::connection::State::Disconnected = self.durable.connection_state() {
            return Err(PublishError::NotConnected);
        }
        let (kind, id) = match event {
            Event::Handshake(e) => (EventKind::Handshake, &e.orchestrator_id),
            Event::Disconnect(e) => (EventKind::Disconnect, &e.orchestrator_id),
            Event::Snapshot(e) => (EventKind::Snapshot, &e.orchestrator_id),
            Event::Message(e) => (EventKind::Message, &e.orchestrator_id),
            Event::MessageAck(e) => (EventKind::MessageAck, &e.orchestrator_id),
            Event::ConfigStatus(e) => (EventKind::ConfigStatus, &e.orchestrator_id),
        };
        let payload =
            Bytes::from(serde_json::to_vec(event).map_err(|e| PublishError::Bus(e.into()))?);
        let publish = PublishMessage::build()
            .payload(payload)
            .message_id(dedup_id);
        let confirm = async {
            let ack = self
                .js
                .send_publish(self.subjects.event(kind, id), publish)
                .await
                .map_err(|e| PublishError::Bus(e.into()))?;
            ack.await.map_err(|e| PublishError::Bus(e.into()))?;
            Ok(())
        };
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(DURABLE_TIMEOUT, confirm)
            .await
            .map_err(|_| PublishError::Timeout(DURABLE_TIMEOUT))
            .and_then(|r| r);
        // By event: a handshake waits for its write, the others do not.
        metrics::histogram!("moolai_edge_bus_publish_seconds", "kind" => "durable", "event" => kind.token())
            .record(started.elapsed().as_secs_f64());
        if result.is_err() {
            metrics::counter!("moolai_edge_bus_publish_failures_total", "kind" => "durable")
                .increment(1);
        }
        result
    }

    /// Retries [`Bus::durable`] with backoff for up to `budget`; for events that must
    /// not be lost to a short NATS outage (disconnects).
    pub async fn durable_with_retry(
        &self,
        event: &Event,
        dedup_id: &str,
        budget: Duration,
    ) -> Result<(), PublishError> {
        let deadline = tokio::time::Instant::now() + budget;
        let mut pause = Duration::from_millis(200);
        loop {
            match self.durable(event, dedup_id).await {
                Ok(()) => return Ok(()),
                Err(err) if tokio::time::Instant::now() + pause >= deadline => return Err(err),
                Err(_) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Publishes on core NATS (requests to core), waiting at most a moment.
    pub async fn notify(&self, subject: String, payload: Bytes) -> Result<(), PublishError> {
        match tokio::time::timeout(HEARTBEAT_TIMEOUT, self.nats.publish(subject, payload)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(PublishError::Bus(e.into())),
            Err(_) => Err(PublishError::Timeout(HEARTBEAT_TIMEOUT)),
        }
    }
}
