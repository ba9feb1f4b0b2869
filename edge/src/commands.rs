//! Listens on `{p}.edge.{this edge}.commands` and hands each command to the
//! connection task it is for. Only this edge listens there: core routes each
//! orchestrator's frames to the one edge holding its socket.

use futures::StreamExt;
use moolai_proto::events::EdgeCommand;
use tokio_util::sync::CancellationToken;

use crate::registry::{Registry, Sent};

/// Runs until `shutdown`.
pub async fn listen(
    nats: async_nats::Client,
    subject: String,
    registry: Registry,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let mut sub = nats.subscribe(subject).await?;
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { return Ok(()) };
        match serde_json::from_slice::<EdgeCommand>(&msg.payload) {
            Ok(command) => dispatch(&registry, command),
            Err(err) => tracing::warn!(%err, "undecodable edge command"),
        }
    }
}

fn dispatch(registry: &Registry, command: EdgeCommand) {
    let (id, conn_id) = match &command {
        EdgeCommand::Deliver {
            orchestrator_id,
            conn_id,
            ..
        }
        | EdgeCommand::Close {
            orchestrator_id,
            conn_id,
            ..
        } => (orchestrator_id.clone(), *conn_id),
    };
    let Some(handle) = registry.get(&id, conn_id) else {
        tracing::debug!(orchestrator_id = %id, %conn_id, "command for a connection no longer here");
        return;
    };
    let sent = match command {
        EdgeCommand::Deliver { frames, .. } => handle.deliver(frames),
        EdgeCommand::Close { code, reason, .. } => handle.close(code, &reason),
    };
    if sent == Sent::Overflow {
        // Nothing is lost: the socket is closed as a slow reader, and core
        // redelivers unacknowledged messages when it reconnects.
        tracing::warn!(orchestrator_id = %id, "outbox full; closing a slow reader");
    }
}
