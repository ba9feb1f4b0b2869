//! Verifies orchestrator tokens at upgrade, in memory: the signature with
//! `ORCHESTRATOR_TOKEN_SECRET`, the generation against the one core published in
//! the KV bucket (watched here, so a rotation or revocation takes effect at once on
//! every edge without a database round trip).

use std::sync::Arc;

use async_nats::jetstream::kv::{Operation, Store};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use dashmap::DashMap;
use futures::StreamExt;
use moolai_proto::{token, OrchestratorId};
use tokio_util::sync::CancellationToken;

/// Cheap to clone; the map is written by the watcher and read by upgrades.
#[derive(Clone)]
pub struct TokenCheck {
    secret: Arc<Vec<u8>>,
    generations: Arc<DashMap<String, u64>>,
}

/// Why an upgrade was refused (answered 401).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("orchestrator token required (Authorization: Bearer or ?token=)")]
    Missing,
    #[error("invalid orchestrator token")]
    Invalid,
    #[error("orchestrator token revoked or superseded")]
    Stale,
    #[error(
        "this is an enrollment token, not an orchestrator token: exchange it once at \
         POST /api/v1/enroll on core (the agent does with --enrollment-token)"
    )]
    Enrollment,
}

impl TokenCheck {
    pub fn new(secret: &str) -> Self {
        Self {
            secret: Arc::new(secret.as_bytes().to_vec()),
            generations: Arc::default(),
        }
    }

    /// Follows the generations bucket until `shutdown` (initial values first).
    pub async fn watch(self, kv: Store, shutdown: CancellationToken) {
        let mut updates = match kv.watch_all().await {
            Ok(w) => w,
            Err(err) => {
                tracing::error!(%err, "cannot watch token generations; every token will be refused");
                return;
            }
        };
        loop {
            let entry = tokio::select! {
                _ = shutdown.cancelled() => return,
                entry = updates.next() => entry,
            };
            match entry {
                Some(Ok(e)) if e.operation == Operation::Put => {
                    if let Ok(generation) = String::from_utf8_lossy(&e.value).parse() {
                        self.generations.insert(e.key, generation);
                    }
                }
                Some(Ok(e)) => {
                    self.generations.remove(&e.key);
                }
                Some(Err(err)) => tracing::warn!(%err, "token generation watch hiccup"),
                None => return,
            }
        }
    }

    /// The orchestrator the request's token speaks for.
    pub fn check(&self, parts: &Parts) -> Result<OrchestratorId, Refusal> {
        let raw = token_of(parts).ok_or(Refusal::Missing)?;
        if raw.starts_with("me1.") {
            return Err(Refusal::Enrollment);
        }
        let (id, generation) = token::verify(&self.secret, &raw).map_err(|_| Refusal::Invalid)?;
        match self.generations.get(id.as_str()) {
            Some(current) if *current == generation => Ok(id),
            _ => Err(Refusal::Stale),
        }
    }
}

/// `Authorization: Bearer <t>`, or `?token=<t>` for the first-version client, which
/// can only put it in `CONTROLLER_WS_URL`.
fn token_of(parts: &Parts) -> Option<String> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(t) = header.and_then(|h| h.strip_prefix("Bearer ")) {
        return Some(t.trim().to_owned());
    }
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}
