//! The liveness rule, applied periodically: an orchestrator whose heartbeat has not
//! been processed for `HEARTBEAT_TTL_SEC` is marked inactive (health `unknown`), and
//! connections held by an edge that stopped announcing itself are forgotten — so an
//! edge that dies without a goodbye leaves nothing `active` past the TTL.
//!
//! Every replica forgets the lost edges' connections in its own view; only the
//! holder of the singleton duties sweeps the database, its command fenced by
//! its lease. After taking the duties over from another replica it waits
//! [`TAKEOVER_GRACE`] first, as Nomad gives nodes a grace period after a leader
//! change: heartbeats the old holder decided but had not flushed yet must not
//! turn into inactive orchestrators.

use std::time::Duration;

use moolai_proto::commands::{Command, Fence};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::duties::Duties;
use crate::cluster::edges::{Edges, UP_WITHIN};
use crate::fleet::activity::{Feed, Kind};
use crate::fleet::live::Live;
use crate::persister_client::Persister;

/// What the sweep needs.
pub struct Sweeper {
    pub persister: Persister,
    pub live: Live,
    pub edges: Edges,
    pub feed: Feed,
    pub ttl: Duration,
    pub every: Duration,
    pub duties: Duties,
}

/// How long a replica that took the duties over waits before its first sweep.
pub const TAKEOVER_GRACE: Duration = Duration::from_secs(5);

