//! Listens on `{p}.edge.{this edge}.commands` and hands each command to the
//! connection task it is for. Only this edge listens there: core routes each
//! orchestrator's frames to the one edge holding its socket.
//!
//! Only core may publish there (nats-auth.conf), but a NATS user that may
//! create consumers can make JetStream deliver a stored message to any subject,
//! and the server answers API requests to whatever reply subject they name. So
//! a message JetStream handed over is not obeyed, whatever it says (issue 33, F1).

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
        if let Err(foreign) = sent_by_core(&msg) {
            tracing::warn!(%foreign, "message on the commands subject not sent by core; ignored");
            metrics::counter!("moolai_edge_commands_ignored_total").increment(1);
            continue;
        }
        match serde_json::from_slice::<EdgeCommand>(&msg.payload) {
            Ok(command) => dispatch(&registry, command),
            Err(err) => tracing::warn!(%err, "undecodable edge command"),
        }
    }
}

/// Why a message on the commands subject is not one of core's commands.
#[derive(Debug, thiserror::Error)]
pub enum Foreign {
    /// Core publishes its commands and asks nothing back; a JetStream delivery
    /// carries `$JS.ACK.…`, a request an inbox.
    #[error("it has a reply subject ({0})")]
    Reply(String),
    /// A message the server read out of a stream (republished, a direct get).
    #[error("it carries the stream header {0}")]
    Stored(&'static str),
}

/// Whether `msg` came as core sends commands: published, not read from a stream.
pub fn sent_by_core(msg: &async_nats::Message) -> Result<(), Foreign> {
    if let Some(reply) = &msg.reply {
        return Err(Foreign::Reply(reply.to_string()));
    }
    let stored = ["Nats-Stream", "Nats-Sequence"]
        .into_iter()
        .find(|h| msg.headers.as_ref().is_some_and(|m| m.get(*h).is_some()));
    match stored {
        Some(header) => Err(Foreign::Stored(header)),
        None => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(reply: Option<&str>, header: Option<&str>) -> async_nats::Message {
        let headers = header.map(|name| {
            let mut h = async_nats::HeaderMap::new();
            h.insert(name, "1");
            h
        });
        async_nats::Message {
            subject: "p.edge.e.commands".into(),
            reply: reply.map(Into::into),
            payload: "{}".into(),
            headers,
            status: None,
            description: None,
            length: 0,
        }
    }

    #[test]
    fn only_a_plain_publish_is_a_command() {
        assert!(sent_by_core(&message(None, None)).is_ok());
        assert!(sent_by_core(&message(None, Some("Traceparent"))).is_ok());
        let delivered = message(Some("$JS.ACK.p_events.evil.1.1.1.1.0"), None);
        assert!(matches!(sent_by_core(&delivered), Err(Foreign::Reply(_))));
        let asked = message(Some("_INBOX.edge.x"), None);
        assert!(matches!(sent_by_core(&asked), Err(Foreign::Reply(_))));
        for header in ["Nats-Stream", "Nats-Sequence"] {
            let stored = message(None, Some(header));
            assert!(matches!(sent_by_core(&stored), Err(Foreign::Stored(h)) if h == header));
        }
    }
}
