//! The two things the persister writes: orchestrator events and heartbeat batches.

use moolai_proto::events::{Event, HeartbeatBatch};
use sqlx::PgPool;

use crate::consume::Sink;
use crate::error::WriteError;
use crate::org_seen::OrgSeen;
use crate::writes;

/// Handshakes, disconnects, snapshots and messages, applied in stream order in one
/// transaction (order matters: a handshake and its disconnect may share a batch);
/// the batch's configuration statuses after them, together (they depend on
/// nothing but their orchestrator's row, which a handshake earlier in the batch
/// has made by then).
pub struct EventSink {
    pub pool: PgPool,
}

impl Sink for EventSink {
    const NAME: &'static str = "events";
    type Item = Event;

    async fn write(&self, items: &[Event]) -> Result<(), WriteError> {
        let mut tx = self.pool.begin().await?;
        let mut statuses = Vec::new();
        for event in items {
            match event {
                Event::ConfigStatus(status) => statuses.push(status),
                other => writes::apply_event(&mut tx, other).await?,
            }
        }
        crate::config_sql::apply_statuses(&mut tx, &statuses).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Heartbeat batches from core, coalesced across messages into one statement.
pub struct HeartbeatSink {
    pub pool: PgPool,
    /// Where the organizations these heartbeats touch wait for their own write.
    pub orgs: OrgSeen,
}

impl Sink for HeartbeatSink {
    const NAME: &'static str = "heartbeats";
    type Item = HeartbeatBatch;

    async fn write(&self, items: &[HeartbeatBatch]) -> Result<(), WriteError> {
        let latest = writes::coalesce(items.iter().flat_map(|b| b.items.iter().cloned()));
        let touched = writes::apply_heartbeats(&self.pool, &latest).await?;
        let rows = touched.len();
        self.orgs.note(touched);
        metrics::histogram!("moolai_persister_heartbeat_statement_rows")
            .record(latest.len() as f64);
        record_lag(&latest);
        tracing::debug!(heartbeats = latest.len(), rows, "heartbeats written");
        Ok(())
    }
}

/// How old each orchestrator's `last_seen` was when it was committed: the edge
/// stamped it on receipt, so this is sent → committed (the benchmark's lag).
fn record_lag(written: &[moolai_proto::events::HeartbeatWrite]) {
    let now = chrono::Utc::now();
    let lag = metrics::histogram!("moolai_persister_last_seen_lag_seconds");
    for w in written {
        let micros = (now - w.at).num_microseconds().unwrap_or(i64::MAX);
        lag.record(micros.max(0) as f64 / 1e6);
    }
}