impl Sweeper {
    /// Sweeps every `every` until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let started = Instant::now();
        let mut tick = tokio::time::interval(self.every);
        let mut since: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            metrics::gauge!("moolai_core_connected").set(self.live.connected() as f64);
            metrics::gauge!("moolai_core_edges_up").set(self.edges.up().len() as f64);
            // Right after a start every edge is still unheard of; give them time.
            if started.elapsed() > UP_WITHIN {
                self.forget_lost_edges();
            }
            let Some(lease) = self.duties.held() else {
                since = None;
                continue;
            };
            let held_for = since.get_or_insert_with(Instant::now).elapsed();
            if lease.took_over && held_for < TAKEOVER_GRACE {
                continue;
            }
            self.expire(lease.fence).await;
        }
    }

    fn forget_lost_edges(&self) {
        let up: Vec<_> = self.edges.up().into_iter().map(|e| e.edge_id).collect();
        for id in self.live.connected_ids() {
            let Some(conn) = self.live.connection(&id) else {
                continue;
            };
            if !up.contains(&conn.edge_id) && self.live.unregister(&id, conn.conn_id) {
                // Every replica forgets; the duty holder alone tells.
                if self.duties.held().is_none() {
                    continue;
                }
                tracing::warn!(orchestrator_id = %id, edge_id = %conn.edge_id, "edge stopped announcing; connection forgotten");
                self.feed.record(
                    Kind::Disconnect,
                    json!({"orchestrator_id": id, "reason": "edge_lost"}),
                );
            }
        }
    }

    /// Logs one expired orchestrator with its own limit and silence (the
    /// persister's answer; a bare id from an older persister says less).
    fn report(&self, stale: &serde_json::Value) {
        let Some(id) = stale["orchestrator_id"].as_str().or(stale.as_str()) else {
            return;
        };
        match (stale["silent_sec"].as_u64(), stale["limit_sec"].as_u64()) {
            (Some(silent), Some(limit)) => tracing::info!(
                orchestrator_id = id,
                "[C-OCS] Orchestrator {id} marked inactive: no heartbeat for {silent} s (its limit: {limit} s)"
            ),
            _ => tracing::info!(
                orchestrator_id = id,
                "[C-OCS] Orchestrator {id} marked inactive: no heartbeat within its limit"
            ),
        }
        self.feed
            .record(Kind::Stale, json!({"orchestrator_id": id}));
    }

    async fn expire(&self, fence: Fence) {
        let command = Command::ExpireStale {
            ttl_sec: self.ttl.as_secs().max(1),
            fence: Some(fence),
        };
        match self.persister.run(&command).await {
            Ok(answer) => {
                for stale in answer.as_array().into_iter().flatten() {
                    self.report(stale);
                }
            }
            Err(err) => tracing::debug!(%err, "liveness sweep skipped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use moolai_proto::commands::Reply;

    use super::*;
    use crate::persister_client::RecordedPersister;

    /// A sweeper over an in-memory persister that answers each sweep with one
    /// orchestrator past its limit. Which orchestrators are past the TTL is
    /// the persister's query (not here): core's part is to ask with the TTL and
    /// the lease's fence, only while holding the duties, and to report the answer.
    fn sweeper(duties: &Duties) -> (Sweeper, RecordedPersister) {
        let persister = RecordedPersister::answering(|request| match request.command {
            Command::ExpireStale { .. } => Reply::Done {
                data: json!([{"orchestrator_id": "org-1", "silent_sec": 31, "limit_sec": 30}]),
            },
            _ => Reply::Done {
                data: serde_json::Value::Null,
            },
        });
        let sweeper = Sweeper {
            persister: Persister::memory(persister.clone()),
            live: Live::default(),
            edges: Edges::default(),
            feed: Feed::default(),
            ttl: Duration::from_secs(30),
            every: Duration::from_secs(1),
            duties: duties.clone(),
        };
        (sweeper, persister)
    }

    /// Renews the lease every 500 ms, as the lease loop does, until `stop`.
    fn renew(duties: &Duties, took_over: bool, stop: CancellationToken) {
        let duties = duties.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                duties.grant(took_over);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    fn sweeps(persister: &RecordedPersister) -> Vec<Command> {
        persister
            .requests()
            .into_iter()
            .map(|r| r.command)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_lease_holder_sweeps_and_with_the_ttl_and_its_fence() {
        let duties = Duties::new("core-1".into());
        let (sweeper, persister) = sweeper(&duties);
        let feed = sweeper.feed.clone();
        let shutdown = CancellationToken::new();
        tokio::spawn(sweeper.run(shutdown.clone()));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(persister.requests().is_empty(), "no lease, no sweep");

        let renewing = CancellationToken::new();
        renew(&duties, false, renewing.clone());
        let asked = persister.wait_for(1).await;
        let Command::ExpireStale { ttl_sec, fence } = asked[0].command.clone() else {
            panic!("{asked:?}");
        };
        assert_eq!((ttl_sec, fence), (30, duties.held().map(|l| l.fence)));
        assert!(asked[0].audit.is_none());
        assert_eq!(feed.recent(Some("stale"), Some("org-1"), 10).len(), 1);

        // The lease not renewed: the sweeps stop within its act window.
        renewing.cancel();
        tokio::time::sleep(ACT_WINDOW + Duration::from_secs(1)).await;
        let before = sweeps(&persister).len();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(sweeps(&persister).len(), before);
        shutdown.cancel();
    }

    /// `cluster::duties::ACT_WITHIN`: how long an unrenewed lease is acted on.
    const ACT_WINDOW: Duration = Duration::from_secs(2);

    #[tokio::test(start_paused = true)]
    async fn a_takeover_waits_its_grace_before_the_first_sweep() {
        let duties = Duties::new("core-2".into());
        let (sweeper, persister) = sweeper(&duties);
        let shutdown = CancellationToken::new();
        let renewing = CancellationToken::new();
        renew(&duties, true, renewing.clone());
        let started = Instant::now();
        tokio::spawn(sweeper.run(shutdown.clone()));
        tokio::time::sleep(TAKEOVER_GRACE - Duration::from_millis(100)).await;
        assert!(persister.requests().is_empty(), "within the grace");
        persister.wait_for(1).await;
        assert!(started.elapsed() >= TAKEOVER_GRACE);
        renewing.cancel();
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_ttl_under_a_second_is_asked_as_one() {
        let duties = Duties::new("core-1".into());
        let (mut sweeper, persister) = sweeper(&duties);
        sweeper.ttl = Duration::from_millis(300);
        duties.grant(false);
        sweeper.expire(duties.held().unwrap().fence).await;
        assert!(matches!(
            sweeps(&persister)[..],
            [Command::ExpireStale { ttl_sec: 1, .. }]
        ));
    }
}
