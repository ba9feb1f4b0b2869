//! The edges that announced themselves recently (`{p}.edges.presence.*`).

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures::StreamExt;
use moolai_proto::events::EdgePresence;
use moolai_proto::{EdgeId, Subjects};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// An edge silent for longer than this is not counted as up (three announcements).
pub const UP_WITHIN: Duration = Duration::from_secs(15);

/// Last announcement per edge; a `DashMap` because the listener writes while
/// request handlers read.
#[derive(Clone, Default)]
pub struct Edges {
    seen: Arc<DashMap<EdgeId, (EdgePresence, Instant)>>,
}

impl Edges {
    /// Edges heard from within [`UP_WITHIN`], by id.
    pub fn up(&self) -> Vec<EdgePresence> {
        let mut up: Vec<EdgePresence> = self
            .seen
            .iter()
            .filter(|e| e.value().1.elapsed() <= UP_WITHIN)
            .map(|e| e.value().0.clone())
            .collect();
        up.sort_by(|a, b| a.edge_id.cmp(&b.edge_id));
        up
    }

    fn record(&self, presence: EdgePresence) {
        self.seen
            .insert(presence.edge_id.clone(), (presence, Instant::now()));
    }
}

/// Listens until `shutdown`.
pub async fn listen(
    nats: async_nats::Client,
    subjects: Subjects,
    edges: Edges,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let mut sub = nats.subscribe(subjects.all_edge_presence()).await?;
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { return Ok(()) };
        match serde_json::from_slice::<EdgePresence>(&msg.payload) {
            Ok(p) => edges.record(p),
            Err(err) => tracing::debug!(%err, "undecodable edge presence"),
        }
    }
}
