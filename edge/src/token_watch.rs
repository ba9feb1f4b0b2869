//! The edge's watch of the token generations bucket: the last value of every
//! key, then each change, on one ordered push consumer that the edge names.
//!
//! Not `Store::watch_with_history`: it creates its first consumer unnamed, on
//! `$JS.API.CONSUMER.CREATE.<stream>`, a subject that says nothing of the
//! consumer, so the edge's NATS user had to be allowed every consumer on every
//! stream, delivering anywhere — enough to make JetStream hand a stored message
//! to another edge's commands subject (issue 33, F1). A named consumer is asked
//! for on `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`, and the server
//! refuses a request whose filter differs from the subject's; so nats-auth.conf
//! lets an edge create only consumers filtered on `$KV.*.>`, whose messages are
//! bucket values that only core can write.

use async_nats::jetstream::consumer::push::{self, OrderedConfig};
use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy};
use async_nats::jetstream::kv::{Operation, Store};
use async_nats::jetstream::stream::ConsumerCreateStrictError;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::{Stream, StreamExt};

/// One key's state as the watch delivers it.
#[derive(Debug)]
pub struct Change {
    pub key: String,
    /// `None` when the key was deleted or purged.
    pub value: Option<Bytes>,
    /// How many of the values stored when the watch began are still to come.
    pub delta: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot create the watch consumer: {0}")]
    Create(#[from] ConsumerCreateStrictError),
    #[error("cannot subscribe to the watch: {0}")]
    Subscribe(#[from] async_nats::jetstream::consumer::StreamError),
    #[error("watch delivery failed: {0}")]
    Delivery(#[from] push::OrderedError),
    #[error("a delivered entry has no JetStream metadata: {0}")]
    Metadata(String),
    #[error("a delivered entry is outside the bucket: {0}")]
    Foreign(String),
}

/// An open watch: its changes, and whether it had nothing to replay (an
/// empty bucket replays nothing, so no change would say the replay is over).
pub struct Watch<S> {
    pub changes: S,
    pub nothing_stored: bool,
}

/// Opens the watch on every key of `kv`; `nats` is the connection `kv` uses
/// (the deliveries come to one of its inboxes).
pub async fn open(
    kv: &Store,
    nats: &async_nats::Client,
) -> Result<Watch<impl Stream<Item = Result<Change, WatchError>>>, WatchError> {
    let prefix = kv.prefix.clone();
    let consumer = kv
        .stream
        // Strict: a name already taken is an error, never an update of
        // someone else's consumer.
        .create_consumer_strict(config(kv, nats.new_inbox()))
        .await?;
    // What the server counted at creation, not a stream state cached earlier.
    let nothing_stored = consumer.cached_info().num_pending == 0;
    let messages = consumer.messages().await?;
    Ok(Watch {
        changes: messages.map(move |m| change(&prefix, m?)),
        nothing_stored,
    })
}

fn config(kv: &Store, inbox: String) -> OrderedConfig {
    OrderedConfig {
        // Unguessable, so no other edge can name it in a create request (which
        // would update it) or ask for its info.
        name: Some(format!("edge_tokens_{}", uuid::Uuid::new_v4().simple())),
        deliver_subject: inbox,
        description: Some("edge token generations watch".to_owned()),
        filter_subject: format!("{}>", kv.prefix),
        replay_policy: ReplayPolicy::Instant,
        deliver_policy: DeliverPolicy::LastPerSubject,
        ..Default::default()
    }
}

fn change(prefix: &str, msg: async_nats::jetstream::Message) -> Result<Change, WatchError> {
    let delta = msg
        .info()
        .map_err(|e| WatchError::Metadata(e.to_string()))?
        .pending;
    let key = msg
        .subject
        .strip_prefix(prefix)
        .ok_or_else(|| WatchError::Foreign(msg.subject.to_string()))?
        .to_owned();
    let value = match operation(msg.headers.as_ref()) {
        Operation::Put => Some(msg.payload.clone()),
        Operation::Delete | Operation::Purge => None,
    };
    Ok(Change { key, value, delta })
}

/// What an entry says happened to its key, as the KV client reads it.
fn operation(headers: Option<&HeaderMap>) -> Operation {
    let Some(headers) = headers else {
        return Operation::Put;
    };
    if let Some(op) = headers.get("KV-Operation") {
        return op.as_str().parse().unwrap_or(Operation::Put);
    }
    match headers.get("Nats-Marker-Reason").map(|r| r.as_str()) {
        Some("MaxAge" | "Purge") => Operation::Purge,
        Some("Remove") => Operation::Delete,
        _ => Operation::Put,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_and_purges_read_as_gone_and_anything_else_as_a_value() {
        let with = |name: &str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, value);
            h
        };
        assert_eq!(operation(None), Operation::Put);
        assert_eq!(
            operation(Some(&with("KV-Operation", "DEL"))),
            Operation::Delete
        );
        assert_eq!(
            operation(Some(&with("KV-Operation", "PURGE"))),
            Operation::Purge
        );
        assert_eq!(
            operation(Some(&with("Nats-Marker-Reason", "MaxAge"))),
            Operation::Purge
        );
        assert_eq!(
            operation(Some(&with("Nats-Marker-Reason", "Remove"))),
            Operation::Delete
        );
        assert_eq!(operation(Some(&with("Other", "x"))), Operation::Put);
    }
}
