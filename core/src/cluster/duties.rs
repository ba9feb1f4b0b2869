//! Singleton duties (the liveness sweep, publishing token generations, the
//! first admin): done by exactly one core replica at a time, whichever holds
//! the duty lease.
//!
//! The lease is one key in a JetStream KV bucket whose entries expire after
//! [`LEASE_TTL`]. The holder renews it every [`RENEW_EVERY`] with a
//! compare-and-set on the revision it last wrote; the others try to create the
//! key, which succeeds only once it has expired or been released. So ownership
//! moves by NATS's own ordering, never by a vote of ours.
//!
//! A holder that cannot renew stops acting after [`ACT_WITHIN`] of its last
//! successful renewal, before the entry can expire and anyone else take over:
//! two holders never act at once. The writes a duty makes carry its [`Fence`]
//! (the bucket's creation time and the lease's revision), and the persister
//! refuses one older than the newest it has seen, so even a holder paused past
//! its lease cannot write late.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use moolai_proto::commands::Fence;
use moolai_proto::Subjects;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long a lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(3);
/// How often the holder renews and the others try to take over.
const RENEW_EVERY: Duration = Duration::from_millis(500);
/// How long after its last renewal the holder still acts: well inside
/// [`LEASE_TTL`], so it has stopped before another can start.
const ACT_WITHIN: Duration = Duration::from_secs(2);
/// The one key of the bucket.
const KEY: &str = "singleton";

/// A lease this replica holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub fence: Fence,
    /// Whether another replica held the duties before (a takeover, not a
    /// fresh start): its work may have paused, so the liveness sweep waits
    /// a grace period before marking anyone inactive.
    pub took_over: bool,
    renewed: Instant,
}

/// The shared handle: who holds the duties here, if anyone.
#[derive(Clone)]
pub struct Duties {
    replica: String,
    lease: Arc<Mutex<Option<Lease>>>,
    changed: watch::Sender<bool>,
    /// When NATS last answered a lease request (a renewal, a takeover attempt
    /// or its refusal): the bus round trip readiness relies on, as a client's
    /// own pings notice a silent network cut only after ~30 s.
    answered: Arc<Mutex<Option<Instant>>>,
}

impl Duties {
    pub fn new(replica: String) -> Self {
        Self {
            replica,
            lease: Arc::default(),
            changed: watch::Sender::new(false),
            answered: Arc::default(),
        }
    }

    /// Whether NATS answered a lease request within `within`.
    pub fn bus_answered_within(&self, within: Duration) -> bool {
        let answered = *self.answered.lock().expect("answered lock");
        answered.is_some_and(|at| at.elapsed() < within)
    }

    fn note_answer(&self) {
        *self.answered.lock().expect("answered lock") = Some(Instant::now());
    }

    /// The lease, while this replica may act on it.
    pub fn held(&self) -> Option<Lease> {
        let lease = *self.lease.lock().expect("lease lock");
        let held = lease.filter(|l| l.renewed.elapsed() < ACT_WITHIN);
        // Here too, not only when the lease loop notices: a renewal may hang
        // on a silent network for longer than the lease may be acted on.
        metrics::gauge!("moolai_core_duty_held", "duty" => "singleton").set(if held.is_some() {
            1.0
        } else {
            0.0
        });
        held
    }

    /// Notified whenever the lease is taken (`true`) or lost.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.changed.subscribe()
    }

    /// This replica's id, as written into the lease.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Holds the duties now, as a lease renewal would (tests: no NATS).
    #[cfg(test)]
    pub(crate) fn grant(&self, took_over: bool) {
        self.set(Some(Lease {
            fence: Fence {
                epoch: 1,
                revision: 1,
            },
            took_over,
            renewed: Instant::now(),
        }));
    }

    fn set(&self, lease: Option<Lease>) {
        *self.lease.lock().expect("lease lock") = lease;
        let held = lease.is_some();
        self.changed.send_if_modified(|old| {
            let differs = *old != held;
            *old = held;
            differs
        });
        metrics::gauge!("moolai_core_duty_held", "duty" => "singleton").set(if lease.is_some() {
            1.0
        } else {
            0.0
        });
    }
}

