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
pub const UP_WITHIN: Duration = moolai_proto::events::PRESENCE_UP_WITHIN;

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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn presence(id: &str) -> EdgePresence {
        EdgePresence {
            edge_id: EdgeId::parse(id).unwrap(),
            address: format!("ws://{id}"),
            connections: 0,
            heartbeats_per_sec: 0.0,
            bad_frames: 0,
            at: Utc::now(),
        }
    }

    fn ids(edges: &Edges) -> Vec<String> {
        edges.up().iter().map(|p| p.edge_id.to_string()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_edge_is_up_until_it_has_been_silent_for_three_announcements() {
        let edges = Edges::default();
        edges.record(presence("edge-b"));
        edges.record(presence("edge-a"));
        assert_eq!(ids(&edges), ["edge-a", "edge-b"], "listed by id");
        tokio::time::advance(UP_WITHIN).await;
        edges.record(presence("edge-b"));
        assert_eq!(ids(&edges), ["edge-a", "edge-b"], "exactly at the limit");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(ids(&edges), ["edge-b"], "edge-a fell silent");
        edges.record(presence("edge-a"));
        assert_eq!(ids(&edges), ["edge-a", "edge-b"], "and came back");
    }

    #[tokio::test(start_paused = true)]
    async fn the_latest_announcement_is_the_one_shown() {
        let edges = Edges::default();
        edges.record(presence("edge-a"));
        edges.record(EdgePresence {
            connections: 7,
            ..presence("edge-a")
        });
        assert_eq!(edges.up().len(), 1);
        assert_eq!(edges.up()[0].connections, 7);
    }
}
