//! Verifies orchestrator tokens at upgrade, in memory: the signature with
//! `ORCHESTRATOR_TOKEN_SECRET`, the generation against the one core published in
//! the KV bucket (watched here, so a rotation or revocation takes effect at once on
//! every edge without a database round trip).
//!
//! A (re)started edge must know every stored generation before it judges a
//! token: the watch replays the last value of each key, then follows changes on
//! the same consumer, so nothing written in between is missed. Until the replay
//! is done the edge is not ready and refuses upgrades with 503 (issue 32: a
//! watch of changes only left a restarted edge refusing every existing token).
//! The watch is the edge's own named consumer ([`crate::token_watch`]), the
//! only consumer its NATS user may create.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::Store;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use dashmap::DashMap;
use futures::StreamExt;
use moolai_proto::{token, OrchestratorId};
use tokio_util::sync::CancellationToken;

use crate::token_watch::{self, Change};

/// Cheap to clone; the map is written by the watcher and read by upgrades.
#[derive(Clone)]
pub struct TokenCheck {
    secret: Arc<Vec<u8>>,
    generations: Arc<DashMap<String, u64>>,
    /// Set once every generation stored when the watch started is in the map.
    loaded: Arc<AtomicBool>,
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
            loaded: Arc::default(),
        }
    }

    /// Whether the stored generations are all known, so tokens can be judged.
    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Follows the generations bucket until `shutdown`: the stored value of every
    /// key first, then each change. `nats` is the connection `kv` was opened on.
    pub async fn watch(self, kv: Store, nats: async_nats::Client, shutdown: CancellationToken) {
        let updates = loop {
            match token_watch::open(&kv, &nats).await {
                Ok(w) => break w,
                Err(err) => {
                    tracing::error!(%err, "cannot watch token generations yet; refusing upgrades until it can");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        if updates.nothing_stored {
            self.mark_loaded();
        }
        let mut updates = std::pin::pin!(updates.changes);
        loop {
            let entry = tokio::select! {
                _ = shutdown.cancelled() => return,
                entry = updates.next() => entry,
            };
            match entry {
                Some(Ok(e)) => {
                    // `delta`: how many of the replayed values are still to come.
                    let caught_up = e.delta == 0;
                    self.apply(e);
                    if caught_up {
                        self.mark_loaded();
                    }
                }
                Some(Err(err)) => tracing::warn!(%err, "token generation watch hiccup"),
                None => {
                    tracing::error!("token generation watch ended; new tokens will be refused");
                    return;
                }
            }
        }
    }

    fn apply(&self, e: Change) {
        let Some(value) = e.value else {
            self.generations.remove(&e.key);
            return;
        };
        match String::from_utf8_lossy(&value).parse() {
            Ok(generation) => {
                self.generations.insert(e.key, generation);
            }
            Err(_) => tracing::warn!(key = %e.key, "token generation is not a number; ignored"),
        }
    }

    fn mark_loaded(&self) {
        if !self.loaded.swap(true, Ordering::AcqRel) {
            tracing::info!(
                orchestrators = self.generations.len(),
                "token generations loaded; accepting upgrades"
            );
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
