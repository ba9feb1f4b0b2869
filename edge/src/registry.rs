//! The sockets this edge holds, by orchestrator id, so that frames routed here by
//! core reach the right one. A `DashMap`: connection tasks insert and remove
//! concurrently, and no guard is held across an `.await`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use moolai_proto::events::ConnId;
use moolai_proto::OrchestratorId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bytes of frames that may wait for one socket. A peer that reads slower than
/// core sends is closed (1008 `slow_reader`) at this point, so its backlog cannot
/// grow the edge's memory; it reconnects and gets every unacknowledged message
/// again (messages are redelivered until `message_ack`).
pub const OUTBOX_LIMIT: usize = 1024 * 1024;
/// Batches that may wait for one socket; the byte limit usually comes first.
pub const OUTBOX_BATCHES: usize = 64;

/// What a connection task is asked to do by someone else.
#[derive(Debug)]
pub enum Outbound {
    /// Send these text frames, in order.
    Frames(Vec<String>),
    /// Close the socket with this code and reason.
    Close { code: u16, reason: String },
    /// The edge is stopping: close at this connection's moment of the drain.
    Drain,
}

/// How to reach one connection task.
#[derive(Debug, Clone)]
pub struct Handle {
    pub conn_id: ConnId,
    tx: mpsc::Sender<Outbound>,
    outbox: Arc<Outbox>,
}

/// Bytes waiting for one socket, and the signal that there were too many.
#[derive(Debug, Default)]
pub struct Outbox {
    bytes: AtomicUsize,
    overflow: CancellationToken,
}

impl Outbox {
    /// Takes `n` bytes of room; false (and the overflow signal raised) if the
    /// backlog would pass [`OUTBOX_LIMIT`]. A batch is always taken when nothing
    /// waits: one larger than the limit (many redelivered messages at once) is
    /// not a slow reader, and refusing it would refuse it again at every
    /// reconnect.
    fn reserve(&self, n: usize) -> bool {
        let before = self.bytes.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > OUTBOX_LIMIT {
            self.release(n);
            self.overflow.cancel();
            return false;
        }
        true
    }

    /// Gives back the room of frames that were written (or dropped).
    pub fn release(&self, n: usize) {
        self.bytes.fetch_sub(n, Ordering::AcqRel);
    }

    /// Resolves once the backlog overflowed: the socket must be closed.
    pub async fn overflowed(&self) {
        self.overflow.cancelled().await
    }
}

/// What became of a request to a connection task.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Queued,
    /// The socket is too far behind; it is being closed as a slow reader.
    Overflow,
    /// The connection ended meanwhile, or is already closing as a slow reader.
    Gone,
}

impl Handle {
    /// A handle for connection `conn_id`, whose task reads the receiver and
    /// releases what it writes from `outbox`.
    pub fn new(conn_id: ConnId, outbox: Arc<Outbox>) -> (Self, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(OUTBOX_BATCHES);
        (
            Self {
                conn_id,
                tx,
                outbox,
            },
            rx,
        )
    }

    /// Queues text frames, within the outbox limits.
    pub fn deliver(&self, frames: Vec<String>) -> Sent {
        if self.outbox.overflow.is_cancelled() {
            return Sent::Gone;
        }
        let bytes = frames_len(&frames);
        if !self.outbox.reserve(bytes) {
            return Sent::Overflow;
        }
        self.send(Outbound::Frames(frames), bytes)
    }

    /// Asks the connection to close with `code`.
    pub fn close(&self, code: u16, reason: &str) -> Sent {
        let reason = reason.to_owned();
        self.send(Outbound::Close { code, reason }, 0)
    }

    fn send(&self, outbound: Outbound, bytes: usize) -> Sent {
        match self.tx.try_send(outbound) {
            Ok(()) => Sent::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.outbox.release(bytes);
                self.outbox.overflow.cancel();
                Sent::Overflow
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Sent::Gone,
        }
    }
}

/// Bytes a batch of frames occupies in the outbox.
pub fn frames_len(frames: &[String]) -> usize {
    frames.iter().map(String::len).sum()
}

/// Cheap to clone; shared by the HTTP handler and the command listener.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<DashMap<OrchestratorId, Handle>>,
}

impl Registry {
    /// Makes `handle` the connection of `id`, returning the one it replaces.
    pub fn insert(&self, id: OrchestratorId, handle: Handle) -> Option<Handle> {
        self.inner.insert(id, handle)
    }

    /// Removes `id` only if `conn_id` is still its connection.
    pub fn remove(&self, id: &OrchestratorId, conn_id: ConnId) {
        self.inner.remove_if(id, |_, h| h.conn_id == conn_id);
    }

    /// `id`'s connection `conn_id`, if this edge still holds it.
    pub fn get(&self, id: &OrchestratorId, conn_id: ConnId) -> Option<Handle> {
        self.inner
            .get(id)
            .filter(|h| h.conn_id == conn_id)
            .map(|h| h.clone())
    }

    /// Tells every connection the edge is draining.
    pub fn drain_all(&self) {
        for entry in self.inner.iter() {
            entry.value().send(Outbound::Drain, 0);
        }
    }

    /// Asks every connection to close with `code`.
    pub fn close_all(&self, code: u16, reason: &str) {
        for entry in self.inner.iter() {
            entry.value().close(code, reason);
        }
    }

    /// Number of orchestrators connected here.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no orchestrator is connected here.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_refuses_past_its_byte_limit_and_raises_the_overflow() {
        let outbox = Arc::new(Outbox::default());
        let (handle, mut rx) = Handle::new(ConnId::new_v4(), outbox.clone());
        // One batch over the limit is taken when nothing waits.
        let (big, _big_rx) = Handle::new(ConnId::new_v4(), Arc::default());
        assert_eq!(
            big.deliver(vec!["x".repeat(2 * OUTBOX_LIMIT)]),
            Sent::Queued
        );
        let half = "x".repeat(OUTBOX_LIMIT / 2);
        assert_eq!(handle.deliver(vec![half.clone()]), Sent::Queued);
        assert_eq!(handle.deliver(vec![half.clone()]), Sent::Queued);
        assert!(!outbox.overflow.is_cancelled());
        assert_eq!(handle.deliver(vec!["y".into()]), Sent::Overflow);
        assert!(outbox.overflow.is_cancelled());
        // Said once: later frames are dropped quietly while it closes.
        assert_eq!(handle.deliver(vec!["z".into()]), Sent::Gone);
        // Writing frames gives their room back.
        assert!(rx.try_recv().is_ok());
        outbox.release(half.len());
        assert_eq!(outbox.bytes.load(Ordering::Acquire), half.len());
    }

    #[test]
    fn a_full_queue_of_batches_is_an_overflow_too() {
        let outbox = Arc::new(Outbox::default());
        let (handle, _rx) = Handle::new(ConnId::new_v4(), outbox.clone());
        for _ in 0..OUTBOX_BATCHES {
            assert_eq!(handle.deliver(vec!["{}".into()]), Sent::Queued);
        }
        assert_eq!(handle.deliver(vec!["{}".into()]), Sent::Overflow);
        assert!(outbox.overflow.is_cancelled());
        assert_eq!(outbox.bytes.load(Ordering::Acquire), 2 * OUTBOX_BATCHES);
    }
}
