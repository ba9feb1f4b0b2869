//! Admission control: how many handshakes an edge works on at once.
//!
//! A handshake is in progress from the accepted upgrade request until
//! `handshake_ack` is sent or the attempt ends; each holds a [`Pending`] guard
//! around one shared counter. When a reconnect storm brings more upgrades than
//! the edge (and the bus behind it) can answer promptly, those over
//! `EDGE_MAX_PENDING_HANDSHAKES` are answered at once with 503 and
//! `Retry-After: EDGE_RETRY_AFTER_SEC` instead of queueing into seconds; the
//! agent comes back after the hint plus jitter, on whichever edge is next in its
//! list. A refused request never enters the backlog, so the backlog never goes
//! past the bound and the hint is a fixed delay, not scaled.
//!
//! One orchestrator needs one socket, so one token may hold at most
//! [`PER_ORCHESTRATOR`] places: a holder of a single token cannot fill the
//! backlog and lock every other orchestrator out (issue 33).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use moolai_proto::OrchestratorId;

/// Handshakes in progress one orchestrator's token may hold: its reconnect may
/// overlap the attempt it gave up on, not more.
pub const PER_ORCHESTRATOR: u32 = 2;

/// The edge's handshakes in progress; cheap to clone (shared counters).
#[derive(Clone)]
pub struct Backlog {
    pending: Arc<AtomicU32>,
    per_id: Arc<DashMap<OrchestratorId, u32>>,
    bound: u32,
    retry_after_sec: u32,
}

/// One handshake in progress; leaves the backlog when dropped.
pub struct Pending {
    pending: Arc<AtomicU32>,
    /// The token's orchestrator, whose count this place also holds.
    held_for: Option<(Arc<DashMap<OrchestratorId, u32>>, OrchestratorId)>,
    admitted: std::time::Instant,
}

/// The token's orchestrator already has [`PER_ORCHESTRATOR`] handshakes in progress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0} handshakes of this orchestrator are in progress already (at most {PER_ORCHESTRATOR}); \
     finish or close one first"
)]
pub struct TooManyForOrchestrator(pub OrchestratorId);

impl IntoResponse for TooManyForOrchestrator {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"detail": self.to_string()});
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
    }
}

/// The backlog is full: come back after `retry_after_sec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{pending} handshakes in progress (bound {bound}); retry after {retry_after_sec} s")]
pub struct Busy {
    pub pending: u32,
    pub bound: u32,
    pub retry_after_sec: u32,
}

impl Backlog {
    /// A backlog of at most `bound` handshakes (0: unbounded).
    pub fn new(bound: u32, retry_after_sec: u32) -> Self {
        Self {
            pending: Arc::default(),
            per_id: Arc::default(),
            bound,
            retry_after_sec,
        }
    }

    /// A place for a handshake of the orchestrator `id`'s token: refused while
    /// that token holds [`PER_ORCHESTRATOR`] places, else as [`Backlog::enter`].
    pub fn enter_for(&self, id: &OrchestratorId) -> Result<Pending, Refused> {
        {
            let mut held = self.per_id.entry(id.clone()).or_insert(0);
            if *held >= PER_ORCHESTRATOR {
                metrics::counter!("moolai_edge_handshakes_refused_total", "reason" => "per_orchestrator")
                    .increment(1);
                return Err(Refused::Orchestrator(TooManyForOrchestrator(id.clone())));
            }
            *held += 1;
        }
        let held_for = Some((self.per_id.clone(), id.clone()));
        match self.enter() {
            Ok(mut pending) => {
                pending.held_for = held_for;
                Ok(pending)
            }
            Err(busy) => {
                release(held_for);
                Err(Refused::Busy(busy))
            }
        }
    }

    /// Takes a place in the backlog, or says when to come back.
    pub fn enter(&self) -> Result<Pending, Busy> {
        let before = self.pending.fetch_add(1, Ordering::AcqRel);
        if self.bound > 0 && before >= self.bound {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("moolai_edge_handshakes_refused_total", "reason" => "backlog")
                .increment(1);
            return Err(Busy {
                pending: before,
                bound: self.bound,
                retry_after_sec: self.retry_after_sec,
            });
        }
        metrics::gauge!("moolai_edge_handshakes_pending").set(f64::from(before + 1));
        Ok(Pending {
            pending: self.pending.clone(),
            held_for: None,
            admitted: std::time::Instant::now(),
        })
    }

