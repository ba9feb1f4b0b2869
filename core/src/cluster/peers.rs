//! The core replicas that announced themselves recently
//! (`{p}.cores.presence.*`), this one included: `GET /controller/cores`, and
//! what an operator reads to see which replica holds the singleton duties.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use futures::StreamExt;
use moolai_proto::events::CorePresence;
use moolai_proto::{CoreId, Subjects};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::duties::Duties;
use crate::fleet::live::Live;

/// How often a replica announces itself.
const EVERY: Duration = Duration::from_secs(1);
/// A replica silent for longer than this is not listed (three announcements).
pub const UP_WITHIN: Duration = Duration::from_secs(3);

/// Last announcement per replica.
#[derive(Clone, Default)]
pub struct Cores {
    seen: Arc<DashMap<CoreId, (CorePresence, Instant)>>,
}

impl Cores {
    /// Replicas heard from within [`UP_WITHIN`], by id.
    pub fn up(&self) -> Vec<CorePresence> {
        let mut up: Vec<CorePresence> = self
            .seen
            .iter()
            .filter(|e| e.value().1.elapsed() <= UP_WITHIN)
            .map(|e| e.value().0.clone())
            .collect();
        up.sort_by(|a, b| a.core_id.cmp(&b.core_id));
        up
    }

    fn record(&self, presence: CorePresence) {
        self.seen
            .insert(presence.core_id.clone(), (presence, Instant::now()));
    }
}

/// What this replica says about itself.
pub struct Me {
    pub id: CoreId,
    pub address: String,
    pub started_at: DateTime<Utc>,
    pub duties: Duties,
    pub live: Live,
    /// Whether it can serve now (the same answer as `/readyz`, without the
    /// database round trip).
    pub ready: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl Me {
    fn presence(&self) -> CorePresence {
        let duties = match self.duties.held() {
            Some(_) => vec!["singleton".to_owned()],
            None => Vec::new(),
        };
        CorePresence {
            core_id: self.id.clone(),
            address: self.address.clone(),
            duties,
            ready: (self.ready)(),
            connected: self.live.connected() as u64,
            started_at: self.started_at,
            at: Utc::now(),
        }
    }
}

/// Announces this replica every [`EVERY`] until `shutdown`; recorded here at
/// once too, so a lone replica lists itself even while the bus is away.
pub async fn announce(
    me: Me,
    nats: async_nats::Client,
    subjects: Subjects,
    cores: Cores,
    shutdown: CancellationToken,
) {
    let subject = subjects.core_presence(&me.id);
    let mut tick = tokio::time::interval(EVERY);
    let started = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let presence = me.presence();
        let payload = Bytes::from(serde_json::to_vec(&presence).unwrap_or_default());
        cores.record(presence);
        // Alone only once the others had time to be heard (see `Live::alone`).
        let others = cores.up().len() > 1;
        if others || started.elapsed() >= 2 * EVERY {
            me.live.set_others(others);
        }
        if let Err(err) = nats.publish(subject.clone(), payload).await {
            tracing::debug!(%err, "core presence not announced");
        }
    }
}

/// Listens to the other replicas until `shutdown`.
pub async fn listen(
    nats: async_nats::Client,
    subjects: Subjects,
    me: CoreId,
    cores: Cores,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let mut sub = nats.subscribe(subjects.all_core_presence()).await?;
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { return Ok(()) };
        match serde_json::from_slice::<CorePresence>(&msg.payload) {
            Ok(p) if p.core_id != me => cores.record(p),
            Ok(_) => {}
            Err(err) => tracing::debug!(%err, "undecodable core presence"),
        }
    }
}
