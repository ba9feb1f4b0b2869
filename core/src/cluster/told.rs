//! What one core replica tells the others over core NATS (activity entries,
//! login counts): each message carries its sender, so a replica skips its own.
//! Fire and forget: these keep views in step, they are not records, and a
//! replica that misses some is only less informed for a while.

use futures::StreamExt;
use moolai_proto::CoreId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Messages waiting to be published; beyond this a sender drops them.
const OUTBOX: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Told<T> {
    from: CoreId,
    what: T,
}

/// A sender for `subject` and the task that publishes what it is given (run it
/// until shutdown). Senders `try_send`: a slow bus never holds a caller up.
pub fn outbox<T: Serialize + Send + 'static>(
    nats: async_nats::Client,
    subject: String,
    me: CoreId,
) -> (
    mpsc::Sender<T>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (tx, mut rx) = mpsc::channel::<T>(OUTBOX);
    let publish = async move {
        while let Some(what) = rx.recv().await {
            let told = Told {
                from: me.clone(),
                what,
            };
            let payload = serde_json::to_vec(&told).unwrap_or_default();
            if let Err(err) = nats.publish(subject.clone(), payload.into()).await {
                tracing::debug!(%err, %subject, "not told to the other core replicas");
            }
        }
    };
    (tx, publish)
}

/// What telling and following need: this replica, the bus, where its tasks go.
pub struct Link<'a> {
    pub me: &'a CoreId,
    pub nats: &'a async_nats::Client,
    pub tasks: &'a tokio_util::task::TaskTracker,
    pub shutdown: &'a CancellationToken,
}

/// Both ways at once on `subject`: `share` gets the sender this replica tells
/// through, `apply` what the others tell (`what` names the task in a log line
/// if the bus subscription fails).
pub fn both_ways<T>(
    link: &Link<'_>,
    what: &'static str,
    subject: String,
    share: impl FnOnce(mpsc::Sender<T>),
    apply: impl Fn(T) + Send + 'static,
) where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    let (tx, publish) = outbox(link.nats.clone(), subject.clone(), link.me.clone());
    share(tx);
    let shutdown = link.shutdown.clone();
    link.tasks
        .spawn(crate::until_cancelled(publish, shutdown.clone()));
    let follow = follow(link.nats.clone(), subject, link.me.clone(), apply, shutdown);
    link.tasks.spawn(crate::log_exit(what, follow));
}

/// Hands what the other replicas tell on `subject` to `apply` until `shutdown`.
pub async fn follow<T: DeserializeOwned>(
    nats: async_nats::Client,
    subject: String,
    me: CoreId,
    apply: impl Fn(T),
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let mut sub = nats.subscribe(subject.clone()).await?;
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { return Ok(()) };
        match serde_json::from_slice::<Told<T>>(&msg.payload) {
            Ok(told) if told.from != me => apply(told.what),
            Ok(_) => {}
            Err(err) => tracing::debug!(%err, %subject, "undecodable message from a core replica"),
        }
    }
}
