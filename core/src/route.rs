//! Sending frames and closes to the one edge holding an orchestrator's socket.

use bytes::Bytes;
use moolai_proto::events::EdgeCommand;
use moolai_proto::frames::{timestamp, LegacyProvisioning, ProvisionData, ServerFrame};
use moolai_proto::{EdgeId, OrchestratorId, Subjects};
use serde_json::Value;

use crate::live::Connection;

/// Publishes routing commands on `{p}.edge.{edge}.commands` (core NATS: a command
/// for a socket that is gone is worthless, and the edge is the only listener).
#[derive(Clone)]
pub struct Routes {
    nats: async_nats::Client,
    subjects: Subjects,
}

impl Routes {
    pub fn new(nats: async_nats::Client, subjects: Subjects) -> Self {
        Self { nats, subjects }
    }

    /// Sends a command to `edge`.
    pub async fn send(
        &self,
        edge: &EdgeId,
        command: &EdgeCommand,
    ) -> Result<(), async_nats::Error> {
        let payload = Bytes::from(serde_json::to_vec(command)?);
        self.nats
            .publish(self.subjects.edge_commands(edge), payload)
            .await?;
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
        data: ProvisionData,
    ) -> Result<(), async_nats::Error> {
        let mut frames = Vec::with_capacity(2);
        if !conn.provision_config_capable {
            frames.push(legacy_frame(id, conn, &data.features).to_json());
        }
        frames.insert(
            0,
            ServerFrame::ProvisionConfig {
                data,
                timestamp: timestamp(chrono::Utc::now()),
            }
            .to_json(),
        );
        self.deliver(id, conn, frames).await
    }
}

fn legacy_frame(id: &OrchestratorId, conn: &Connection, features: &Value) -> ServerFrame {
    let text = |key: &str| {
        conn.metadata
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    ServerFrame::Provisioning {
        data: LegacyProvisioning {
            orchestrator_id: id.to_string(),
            features: features.clone(),
            metadata: Value::Object(conn.metadata.clone()),
            name: text("name").unwrap_or_else(|| format!("Organization {id}")),
            location: text("location").unwrap_or_else(|| "unknown".to_owned()),
        },
    }
}
