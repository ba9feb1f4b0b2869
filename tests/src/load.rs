//! Steady load for fault runs: orchestrators sending numbered `message` frames at
//! a total rate, so that a test can count what reached PostgreSQL against what
//! was sent. Each frame is a durable event (edge → JetStream → persister → row).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use serde_json::json;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::ws::connect_as;

/// Most frames one orchestrator sends per second (the edge closes a socket past
/// 50/s, so stay well under).
const PER_CLIENT: u32 = 25;

pub struct MessagePump {
    sent: Arc<AtomicU64>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl MessagePump {
    /// `per_sec` messages a second in all, from orchestrators `<prefix>-0..`.
    pub async fn start(url: &str, prefix: &str, per_sec: u32) -> Self {
        let clients = per_sec.div_ceil(PER_CLIENT).max(1);
        let every = Duration::from_secs_f64(f64::from(clients) / f64::from(per_sec));
        let (sent, stop) = (Arc::new(AtomicU64::new(0)), CancellationToken::new());
        let mut tasks = JoinSet::new();
        for i in 0..clients {
            let id = format!("{prefix}-{i}");
            let mut ws = connect_as(url, &id, true).await;
            let (sent, stop) = (sent.clone(), stop.clone());
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(every);
                let mut n = 0u64;
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    let frame = json!({"type": "message", "data": {
                        "message_type": "monitoring", "content": format!("{id}:{n}")}});
                    if ws.send(Message::text(frame.to_string())).await.is_err() {
                        break; // the socket was closed on us; the test sees it in the count
                    }
                    n += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                let _ = ws.close(None).await;
            });
        }
        Self { sent, stop, tasks }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits until `n` more frames than now have been sent: the load flows.
    pub async fn sends(&self, n: u64) {
        let target = self.sent() + n;
        let flowed =
            crate::wait_until(Duration::from_secs(60), || async { self.sent() >= target }).await;
        assert!(flowed.is_some(), "the pump stalled below {target} frames");
    }

    /// Stops sending; returns how many were sent.
    pub async fn stop(mut self) -> u64 {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        self.sent()
    }
}

/// Rows of messages the pump with `prefix` wrote: `(rows, distinct contents)`.
pub async fn stored(pool: &sqlx::PgPool, prefix: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(DISTINCT content) FROM orchestrator_messages
          WHERE orchestrator_id LIKE $1 || '-%' AND source = 'orchestrator'",
    )
    .bind(prefix)
    .fetch_one(pool)
    .await
    .expect("count messages")
}

/// Seconds of a fault run: `MOOLAI_FAULT_SECS`, else `default` (CI's short run).
pub fn fault_secs(default: u64) -> u64 {
    std::env::var("MOOLAI_FAULT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A number from the environment, else `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
