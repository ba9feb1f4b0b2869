//! Barriers: instead of sleeping and then asserting that something did *not*
//! happen, a test causes a later event and waits for *its* effect; what was sent
//! before it has then been handled too.
//!
//! A [`Marker`] is a managed orchestrator on the same edge as the one under
//! test. Its frames travel the same way: one edge's heartbeats leave through one
//! batching queue on one subject, and its connection events through one stream,
//! both in the order the edge read them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_proto::EventKind;
use serde_json::json;

use crate::ws::{connect_as, next_of_type, send_json, Ws};
use crate::{wait_until, TestEnv};

/// How long a barrier may take before the test fails.
const BARRIER_WAIT: Duration = Duration::from_secs(10);

/// A managed orchestrator whose effects mark a point in an edge's traffic.
pub struct Marker {
    pub id: String,
    sock: Ws,
}

impl Marker {
    /// Connects `id` to the edge at `ws_url` and waits until it is stored active.
    pub async fn connect(env: &TestEnv, ws_url: &str, id: &str) -> Self {
        let mut sock = connect_as(ws_url, id, true).await;
        next_of_type(&mut sock, "provision_config").await;
        assert!(
            env.becomes_active(id, BARRIER_WAIT).await,
            "marker {id} never became active"
        );
        Self {
            id: id.to_owned(),
            sock,
        }
    }

    /// Sends a heartbeat and waits until it moved the marker's stored
    /// `last_seen`: every heartbeat the same edge read before it has been
    /// handled by core by then.
    pub async fn heartbeat_passes(&mut self, env: &TestEnv) {
        let before = last_seen(env, &self.id).await;
        // The edge stamps the beat when it reads it, after `before` was
        // stored and read back here: it is later by more than a microsecond.
        send_json(&mut self.sock, &json!({"type": "i_am_alive"})).await;
        let moved = wait_until(BARRIER_WAIT, || async {
            last_seen(env, &self.id).await > before
        })
        .await;
        assert!(moved.is_some(), "the marker's heartbeat never arrived");
    }

    /// Closes the marker's socket and waits until it is stored inactive: every
    /// connection event the same edge published before has been stored by then.
    pub async fn disconnect_passes(mut self, env: &TestEnv) {
        let _ = self.sock.close(None).await;
        let inactive = wait_until(BARRIER_WAIT, || async {
            env.status(&self.id).await.as_deref() == Some("inactive")
        })
        .await;
        assert!(inactive.is_some(), "the marker's disconnect never arrived");
    }
}

async fn last_seen(env: &TestEnv, id: &str) -> Option<DateTime<Utc>> {
    env.scalar(
        "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
        id,
    )
    .await
}

/// The configuration revision of organization `id`, once its handshake has
/// stored it: from then on every `provision_config` it is sent carries it.
pub async fn stored_config_revision(env: &TestEnv, id: &str) -> i64 {
    let sql = "SELECT config_revision FROM organizations WHERE organization_id = $1";
    let stored = wait_until(BARRIER_WAIT, || async {
        env.scalar::<i64>(sql, id).await.is_some()
    })
    .await;
    assert!(stored.is_some(), "organization {id} never stored");
    env.scalar::<i64>(sql, id).await.expect("stored")
}

/// Waits until `sql`, a count without parameters, reads `n`; the time it took.
pub async fn count_reaches(
    env: &TestEnv,
    sql: &'static str,
    n: i64,
    limit: Duration,
) -> Option<Duration> {
    wait_until(limit, || async {
        let count: i64 = sqlx::query_scalar(sql)
            .fetch_one(&env.pool)
            .await
            .expect("count query");
        count == n
    })
    .await
}

/// Waits until `n` instance rows read `status`; the time it took.
pub async fn instances_reach(
    env: &TestEnv,
    status: &str,
    n: i64,
    limit: Duration,
) -> Option<Duration> {
    let sql = "SELECT count(*) FROM orchestrator_instances WHERE status = $1";
    wait_until(limit, || async {
        env.scalar::<i64>(sql, status).await == Some(n)
    })
    .await
}

/// The events stream as the edges filled it: a barrier for events that nobody
/// stores yet (the persister is down).
pub struct PublishedEvents {
    stream: async_nats::jetstream::stream::Stream,
    subjects: moolai_proto::Subjects,
}

impl PublishedEvents {
    pub async fn open(env: &TestEnv) -> Self {
        let subjects = moolai_proto::Subjects::new(env.prefix.clone()).unwrap();
        let js = async_nats::jetstream::new(env.bus_client("core").await);
        let stream = js
            .get_stream(subjects.events_stream())
            .await
            .expect("the events stream");
        Self { stream, subjects }
    }

    /// Waits until the last `kind` event of orchestrator `id` on the stream
    /// comes after stream sequence `after`; its sequence.
    pub async fn after(&self, kind: EventKind, id: &str, after: u64) -> u64 {
        let id = moolai_proto::OrchestratorId::parse(id).unwrap();
        let subject = self.subjects.event(kind, &id);
        let seen = std::cell::Cell::new(0);
        let published = wait_until(BARRIER_WAIT, || async {
            if let Ok(message) = self.stream.get_last_raw_message_by_subject(&subject).await {
                seen.set(message.sequence);
            }
            seen.get() > after
        })
        .await;
        assert!(published.is_some(), "no {subject} after sequence {after}");
        seen.get()
    }
}
