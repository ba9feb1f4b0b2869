//! Sending frames and closes to the one edge holding an orchestrator's socket.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use moolai_proto::events::EdgeCommand;
use moolai_proto::frames::{timestamp, LegacyProvisioning, ServerFrame};
use moolai_proto::{EdgeId, OrchestratorId, Subjects};
use serde_json::Value;

use crate::fleet::live::Connection;
use crate::persister_client::Persister;
use crate::push::desired::Desired;
use crate::store::fleet::Provision;

/// Publishes routing commands on `{p}.edge.{edge}.commands` (core NATS: a command
/// for a socket that is gone is worthless, and the edge is the only listener).
#[derive(Clone)]
pub struct Routes {
    link: Link,
}

/// Where commands go: the edges over NATS, or in-memory [`RecordedEdges`] (tests of the
/// rules, without NATS).
#[derive(Clone)]
enum Link {
    Nats {
        nats: async_nats::Client,
        subjects: Subjects,
    },
    Memory {
        edges: RecordedEdges,
        persister: Persister,
    },
}

impl Routes {
    pub fn new(nats: async_nats::Client, subjects: Subjects) -> Self {
        Self {
            link: Link::Nats { nats, subjects },
        }
    }

    /// Routes whose commands `edges` keeps, and whose welcome writes go to
    /// `persister`.
    pub fn memory(edges: RecordedEdges, persister: Persister) -> Self {
        Self {
            link: Link::Memory { edges, persister },
        }
    }

    /// A client of the persisters on the same connection, for what a handshake's
    /// welcome must write (claiming queued sends: [`crate::push::queued`]).
    pub fn persister(&self) -> Persister {
        match &self.link {
            Link::Nats { nats, subjects } => {
                Persister::new(nats.clone(), subjects.persist_commands())
            }
            Link::Memory { persister, .. } => persister.clone(),
        }
    }

    /// Sends a command to `edge`.
    pub async fn send(
        &self,
        edge: &EdgeId,
        command: &EdgeCommand,
    ) -> Result<(), async_nats::Error> {
        match &self.link {
            Link::Nats { nats, subjects } => {
                let payload = Bytes::from(serde_json::to_vec(command)?);
                nats.publish(subjects.edge_commands(edge), payload).await?;
            }
            Link::Memory { edges, .. } => edges.keep(edge, command),
        }
        Ok(())
    }

    /// Sends text frames to the connection `conn` of `id`.
    pub async fn deliver(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
        frames: Vec<String>,
    ) -> Result<(), async_nats::Error> {
        let command = EdgeCommand::Deliver {
            orchestrator_id: id.clone(),
            conn_id: conn.conn_id,
            frames,
        };
        self.send(&conn.edge_id, &command).await
    }

    /// Asks the edge holding `conn` to close it with `code`.
    pub async fn close(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
        code: u16,
        reason: &str,
    ) -> Result<(), async_nats::Error> {
        let command = EdgeCommand::Close {
            orchestrator_id: id.clone(),
            conn_id: conn.conn_id,
            code,
            reason: reason.to_owned(),
        };
        self.send(&conn.edge_id, &command).await
    }

    /// Pushes `provision_config`, plus the first version's `provisioning` frame to a
    /// client that did not announce it understands `provision_config`.
    pub async fn provision(
        &self,
        id: &OrchestratorId,
        conn: &Connection,
        desired: &Desired,
    ) -> Result<(), async_nats::Error> {
        let provision = &desired.provision;
        let mut frames = Vec::with_capacity(2);
        frames.push(
            ServerFrame::ProvisionConfig {
                data: provision.data.clone(),
                revision: provision.data.revision,
                hash: Some(desired.hash.clone()),
                timestamp: timestamp(chrono::Utc::now()),
            }
            .to_json(),
        );
        if !conn.provision_config_capable {
            frames.push(legacy_frame(id, conn, provision).to_json());
        }
        self.deliver(id, conn, frames).await
    }
}

/// The first version's `provisioning`: its client stores the name and location and
/// announces them at its next handshake, so they are the organization's own (an
/// administrator's, if one set them), falling back to what it announced.
fn legacy_frame(id: &OrchestratorId, conn: &Connection, provision: &Provision) -> ServerFrame {
    let announced = |key: &str| {
        conn.metadata
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    ServerFrame::Provisioning {
        data: LegacyProvisioning {
            orchestrator_id: id.to_string(),
            features: provision.data.features.clone(),
            metadata: Value::Object(conn.metadata.clone()),
            name: (provision.name.clone())
                .or_else(|| announced("name"))
                .unwrap_or_else(|| format!("Organization {id}")),
            location: (provision.location.clone())
                .or_else(|| announced("location"))
                .unwrap_or_else(|| "unknown".to_owned()),
        },
    }
}

/// In-memory edges: every command sent, in order, for a test to read.
#[derive(Clone, Default)]
pub struct RecordedEdges {
    sent: Arc<Mutex<Vec<(EdgeId, EdgeCommand)>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl RecordedEdges {
    fn keep(&self, edge: &EdgeId, command: &EdgeCommand) {
        let mut sent = self.sent.lock().expect("sent lock");
        sent.push((edge.clone(), command.clone()));
        self.changed.notify_waiters();
    }

    /// Every command sent so far, oldest first, with the edge it went to.
    pub fn sent(&self) -> Vec<(EdgeId, EdgeCommand)> {
        self.sent.lock().expect("sent lock").clone()
    }

    /// Waits until at least `n` commands were sent; all of them then.
    pub async fn wait_for(&self, n: usize) -> Vec<(EdgeId, EdgeCommand)> {
        loop {
            let changed = self.changed.notified();
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            changed.await;
        }
    }
}
