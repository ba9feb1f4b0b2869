//! `provisioning_request` frames forwarded by edges: answer with a fresh config.
//! The core replicas answer in queue group `core`, so a request is answered once.

use futures::StreamExt;
use moolai_proto::events::ProvisioningRequest;
use moolai_proto::Subjects;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::fleet::sessions::Sessions;

/// Serves requests until `shutdown`; each is answered in its own task so one slow
/// database read does not hold up the others.
pub async fn serve(
    nats: async_nats::Client,
    subjects: Subjects,
    sessions: Sessions,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let mut sub = nats
        .queue_subscribe(subjects.all_provisioning_requests(), "core".to_owned())
        .await?;
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { return Ok(()) };
        let request = match serde_json::from_slice::<ProvisioningRequest>(&msg.payload) {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(%err, "undecodable provisioning request");
                continue;
            }
        };
        let sessions = sessions.clone();
        tasks.spawn(async move {
            if let Err(err) = answer(&sessions, request).await {
                tracing::warn!(%err, "provisioning request not answered");
            }
        });
    }
}

async fn answer(sessions: &Sessions, req: ProvisioningRequest) -> Result<(), async_nats::Error> {
    let id = &req.orchestrator_id;
    let Some(conn) = sessions
        .live
        .connection(id)
        .filter(|c| c.conn_id == req.conn_id)
    else {
        tracing::debug!(orchestrator_id = %id, "provisioning request from an unknown connection");
        return Ok(());
    };
    sessions.pushes.config(id, &conn, true).await?;
    tracing::info!(orchestrator_id = %id, "[C-OCS] Provisioning sent to {id} on request");
    Ok(())
}
