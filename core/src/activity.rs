//! The activity feed (the first version's `buffer_manager`): the last
//! [`CAPACITY`] things that happened to orchestrators — handshake, keepalive,
//! disconnect, provision, message_sent, stale — served at `/api/v1/internal/activity`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Entries kept.
pub const CAPACITY: usize = 1000;

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: Value,
}

/// Cheap to clone. A std mutex: held only to push or copy, never across an await;
/// keepalives are recorded at most once a minute per orchestrator, so it is not on
/// the per-heartbeat path.
#[derive(Clone, Default)]
pub struct Feed {
    inner: Arc<Mutex<VecDeque<Activity>>>,
}

impl Feed {
    /// Records `kind` with `data`.
    pub fn record(&self, kind: &'static str, data: Value) {
        let mut feed = self.inner.lock().expect("activity lock");
        if feed.len() == CAPACITY {
            feed.pop_front();
        }
        feed.push_back(Activity {
            timestamp: Utc::now(),
            kind,
            data,
        });
    }

    /// Newest first, optionally of one kind, at most `limit`.
    pub fn recent(&self, kind: Option<&str>, limit: usize) -> Vec<Activity> {
        let feed = self.inner.lock().expect("activity lock");
        feed.iter()
            .rev()
            .filter(|a| kind.is_none_or(|k| a.kind == k))
            .take(limit)
            .cloned()
            .collect()
    }
}
