//! Decides each `i_am_alive` from memory and hands accepted ones to the persister.
//!
//! With several core replicas, each edge batch is decided by one of them (queue
//! group `core`: NATS hands every batch to one member, and stops handing them to
//! a member whose connection is gone), so a heartbeat is logged and recorded
//! once. Every replica also follows all batches for its own view ([`follow`]):
//! the last keepalive of each connection and the rates the dashboard shows,
//! whichever replica a reader asks. A replica alone (no other announced itself)
//! gets every batch in the queue group anyway, so it keeps its view there and
//! its follower skips the batches unread: one replica costs what core did
//! before it could be replicated.
//!
//! Heartbeats arrive on core NATS in per-edge batches (`{p}.heartbeats.*`): one
//! lost on the way is replaced by the next within an interval, so they need no
//! stream of their own.
//! Accepted heartbeats are coalesced here (latest per orchestrator) and flushed as
//! one JetStream message per batch on `{p}.writes.heartbeats`, which the persister
//! turns into one set-based UPDATE.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use moolai_proto::events::{Beat, EdgeHeartbeats, HeartbeatBatch, HeartbeatWrite};
use moolai_proto::{OrchestratorId, Subjects};
use tokio_util::sync::CancellationToken;

use crate::fleet::activity::{Feed, Kind};
use crate::fleet::live::Live;

/// Most heartbeats in one batch message (about 130 bytes each, well under 1 MB).
const MAX_BATCH: usize = 5_000;
/// How long core waits for JetStream to confirm a batch before trying again.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepted heartbeats waiting for the next flush. A std mutex: it is held only to
/// insert or swap the map, never across an await.
#[derive(Clone, Default)]
pub struct Pending {
    inner: Arc<Mutex<HashMap<OrchestratorId, HeartbeatWrite>>>,
}

impl Pending {
    /// Adds accepted heartbeats, keeping the latest per orchestrator; one lock
    /// for a whole batch.
    fn extend(&self, writes: impl IntoIterator<Item = HeartbeatWrite>) {
        let mut map = self.inner.lock().expect("pending lock");
        for write in writes {
            match map.get(&write.orchestrator_id) {
                Some(seen) if seen.at >= write.at => {}
                _ => {
                    map.insert(write.orchestrator_id.clone(), write);
                }
            }
        }
    }

    fn take(&self) -> Vec<HeartbeatWrite> {
        let mut map = self.inner.lock().expect("pending lock");
        std::mem::take(&mut *map).into_values().collect()
    }

    fn put_back(&self, writes: Vec<HeartbeatWrite>) {
        self.extend(writes);
    }
}

/// Receives heartbeats until `shutdown`: decides the batches the queue group
/// hands this replica, and follows every batch for its view.
///
/// One task: before a batch is decided, every followed batch already received
/// is applied, so the log throttle knows the heartbeat another replica logged
/// just before (with two tasks a decision could overtake the follower and log
/// that line again: the two-core pass's flaky `operator_truth`). A batch
/// decided here keeps the view from the decision; its followed copy is skipped
/// (recognised by its bytes), so no heartbeat counts twice.
pub async fn receive(
    nats: async_nats::Client,
    subjects: Subjects,
    live: Live,
    pending: Pending,
    feed: Feed,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let counts = Counts {
        processed: metrics::counter!("moolai_core_heartbeats_total", "decision" => "processed"),
        ignored: metrics::counter!("moolai_core_heartbeats_total", "decision" => "ignored"),
    };
    let mut follower = nats.subscribe(subjects.all_heartbeats()).await?;
    let mut sub = nats
        .queue_subscribe(subjects.all_heartbeats(), QUEUE_GROUP.to_owned())
        .await?;
    let mut copies = Copies::default();
    loop {
        let msg = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(()),
            msg = sub.next() => msg,
            followed = follower.next() => {
                let Some(followed) = followed else { return Ok(()) };
                if !copies.decided_here(&followed.payload) {
                    follow(&live, &followed);
                }
                continue;
            }
        };
        let Some(msg) = msg else { return Ok(()) };
        let mut copy_seen = false;
        while let Some(Some(followed)) = follower.next().now_or_never() {
            if followed.payload == msg.payload {
                copy_seen = true;
            } else if !copies.decided_here(&followed.payload) {
                follow(&live, &followed);
            }
        }
        if !copy_seen {
            copies.expect(msg.payload.clone());
        }
        match serde_json::from_slice::<EdgeHeartbeats>(&msg.payload) {
            Ok(batch) => {
                let accepted = batch
                    .beats
                    .into_iter()
                    .filter_map(|beat| decide(&live, &feed, &counts, beat));
                pending.extend(accepted);
            }
            Err(err) => tracing::warn!(%err, subject = %msg.subject, "undecodable heartbeats"),
        }
    }
}

