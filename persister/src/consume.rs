//! The durable pull-consumer loop: read what is ready, write it in one
//! transaction, acknowledge only after the commit.
//!
//! - Database unavailable: every message of the batch is negatively acknowledged
//!   with a delay and the loop backs off; nothing is lost, JetStream redelivers.
//! - Database refuses a batch: it is retried one message at a time so that one bad
//!   message cannot block the others; a message refused on its own, or one that
//!   cannot be decoded, goes to the dead-letter subject and is terminated.
//! - A crash between commit and ack redelivers the batch; every write is idempotent.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, AckKind, Message};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::error::WriteError;

/// Longest pause between attempts while the database is down.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Where one kind of message is written.
pub trait Sink: Send + Sync + 'static {
    /// Label in metrics.
    const NAME: &'static str;
    /// What each message's payload decodes to.
    type Item: DeserializeOwned + Send + Sync;
    /// Writes `items` in one transaction.
    fn write(&self, items: &[Self::Item]) -> impl Future<Output = Result<(), WriteError>> + Send;
}

/// Dead-letter destination for messages that can never be written.
pub struct DeadLetters {
    pub js: jetstream::Context,
    pub subject: String,
}

/// Consumes until `shutdown`. If the consumer's stream ends or cannot be opened
/// (a NATS failover, a deleted consumer), it is reopened: the persister must never
/// sit alive but idle.
pub async fn run<S: Sink>(
    consumer: PullConsumer,
    sink: S,
    batch: usize,
    dead: DeadLetters,
    shutdown: CancellationToken,
) {
    loop {
        match consume(&consumer, &sink, batch, &dead, &shutdown).await {
            Ok(()) if shutdown.is_cancelled() => return,
            Ok(()) => tracing::error!(sink = S::NAME, "pull consumer stream ended; reopening"),
            Err(err) => tracing::error!(sink = S::NAME, %err, "pull consumer failed; reopening"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn consume<S: Sink>(
    consumer: &PullConsumer,
    sink: &S,
    batch: usize,
    dead: &DeadLetters,
    shutdown: &CancellationToken,
) -> Result<(), async_nats::Error> {
    let messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        // Short pulls with idle heartbeats so a failed-over node is noticed in seconds.
        .expires(Duration::from_secs(5))
        .heartbeat(Duration::from_secs(2))
        .messages()
        .await?;
    let mut chunks = messages.ready_chunks(batch);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let chunk = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            chunk = chunks.next() => chunk,
        };
        let Some(chunk) = chunk else { return Ok(()) };
        let mut msgs = Vec::with_capacity(chunk.len());
        for m in chunk {
            match m {
                Ok(m) => msgs.push(m),
                Err(err) => tracing::warn!(%err, "pull consumer hiccup"),
            }
        }
        if handle_batch(sink, msgs, dead, backoff).await {
            backoff = FIRST_BACKOFF;
        } else {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Returns false when the database was unavailable (the caller backs off).
async fn handle_batch<S: Sink>(
    sink: &S,
    msgs: Vec<Message>,
    dead: &DeadLetters,
    retry_in: Duration,
) -> bool {
    let mut items = Vec::with_capacity(msgs.len());
    let mut decoded = Vec::with_capacity(msgs.len());
    for msg in msgs {
        match serde_json::from_slice::<S::Item>(&msg.payload) {
            Ok(item) => {
                items.push(item);
                decoded.push(msg);
            }
            Err(err) => dead_letter(dead, &msg, &format!("undecodable: {err}")).await,
        }
    }
    if items.is_empty() {
        return true;
    }
    let started = std::time::Instant::now();
    let written = sink.write(&items).await;
    metrics::histogram!("moolai_persister_commit_seconds", "sink" => S::NAME)
        .record(started.elapsed().as_secs_f64());
    match written {
        Ok(()) => {
            metrics::counter!("moolai_persister_messages_written_total", "sink" => S::NAME)
                .increment(decoded.len() as u64);
            metrics::histogram!("moolai_persister_batch_messages", "sink" => S::NAME)
                .record(decoded.len() as f64);
            ack_all(&decoded).await;
            true
        }
        Err(WriteError::Unavailable(err)) => {
            metrics::counter!("moolai_persister_db_errors_total", "kind" => "unavailable")
                .increment(1);
            tracing::warn!(%err, count = decoded.len(), "database unavailable; will redeliver");
            nak_all(&decoded, retry_in).await;
            false
        }
        Err(WriteError::Refused(err)) => {
            tracing::warn!(%err, "batch refused; retrying one message at a time");
            one_by_one(sink, &items, &decoded, dead, retry_in).await
        }
    }
}

async fn one_by_one<S: Sink>(
    sink: &S,
    items: &[S::Item],
    msgs: &[Message],
    dead: &DeadLetters,
    retry_in: Duration,
) -> bool {
    let mut available = true;
    for (item, msg) in items.iter().zip(msgs) {
        match sink.write(std::slice::from_ref(item)).await {
            Ok(()) => ack(msg).await,
            Err(WriteError::Refused(err)) => dead_letter(dead, msg, &err.to_string()).await,
            Err(WriteError::Unavailable(_)) => {
                available = false;
                nak(msg, retry_in).await;
            }
        }
    }
    available
}

async fn ack_all(msgs: &[Message]) {
    for m in msgs {
        ack(m).await;
    }
}

async fn nak_all(msgs: &[Message], delay: Duration) {
    for m in msgs {
        nak(m, delay).await;
    }
}

async fn ack(msg: &Message) {
    // A lost ack only means a redelivery, which the idempotent writes absorb.
    if let Err(err) = msg.ack().await {
        tracing::warn!(%err, "ack failed; the message will be redelivered");
    }
}

async fn nak(msg: &Message, delay: Duration) {
    if let Err(err) = msg.ack_with(AckKind::Nak(Some(delay))).await {
        tracing::warn!(%err, "nak failed; the message will be redelivered after AckWait");
    }
}

/// Keeps the payload on the dead-letter subject (with the reason and the original
/// subject as headers), then terminates the message so it is not redelivered. If
/// the dead letter cannot be stored, the message is left to redelivery instead.
async fn dead_letter(dead: &DeadLetters, msg: &Message, reason: &str) {
    metrics::counter!("moolai_persister_dead_letters_total").increment(1);
    tracing::error!(subject = %msg.subject, reason, "dead-lettering a message");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Moolai-Original-Subject", msg.subject.as_str());
    headers.insert("Moolai-Reason", reason.replace(['\r', '\n'], " ").as_str());
    let stored = match dead
        .js
        .publish_with_headers(dead.subject.clone(), headers, msg.payload.clone())
        .await
    {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    if stored {
        if let Err(err) = msg.ack_with(AckKind::Term).await {
            tracing::warn!(%err, "term failed");
        }
    } else {
        tracing::error!("dead letter not stored; leaving the message for redelivery");
    }
}
