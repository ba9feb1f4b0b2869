//! Queued sends: frames an administrator sent with an expiry
//! (`POST …/send?expires_in_sec=N`) to an orchestrator that was not connected,
//! kept by the persister (`queued_sends`) and delivered by the orchestrator's
//! next handshake, right after its welcome, oldest first (or by the request
//! that queued it, when the orchestrator connected meanwhile).
//!
//! Delivered once: the sends are first claimed through the persister (one
//! `UPDATE … RETURNING` marks them delivered), and only what was claimed is
//! sent, so neither another core replica nor a redelivered handshake event
//! sends them again. If publishing them fails, the claim is released and the
//! handshake event is retried. Sends that expired are never claimed.

use chrono::Utc;
use moolai_proto::commands::Command;
use moolai_proto::OrchestratorId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::fleet::activity::{Feed, Kind};
use crate::fleet::live::Connection;
use crate::fleet::waiting::{Waiting, What};
use crate::persister_client::Persister;
use crate::push::route::Routes;

/// One send claimed for delivery, as the persister answers it.
#[derive(Debug, Deserialize)]
struct Claimed {
    id: String,
    frame: Value,
    frame_type: String,
}

/// Delivers `id`'s queued sends to `conn`, after a handshake's welcome. A
/// claim the persister cannot make now is logged and left for the next
/// handshake (failing the handshake would repeat its whole welcome while the
/// persister is away); a publish that fails releases the claim and is an
/// error, so the handshake is retried.
/// Only orchestrators marked as having sends waiting are claimed for
/// (`waiting`): a fleet reconnecting costs the persister nothing here.
pub async fn deliver(
    waiting: &Waiting,
    routes: &Routes,
    feed: &Feed,
    id: &OrchestratorId,
    conn: &Connection,
) -> Result<(), async_nats::Error> {
    if !waiting.may_have(What::Sends, id) {
        return Ok(());
    }
    let sent = deliver_with(&routes.persister(), routes, feed, id, conn).await?;
    if sent == Some(0) {
        waiting.clear(What::Sends, id);
    }
    Ok(())
}

/// [`deliver`] without the `waiting` check: also used by `POST …/send` when the
/// orchestrator connected while its send was being queued (its welcome may
/// have claimed before the send was stored). How many were delivered (`None`:
/// the claim could not be made now).
pub async fn deliver_with(
    persister: &Persister,
    routes: &Routes,
    feed: &Feed,
    id: &OrchestratorId,
    conn: &Connection,
) -> Result<Option<usize>, async_nats::Error> {
    let claim = Command::ClaimQueuedSends {
        orchestrator_id: id.clone(),
        now: Utc::now(),
    };
    let sends = match persister.run(&claim).await.map(claimed) {
        Ok(Ok(sends)) => sends,
        Ok(Err(err)) => {
            tracing::error!(%err, "undecodable claim of queued sends");
            return Ok(None);
        }
        Err(err) => {
            tracing::warn!(%err, "queued sends not claimed; they wait for the next handshake");
            return Ok(None);
        }
    };
    if sends.is_empty() {
        return Ok(Some(0));
    }
    let frames = sends.iter().map(|c| c.frame.to_string()).collect();
    if let Err(err) = routes.deliver(id, conn, frames).await {
        let ids = sends.into_iter().map(|c| c.id).collect();
        if let Err(release) = persister.run(&Command::ReleaseQueuedSends { ids }).await {
            tracing::error!(%release, "claimed queued sends neither sent nor released");
        }
        return Err(err);
    }
    let count = sends.len();
    for send in sends {
        let kind = send.frame_type;
        tracing::info!(orchestrator_id = %id, send_id = %send.id,
            "Sent message to orchestrator {id} (type: {kind})");
        feed.record(
            Kind::MessageSent,
            json!({"orchestrator_id": id, "type": kind, "queued": true}),
        );
    }
    Ok(Some(count))
}

fn claimed(mut answer: Value) -> Result<Vec<Claimed>, serde_json::Error> {
    serde_json::from_value(answer["sends"].take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_answer_reads_as_its_sends_in_order() {
        let answer = json!({"sends": [
            {"id": "send_a", "frame": {"type": "restart"}, "frame_type": "restart"},
            {"id": "send_b", "frame": {"type": "drain", "x": 1}, "frame_type": "drain"},
        ]});
        let sends = claimed(answer).unwrap();
        let ids: Vec<_> = sends.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["send_a", "send_b"]);
        assert_eq!(sends[1].frame, json!({"type": "drain", "x": 1}));
    }
}