/// The queue group the replicas decide heartbeats in.
const QUEUE_GROUP: &str = "core";

/// Batches decided here whose followed copy has not arrived yet.
#[derive(Default)]
struct Copies(std::collections::VecDeque<Bytes>);

impl Copies {
    /// At most this many are remembered (a copy that never comes, e.g. while
    /// alone and not following, must not grow the list).
    const MAX: usize = 256;

    fn expect(&mut self, payload: Bytes) {
        if self.0.len() == Self::MAX {
            self.0.pop_front();
        }
        self.0.push_back(payload);
    }

    /// Whether `payload` is the copy of a batch decided here (forgotten then).
    fn decided_here(&mut self, payload: &Bytes) -> bool {
        match self.0.iter().position(|p| p == payload) {
            Some(at) => {
                self.0.remove(at);
                true
            }
            None => false,
        }
    }
}

/// Keeps this replica's view of a batch (last keepalive, counts), whichever
/// replica decides it.
fn follow(live: &Live, msg: &async_nats::Message) {
    if live.alone() {
        return; // the deciding path keeps the view
    }
    // Undecodable batches are reported once, by the replica deciding them.
    if let Ok(batch) = serde_json::from_slice::<EdgeHeartbeats>(&msg.payload) {
        for beat in batch.beats {
            live.follow_beat(&beat.orchestrator_id, beat.conn_id, beat.at);
        }
    }
}

/// Metric handles resolved once, not per heartbeat.
struct Counts {
    processed: metrics::Counter,
    ignored: metrics::Counter,
}

/// The independence rule: an independent orchestrator's heartbeats change nothing.
/// Returns the write an accepted heartbeat calls for.
fn decide(live: &Live, feed: &Feed, counts: &Counts, hb: Beat) -> Option<HeartbeatWrite> {
    let id = &hb.orchestrator_id;
    // One lookup in the view, which keeps it too (the followed copy is skipped).
    let verdict = live.beat(id, hb.conn_id, hb.at, true);
    if verdict.independent {
        counts.ignored.increment(1);
        if verdict.loud {
            tracing::info!(orchestrator_id = %id, "[C-OCS] Ignoring heartbeat from independent orchestrator {id}");
        }
        return None;
    }
    if verdict.loud {
        tracing::info!(orchestrator_id = %id, "[C-OCS] Processing heartbeat from orchestrator {id}");
        feed.record(Kind::Keepalive, serde_json::json!({"orchestrator_id": id}));
    } else {
        tracing::debug!(orchestrator_id = %id, "[C-OCS] Processing heartbeat from orchestrator {id}");
    }
    counts.processed.increment(1);
    Some(HeartbeatWrite {
        orchestrator_id: hb.orchestrator_id,
        conn_id: hb.conn_id,
        at: hb.at,
    })
}

/// Flushes pending heartbeats every `every` until `shutdown`, then once more.
pub async fn flush_loop(
    js: jetstream::Context,
    subjects: Subjects,
    pending: Pending,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tick.tick() => false,
        };
        flush(&js, &subjects, &pending).await;
        if stopping {
            return;
        }
    }
}

async fn flush(js: &jetstream::Context, subjects: &Subjects, pending: &Pending) {
    let writes = pending.take();
    for chunk in writes.chunks(MAX_BATCH) {
        if let Err(err) = publish(js, subjects, chunk).await {
            // Kept for the next flush; a newer heartbeat meanwhile replaces it.
            tracing::warn!(%err, count = chunk.len(), "heartbeat batch not stored; retrying");
            pending.put_back(chunk.to_vec());
        }
    }
}

