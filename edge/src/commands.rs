//! Listens on `{p}.edge.{this edge}.commands` and hands each command to the
//! connection task it is for. Only this edge listens there: core routes each
//! orchestrator's frames to the one edge holding its socket.

use futures::StreamExt;
use moolai_proto::events::EdgeCommand;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

use crate::registry::{Outbound, Registry};

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
    let (id, conn_id, outbound) = match command {
        EdgeCommand::Deliver {
            orchestrator_id,
            conn_id,
            frames,
        } => (orchestrator_id, conn_id, Outbound::Frames(frames)),
        EdgeCommand::Close {
            orchestrator_id,
            conn_id,
            code,
            reason,
        } => (orchestrator_id, conn_id, Outbound::Close { code, reason }),
    };
    let Some(tx) = registry.get(&id, conn_id) else {
        tracing::debug!(orchestrator_id = %id, %conn_id, "command for a connection no longer here");
        return;
    };
    match tx.try_send(outbound) {
        Ok(()) => {}
        // A socket this far behind is not reading; it will be closed as idle or broken.
        Err(TrySendError::Full(_)) => {
            tracing::warn!(orchestrator_id = %id, "outbound queue full; frame dropped")
        }
        Err(TrySendError::Closed(_)) => {}
    }
}
