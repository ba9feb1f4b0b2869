//! `GET /healthz`, `GET /readyz` and `GET /metrics`, the same for every role.
//!
//! `/healthz` says the process is up; `/readyz` runs the role's readiness check
//! (NATS connected, database reachable, ...) and answers 503 with the reason, so
//! an orchestrator of containers routes traffic only to a working node.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// A role's readiness check: `Err(reason)` when not ready.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The two routes, for merging into a role's router.
pub fn router(check: ReadinessCheck) -> Router {
    // Install the recorder now, before the role records anything.
    crate::metrics::handle();
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|| async { crate::metrics::handle().render() }),
        )
        .with_state(check)
}

async fn readyz(State(check): State<ReadinessCheck>) -> (StatusCode, Json<serde_json::Value>) {
    match check().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": reason})),
        ),
    }
}

/// `Err` unless the client is connected to a NATS server right now.
pub fn nats_ready(client: &async_nats::Client) -> Result<(), String> {
    match client.connection_state() {
        async_nats::connection::State::Connected => Ok(()),
        other => Err(format!("nats: {other:?}")),
    }
}

/// Readiness of a role that needs NATS and PostgreSQL.
#[cfg(feature = "postgres")]
pub fn nats_and_db(nats: async_nats::Client, pool: sqlx::PgPool) -> ReadinessCheck {
    Arc::new(move || {
        let (nats, pool) = (nats.clone(), pool.clone());
        Box::pin(async move {
            nats_ready(&nats)?;
            let ping = sqlx::query("SELECT 1").execute(&pool);
            match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(format!("database: {err}")),
                Err(_) => Err("database: no answer within 2 s".to_owned()),
            }
        })
    })
}