async fn publish(
    js: &jetstream::Context,
    subjects: &Subjects,
    items: &[HeartbeatWrite],
) -> Result<(), async_nats::Error> {
    metrics::histogram!("moolai_core_heartbeat_batch_size").record(items.len() as f64);
    let batch = HeartbeatBatch {
        items: items.to_vec(),
    };
    let payload = Bytes::from(serde_json::to_vec(&batch)?);
    let ack = js.publish(subjects.heartbeat_writes(), payload).await?;
    tokio::time::timeout(PUBLISH_TIMEOUT, ack).await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};
    use moolai_proto::events::ConnId;

    use super::*;
    use crate::fleet::live::Rule;
    use crate::testing::{conn, org};

    fn counts() -> Counts {
        Counts {
            processed: metrics::counter!("test_processed"),
            ignored: metrics::counter!("test_ignored"),
        }
    }

    fn beat(id: &OrchestratorId, conn_id: ConnId, at: chrono::DateTime<chrono::Utc>) -> Beat {
        Beat {
            orchestrator_id: id.clone(),
            conn_id,
            at,
        }
    }

    fn independent(revision: i64, yes: bool) -> Rule {
        Rule {
            is_independent: yes,
            privacy_mode: false,
            revision,
        }
    }

    #[test]
    fn an_independent_orchestrators_heartbeat_changes_nothing() {
        let (live, feed) = (Live::default(), Feed::default());
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        live.register(id.clone(), c.clone());
        live.set_rule(id.clone(), independent(1, true), None);
        let at = Utc::now();
        assert_eq!(
            decide(&live, &feed, &counts(), beat(&id, c.conn_id, at)),
            None
        );
        assert_eq!(live.connection(&id).unwrap().last_keepalive, None);
        assert_eq!(
            (live.heartbeats_ignored(), live.heartbeats_processed()),
            (1, 0)
        );

        live.set_rule(id.clone(), independent(2, false), None);
        let write = decide(&live, &feed, &counts(), beat(&id, c.conn_id, at)).unwrap();
        assert_eq!(
            (write.orchestrator_id, write.conn_id, write.at),
            (id.clone(), c.conn_id, at)
        );
        assert_eq!(live.connection(&id).unwrap().last_keepalive, Some(at));
        assert_eq!(
            (live.heartbeats_ignored(), live.heartbeats_processed()),
            (1, 1)
        );
    }

    #[test]
    fn a_heartbeat_of_an_older_connection_is_no_keepalive_of_the_newer() {
        let (live, feed) = (Live::default(), Feed::default());
        let id = org("org-1");
        let c = conn("edge-1", Utc::now());
        live.register(id.clone(), c.clone());
        let write = decide(
            &live,
            &feed,
            &counts(),
            beat(&id, ConnId::new_v4(), Utc::now()),
        );
        assert!(
            write.is_some(),
            "accepted: the persister fences it by conn_id"
        );
        assert_eq!(live.connection(&id).unwrap().last_keepalive, None);
    }

    #[test]
    fn a_batch_keeps_the_latest_accepted_heartbeat_of_each() {
        let (live, feed, pending) = (Live::default(), Feed::default(), Pending::default());
        let (a, b, c) = (org("org-a"), org("org-b"), org("org-c"));
        let now = Utc::now();
        let conns: Vec<_> = [&a, &b, &c]
            .iter()
            .map(|id| {
                let conn = conn("edge-1", now);
                live.register((*id).clone(), conn.clone());
                conn.conn_id
            })
            .collect();
        live.set_rule(b.clone(), independent(1, true), None);
        let later = now + TimeDelta::seconds(5);
        let batch = vec![
            beat(&a, conns[0], later),
            beat(&b, conns[1], later),
            beat(&a, conns[0], now), // older, arrived after: not kept
            beat(&c, conns[2], now),
        ];
        pending.extend(
            batch
                .into_iter()
                .filter_map(|hb| decide(&live, &feed, &counts(), hb)),
        );
        // A later batch with an older beat of `c` does not move it back.
        pending.extend(decide(
            &live,
            &feed,
            &counts(),
            beat(&c, conns[2], now - TimeDelta::seconds(1)),
        ));
        let mut taken: Vec<_> = pending
            .take()
            .into_iter()
            .map(|w| (w.orchestrator_id, w.at))
            .collect();
        taken.sort();
        assert_eq!(
            taken,
            [(a, later), (c, now)],
            "the independent one is not written"
        );
        assert!(pending.take().is_empty(), "taken once");
        assert_eq!(live.heartbeats_ignored(), 1);
    }

    #[test]
    fn a_batch_decided_here_is_not_followed_again() {
        let mut copies = Copies::default();
        let payload = Bytes::from_static(b"batch-1");
        copies.expect(payload.clone());
        assert!(copies.decided_here(&payload));
        assert!(!copies.decided_here(&payload), "forgotten once seen");
        for n in 0..Copies::MAX + 10 {
            copies.expect(Bytes::from(n.to_string()));
        }
        assert_eq!(copies.0.len(), Copies::MAX, "bounded");
    }
}
