//! Heartbeats leave an edge in batches: socket loops hand each `i_am_alive` to
//! one task (a non-blocking `try_send`), which publishes what arrived within a
//! few milliseconds as one core NATS message on `{p}.heartbeats.<edge>`. A
//! heartbeat that finds the queue full, or a batch NATS does not take in time,
//! is dropped and counted: the next one, a few seconds later, replaces it.

use std::time::Duration;

use bytes::Bytes;
use moolai_proto::events::{Beat, EdgeHeartbeats};
use moolai_proto::EdgeId;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::publish::Bus;

/// How long a batch gathers before it is published: the delay it adds to each
/// heartbeat, against a message per heartbeat without it.
const WINDOW: Duration = Duration::from_millis(5);
/// Most heartbeats in one message (~100 bytes each, far under NATS's 1 MB).
const MAX_BATCH: usize = 2_000;
/// Heartbeats waiting for the batcher; beyond this they are dropped.
const QUEUE: usize = 65_536;

/// The socket loops' side: cheap to clone.
#[derive(Clone)]
pub struct Heartbeats {
    tx: mpsc::Sender<Beat>,
    dropped: metrics::Counter,
}

impl Heartbeats {
    /// Starts the batching task in `tasks`. It runs until every clone is dropped,
    /// so that the heartbeats of sockets still draining at shutdown are relayed too.
    pub fn start(bus: Bus, edge_id: EdgeId, tasks: &TaskTracker) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tasks.spawn(batch(rx, bus, edge_id));
        Self {
            tx,
            dropped: metrics::counter!("moolai_edge_heartbeats_dropped_total"),
        }
    }

    /// Queues one heartbeat; never waits.
    pub fn note(&self, beat: Beat) {
        if self.tx.try_send(beat).is_err() {
            self.dropped.increment(1);
        }
    }
}

async fn batch(mut rx: mpsc::Receiver<Beat>, bus: Bus, edge_id: EdgeId) {
    let subject = bus.subjects.heartbeats(&edge_id);
    let mut batch = EdgeHeartbeats {
        edge_id,
        beats: Vec::with_capacity(MAX_BATCH),
    };
    let dropped = metrics::counter!("moolai_edge_heartbeats_dropped_total");
    let batches = metrics::histogram!("moolai_edge_heartbeat_batch_size");
    loop {
        if rx.recv_many(&mut batch.beats, MAX_BATCH).await == 0 {
            return; // every sender is gone
        }
        tokio::time::sleep(WINDOW).await;
        let room = MAX_BATCH.saturating_sub(batch.beats.len());
        if room > 0 && !rx.is_empty() {
            rx.recv_many(&mut batch.beats, room).await;
        }
        batches.record(batch.beats.len() as f64);
        let payload = match serde_json::to_vec(&batch) {
            Ok(json) => Bytes::from(json),
            Err(err) => {
                tracing::error!(%err, "heartbeat batch not encodable");
                batch.beats.clear();
                continue;
            }
        };
        if let Err(err) = bus.notify(subject.clone(), payload).await {
            dropped.increment(batch.beats.len() as u64);
            tracing::warn!(%err, beats = batch.beats.len(), "heartbeat batch dropped");
        }
        batch.beats.clear();
    }
}
