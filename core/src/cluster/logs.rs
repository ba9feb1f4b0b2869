//! Collects the log records every service publishes on `{p}.logs.*` into the
//! buffer behind `GET /api/v1/internal/logs`, so the whole cluster reads in one place.

use futures::StreamExt;
use moolai_kit::logbuf::{self, LogEntry};
use moolai_proto::Subjects;
use tokio_util::sync::CancellationToken;

/// Collects until `shutdown`. Records of this very process are skipped: they are in
/// the buffer already.
pub async fn collect(
    nats: async_nats::Client,
    subjects: Subjects,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let mut sub = nats.subscribe(subjects.all_logs()).await?;
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { return Ok(()) };
        if let Ok(entry) = serde_json::from_slice::<LogEntry>(&msg.payload) {
            if entry.source != logbuf::service() {
                logbuf::push(entry);
            }
        }
    }
}
