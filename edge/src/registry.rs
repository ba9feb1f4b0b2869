//! The sockets this edge holds, by orchestrator id, so that frames routed here by
//! core reach the right one. A `DashMap`: connection tasks insert and remove
//! concurrently, and no guard is held across an `.await`.

use std::sync::Arc;

use dashmap::DashMap;
use moolai_proto::events::ConnId;
use moolai_proto::OrchestratorId;
use tokio::sync::mpsc;

/// What a connection task is asked to do by someone else.
#[derive(Debug)]
pub enum Outbound {
    /// Send these text frames, in order.
    Frames(Vec<String>),
    /// Close the socket with this code and reason.
    Close { code: u16, reason: String },
}

/// How to reach one connection task.
#[derive(Debug, Clone)]
pub struct Handle {
    pub conn_id: ConnId,
    pub tx: mpsc::Sender<Outbound>,
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

    /// The task of `id`'s connection `conn_id`, if this edge still holds it.
    pub fn get(&self, id: &OrchestratorId, conn_id: ConnId) -> Option<mpsc::Sender<Outbound>> {
        self.inner
            .get(id)
            .filter(|h| h.conn_id == conn_id)
            .map(|h| h.tx.clone())
    }

    /// Asks every connection to close with `code`.
    pub fn close_all(&self, code: u16, reason: &str) {
        for entry in self.inner.iter() {
            let _ = entry.value().tx.try_send(Outbound::Close {
                code,
                reason: reason.to_owned(),
            });
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
