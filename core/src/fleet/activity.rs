//! The activity feed: the last [`CAPACITY`] things that happened to
//! orchestrators and organizations, each of a [`Kind`], served at
//! `/api/v1/internal/activity` and streamed to the dashboard.
//!
//! Each entry is recorded by the core replica that saw it happen and shared
//! with the others on `{p}.cores.activity` ([`Feed::share`], `told`), so
//! every replica's feed is the whole fleet's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

/// Entries kept.
pub const CAPACITY: usize = 1000;

/// What happened: the `type` of an activity, and the filter of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An orchestrator's socket was accepted by an edge.
    Handshake,
    /// A heartbeat (at most one a minute per orchestrator).
    Keepalive,
    /// A socket closed, or its edge stopped announcing itself.
    Disconnect,
    /// The welcome configuration was sent to a new connection.
    Provision,
    /// Messages went out to an orchestrator (pending ones at reconnect, a new
    /// one, or a raw send).
    MessageSent,
    /// No heartbeat within the TTL: marked inactive.
    Stale,
    Registered,
    Deregistered,
    InstanceCreated,
    OrganizationCreated,
    OrganizationUpdated,
    OrganizationDeleted,
    /// An organization's features were merged and pushed.
    Features,
    Independence,
    MessageCreated,
    MessageStatus,
}

impl Kind {
    /// The name clients see and filter on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handshake => "handshake",
            Self::Keepalive => "keepalive",
            Self::Disconnect => "disconnect",
            Self::Provision => "provision",
            Self::MessageSent => "message_sent",
            Self::Stale => "stale",
            Self::Registered => "registered",
            Self::Deregistered => "deregistered",
            Self::InstanceCreated => "instance_created",
            Self::OrganizationCreated => "organization_created",
            Self::OrganizationUpdated => "organization_updated",
            Self::OrganizationDeleted => "organization_deleted",
            Self::Features => "features",
            Self::Independence => "independence",
            Self::MessageCreated => "message_created",
            Self::MessageStatus => "message_status",
        }
    }
}

impl Kind {
    const ALL: [Kind; 16] = [
        Self::Handshake,
        Self::Keepalive,
        Self::Disconnect,
        Self::Provision,
        Self::MessageSent,
        Self::Stale,
        Self::Registered,
        Self::Deregistered,
        Self::InstanceCreated,
        Self::OrganizationCreated,
        Self::OrganizationUpdated,
        Self::OrganizationDeleted,
        Self::Features,
        Self::Independence,
        Self::MessageCreated,
        Self::MessageStatus,
    ];
}

/// As its name: [`Kind::as_str`] is the one list of names.
impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown activity {name:?}")))
    }
}

/// One thing that happened.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    pub timestamp: DateTime<Utc>,
    /// A [`Kind`]'s name: `handshake`, `message_sent`, `registered`, ...
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: Kind,
    /// Always an object; most name the `orchestrator_id` or `organization_id`.
    #[schema(value_type = std::collections::HashMap<String, Value>)]
    pub data: Value,
}

/// Cheap to clone. A std mutex: held only to push or copy, never across an await;
/// keepalives are recorded at most once a minute per orchestrator, so it is not on
/// the per-heartbeat path.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Mutex<VecDeque<Activity>>>,
    /// Where this replica's own records go to the others, once shared.
    outbox: Arc<OnceLock<mpsc::Sender<Activity>>>,
    /// Every record is also broadcast to the dashboard's event streams; a slow
    /// stream misses entries rather than holding anyone up.
    live: broadcast::Sender<Activity>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            outbox: Arc::default(),
            live: broadcast::channel(1024).0,
        }
    }
}

impl Feed {
    /// Records `kind` with `data`.
    pub fn record(&self, kind: Kind, data: Value) {
        let activity = Activity {
            timestamp: Utc::now(),
            kind,
            data,
        };
        if let Some(outbox) = self.outbox.get() {
            // Full: the bus is slow; the others miss an entry, nothing waits.
            let _ = outbox.try_send(activity.clone());
        }
        self.keep(activity);
    }

    fn keep(&self, activity: Activity) {
        let mut feed = self.inner.lock().expect("activity lock");
        if feed.len() == CAPACITY {
            feed.pop_front();
        }
        feed.push_back(activity.clone());
        let _ = self.live.send(activity); // no subscriber is fine
    }

    /// From now on, sends this replica's records to `outbox` (`told`).
    pub fn share(&self, outbox: mpsc::Sender<Activity>) {
        let _ = self.outbox.set(outbox);
    }

    /// Keeps an entry another replica recorded.
    pub fn keep_told(&self, activity: Activity) {
        self.keep(activity);
    }

    /// Records from now on, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Activity> {
        self.live.subscribe()
    }

    /// Newest first, optionally of one kind and one orchestrator, at most `limit`.
    pub fn recent(
        &self,
        kind: Option<&str>,
        orchestrator: Option<&str>,
        limit: usize,
    ) -> Vec<Activity> {
        let feed = self.inner.lock().expect("activity lock");
        feed.iter()
            .rev()
            .filter(|a| kind.is_none_or(|k| a.kind.as_str() == k))
            .filter(|a| orchestrator.is_none_or(|o| a.data["orchestrator_id"] == o))
            .take(limit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kinds(entries: &[Activity]) -> Vec<(&'static str, Value)> {
        entries
            .iter()
            .map(|a| (a.kind.as_str(), a.data["orchestrator_id"].clone()))
            .collect()
    }

    #[test]
    fn recent_is_newest_first_filtered_and_limited() {
        let feed = Feed::default();
        feed.record(Kind::Handshake, json!({"orchestrator_id": "a"}));
        feed.record(Kind::Keepalive, json!({"orchestrator_id": "a"}));
        feed.record(Kind::Handshake, json!({"orchestrator_id": "b"}));
        assert_eq!(
            kinds(&feed.recent(None, None, 10)),
            [
                ("handshake", json!("b")),
                ("keepalive", json!("a")),
                ("handshake", json!("a"))
            ]
        );
        assert_eq!(
            kinds(&feed.recent(Some("handshake"), None, 10)),
            [("handshake", json!("b")), ("handshake", json!("a"))]
        );
        assert_eq!(
            kinds(&feed.recent(None, Some("a"), 1)),
            [("keepalive", json!("a"))]
        );
    }

    #[test]
    fn the_feed_keeps_only_the_last_entries_and_tells_subscribers() {
        let feed = Feed::default();
        let mut live = feed.subscribe();
        for n in 0..CAPACITY + 5 {
            feed.record(
                Kind::Keepalive,
                json!({ "orchestrator_id": format!("o-{n}") }),
            );
        }
        let all = feed.recent(None, None, usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all.last().unwrap().data["orchestrator_id"], "o-5");
        assert_eq!(live.try_recv().unwrap().data["orchestrator_id"], "o-0");
    }
}