/// Opens (or declares) the lease bucket.
pub async fn bucket(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
) -> Result<kv::Store, async_nats::Error> {
    let name = subjects.duty_bucket();
    if let Ok(store) = js.get_key_value(&name).await {
        return Ok(store);
    }
    let config = kv::Config {
        bucket: name,
        history: 1,
        max_age: LEASE_TTL,
        num_replicas: replicas,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    Ok(js.create_key_value(config).await?)
}

/// One attempt now: at start, so a free lease is taken before core serves.
pub async fn attempt(duties: &Duties, store: &kv::Store) {
    if let Some(epoch) = bucket_epoch(store).await {
        step(duties, store, epoch).await;
    }
}

/// Keeps trying to hold the lease until `shutdown`; releases it on the way out
/// so a successor need not wait for it to expire.
pub async fn run(duties: Duties, store: kv::Store, shutdown: CancellationToken) {
    let mut epoch = None;
    let mut tick = tokio::time::interval(RENEW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if epoch.is_none() {
            epoch = bucket_epoch(&store).await;
        }
        if let Some(epoch) = epoch {
            step(&duties, &store, epoch).await;
        }
    }
    if let Some(lease) = duties.held() {
        duties.set(None);
        let released = store
            .delete_expect_revision(KEY, Some(lease.fence.revision))
            .await;
        if let Err(err) = released {
            tracing::debug!(%err, "duty lease not released; it will expire");
        }
    }
}

/// One renewal or takeover attempt.
async fn step(duties: &Duties, store: &kv::Store, epoch: i64) {
    let current = *duties.lease.lock().expect("lease lock");
    match current {
        Some(lease) => match store
            .update(KEY, duties.replica.clone().into(), lease.fence.revision)
            .await
        {
            Ok(revision) => {
                duties.note_answer();
                duties.set(Some(Lease {
                    fence: Fence { epoch, revision },
                    renewed: Instant::now(),
                    ..lease
                }));
            }
            Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                duties.note_answer();
                tracing::warn!(
                    "[C-OCS] Duty lease taken by another core; singleton duties stopped here"
                );
                duties.set(None);
            }
            Err(err) if lease.renewed.elapsed() >= ACT_WITHIN => {
                tracing::warn!(%err, "[C-OCS] Duty lease lost; singleton duties stopped here");
                duties.set(None);
            }
            Err(err) => tracing::debug!(%err, "duty lease renewal failed; retrying"),
        },
        None => take_over(duties, store, epoch).await,
    }
}

async fn take_over(duties: &Duties, store: &kv::Store, epoch: i64) {
    // Whether someone held it: read before trying, so a fresh stack starts at once.
    let before = match store.get(KEY).await {
        Ok(before) => before,
        Err(err) => {
            tracing::debug!(%err, "duty lease unreadable");
            return;
        }
    };
    duties.note_answer();
    match store.create(KEY, duties.replica.clone().into()).await {
        Ok(revision) => {
            let took_over = before.is_some_and(|held| held.as_ref() != duties.replica.as_bytes());
            tracing::info!(
                replica = %duties.replica,
                revision,
                took_over,
                "[C-OCS] This core now holds the singleton duties"
            );
            duties.set(Some(Lease {
                fence: Fence { epoch, revision },
                took_over,
                renewed: Instant::now(),
            }));
        }
        Err(err) => tracing::trace!(%err, "duty lease held elsewhere"),
    }
}

/// The bucket's creation time in milliseconds: revisions restart when a bucket
/// is made anew (a wiped NATS store), and the persister must then accept them.
async fn bucket_epoch(store: &kv::Store) -> Option<i64> {
    match store.status().await {
        Ok(status) => Some((status.info.created.unix_timestamp_nanos() / 1_000_000) as i64),
        Err(err) => {
            tracing::warn!(%err, "duty bucket unreadable; no singleton duty here");
            None
        }
    }
}

/// The clock of a periodic singleton duty: ticks every `every` until
/// `shutdown`, each tick saying whether this replica holds the duties then.
pub struct Ticks {
    tick: tokio::time::Interval,
    duties: Duties,
    shutdown: CancellationToken,
}

impl Ticks {
    pub fn new(duties: Duties, every: Duration, shutdown: CancellationToken) -> Self {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            tick,
            duties,
            shutdown,
        }
    }

    /// The next tick: `Some(held)`, or `None` once shutdown came.
    pub async fn next(&mut self) -> Option<bool> {
        tokio::select! {
            _ = self.shutdown.cancelled() => None,
            _ = self.tick.tick() => Some(self.duties.held().is_some()),
        }
    }
}