    /// Handshakes in progress now.
    pub fn pending(&self) -> u32 {
        self.pending.load(Ordering::Acquire)
    }

    /// The delay hint refused clients get, in seconds.
    pub fn retry_after_sec(&self) -> u32 {
        self.retry_after_sec
    }

    /// A close reason carrying the delay hint in the form agents parse:
    /// `try_again_later retry_after=1`.
    pub fn hinted(&self, reason: &str) -> String {
        format!("{reason} retry_after={}", self.retry_after_sec)
    }
}

impl Pending {
    /// How long ago this handshake was admitted.
    pub fn age(&self) -> std::time::Duration {
        self.admitted.elapsed()
    }
}

/// Why [`Backlog::enter_for`] refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Busy(Busy),
    #[error(transparent)]
    Orchestrator(TooManyForOrchestrator),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Busy(busy) => busy.into_response(),
            Self::Orchestrator(too_many) => too_many.into_response(),
        }
    }
}

/// Gives an orchestrator's place back, forgetting it at zero.
fn release(held_for: Option<(Arc<DashMap<OrchestratorId, u32>>, OrchestratorId)>) {
    if let Some((per_id, id)) = held_for {
        per_id.remove_if_mut(&id, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        release(self.held_for.take());
        let before = self.pending.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!("moolai_edge_handshakes_pending").set(f64::from(before.saturating_sub(1)));
    }
}

impl IntoResponse for Busy {
    /// 503 with `Retry-After` (whole seconds, RFC 9110 §10.2.3) and a short text.
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "edge busy: too many handshakes in progress; retry after {} s\n",
                self.retry_after_sec
            ),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after_sec));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_refuses_at_its_bound_and_frees_a_place_when_a_handshake_ends() {
        let backlog = Backlog::new(2, 3);
        let first = backlog.enter().unwrap();
        let _second = backlog.enter().unwrap();
        let busy = backlog.enter().err().unwrap();
        assert_eq!((busy.pending, busy.bound, busy.retry_after_sec), (2, 2, 3));
        assert_eq!(backlog.pending(), 2, "a refusal never enters the backlog");
        drop(first);
        assert_eq!(backlog.pending(), 1);
        assert!(backlog.enter().is_ok());
    }

    #[test]
    fn one_token_holds_at_most_its_share_of_the_backlog() {
        let backlog = Backlog::new(100, 1);
        let (a, b) = (
            OrchestratorId::parse("a").unwrap(),
            OrchestratorId::parse("b").unwrap(),
        );
        let first = backlog.enter_for(&a).unwrap();
        let _second = backlog.enter_for(&a).unwrap();
        let refused = backlog.enter_for(&a).err().unwrap();
        assert!(matches!(refused, Refused::Orchestrator(_)), "{refused}");
        assert_eq!(
            refused.into_response().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert!(
            backlog.enter_for(&b).is_ok(),
            "another orchestrator is not held back"
        );
        assert_eq!(backlog.pending(), 2, "a refusal never enters the backlog");
        drop(first);
        assert!(
            backlog.enter_for(&a).is_ok(),
            "a finished handshake gives its place back"
        );
    }

    #[test]
    fn a_full_backlog_gives_the_orchestrator_s_place_back() {
        let backlog = Backlog::new(1, 1);
        let _other = backlog.enter().unwrap();
        let a = OrchestratorId::parse("a").unwrap();
        for _ in 0..3 {
            assert!(matches!(backlog.enter_for(&a), Err(Refused::Busy(_))));
        }
        assert!(backlog.per_id.is_empty());
    }

    #[test]
    fn a_bound_of_zero_admits_everything() {
        let backlog = Backlog::new(0, 1);
        let held: Vec<_> = (0..1000).map(|_| backlog.enter().unwrap()).collect();
        assert_eq!(backlog.pending(), 1000);
        drop(held);
        assert_eq!(backlog.pending(), 0);
    }

    #[test]
    fn a_refusal_is_a_503_with_retry_after() {
        let busy = Backlog::new(1, 2);
        let _held = busy.enter().unwrap();
        let response = busy.enter().err().unwrap().into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            busy.hinted("try_again_later"),
            "try_again_later retry_after=2"
        );
    }
}
