//! `GET /api/v1/events`: a Server-Sent Events stream for the dashboard, so that it
//! shows changes within a second or two instead of polling. Events:
//! - `stats_history`: first, once: `{window_sec, points: [...]}`, the last two
//!   minutes of `stats` points, so a page that opens charts them at once;
//! - `stats`: every second, a [`crate::fleet::rates::StatsPoint`] (rates smoothed over
//!   30 s, received = processed + ignored);
//! - `activity`: each entry of the activity feed as it happens (handshake,
//!   disconnect, stale, provision, message_sent, independence, message_created, …).
//!
//! Also `GET /api/v1/controller/last-seen`, answered from memory, which the
//! dashboard polls for the few orchestrators on screen.
//!
//! Browsers' `EventSource` cannot send headers, so the token may also come as
//! `?access_token=`.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use chrono::{DateTime, Utc};
use futures::Stream;
use moolai_proto::OrchestratorId;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use crate::api::error::{ApiError, FieldError};
use crate::api::extract::Params;
use crate::api::extract::{Reader, StreamAdmin};
use crate::api::AppState;
use crate::fleet::rates;

#[utoipa::path(get, operation_id = "events", path = "/api/v1/events", tag = "dashboard", security(("bearer" = [])),
    params(("access_token" = Option<String>, Query, description = "The session token, for clients that cannot send headers")),
    responses((status = 200, description = "text/event-stream: `stats_history` once, then `activity` and `stats` events"), (status = 401, description = "No token"), (status = 403, description = "Invalid token")))]
pub async fn events(
    State(state): State<AppState>,
    admin: StreamAdmin,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let activity = BroadcastStream::new(state.feed.subscribe())
        .filter_map(|entry| entry.ok())
        .map(|entry| event("activity", &entry));
    // Subscribed before the history is read, so no point falls between them.
    let stats = BroadcastStream::new(state.rates.subscribe())
        .filter_map(|point| point.ok())
        .map(|point| event("stats", &point));
    let history = StatsHistory {
        points: state.rates.history(),
        window_sec: rates::WINDOW.as_secs(),
    };
    let first = tokio_stream::once(event("stats_history", &history));
    // The stream ends with the server, or a graceful shutdown would wait for every
    // open dashboard; and with its session (logged out, expired, password changed).
    let shutdown = state.shutdown.clone().cancelled_owned();
    let ended = session_ended(state.clone(), admin.session);
    let end = async move {
        tokio::select! {
            _ = shutdown => {},
            _ = ended => {},
        }
    };
    let events = futures::StreamExt::take_until(first.chain(activity.merge(stats)), end);
    Sse::new(events.map(Ok)).keep_alive(KeepAlive::default())
}

/// How often an open stream checks that its session still is.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Resolves once the session is no longer open (never for the development
/// token). The database is asked, so a logout through another core counts too;
/// an unreachable database does not end the stream.
async fn session_ended(state: AppState, session: Option<String>) {
    let Some(hash) = session else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(SESSION_CHECK).await;
        let open: Result<Option<bool>, sqlx::Error> = sqlx::query_scalar(
            "SELECT revoked_at IS NULL AND expires_at > now() FROM sessions WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&state.pool)
        .await;
        if let Ok(None | Some(false)) = open {
            return;
        }
    }
}

/// The `stats_history` event: the points the stream starts with, oldest first.
/// Declared for the OpenAPI document although it travels over the stream; its
/// fields are in alphabetical order, as the stream has always sent them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsHistory {
    pub points: Vec<rates::StatsPoint>,
    /// The averaging window of the rates, in seconds.
    pub window_sec: u64,
}

fn event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_default()
}

/// At most this many ids per call: a page shows a few dozen orchestrators.
pub const LAST_SEEN_MAX: usize = 200;

/// `?ids=a,b,c`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LastSeenQuery {
    /// Comma-separated orchestrator ids (at most 200).
    pub ids: String,
}

/// When core last processed a heartbeat of one orchestrator.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LastSeen {
    pub connected: bool,
    /// The last processed heartbeat of the current connection (null before the
    /// first one, or when not connected).
    #[schema(required = true)]
    pub last_keepalive: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub connected_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/controller/last-seen`: each asked id's [`LastSeen`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LastSeenMap {
    pub success: bool,
    pub data: BTreeMap<String, LastSeen>,
    pub timestamp: DateTime<Utc>,
}

#[utoipa::path(get, operation_id = "last_seen", path = "/api/v1/controller/last-seen", tag = "dashboard", security(("bearer" = [])),
    params(LastSeenQuery),
    responses((status = 200, description = "From core's memory; unknown ids are not connected", body = LastSeenMap),
              (status = 422, description = "No ids, more than 200, or an invalid id")))]
pub async fn last_seen(
    State(state): State<AppState>,
    _: Reader,
    Params(q): Params<LastSeenQuery>,
) -> Result<Json<LastSeenMap>, ApiError> {
    let invalid = |msg: &str| {
        ApiError::Invalid(vec![FieldError {
            loc: vec!["query".into(), "ids".into()],
            msg: msg.into(),
            kind: "value_error".into(),
        }])
    };
    let raw: Vec<&str> = q.ids.split(',').filter(|s| !s.is_empty()).collect();
    if raw.is_empty() || raw.len() > LAST_SEEN_MAX {
        return Err(invalid("between 1 and 200 comma-separated ids"));
    }
    let mut out = BTreeMap::new();
    for raw in raw {
        let id = OrchestratorId::parse(raw).map_err(|_| invalid("invalid orchestrator id"))?;
        let conn = state.live.connection(&id);
        out.insert(
            raw.to_owned(),
            LastSeen {
                connected: conn.is_some(),
                last_keepalive: conn.as_ref().and_then(|c| c.last_keepalive),
                connected_at: conn.as_ref().map(|c| c.connected_at),
            },
        );
    }
    Ok(Json(LastSeenMap {
        success: true,
        data: out,
        timestamp: Utc::now(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream sent a `json!` object before the type existed: same bytes now.
    #[test]
    fn stats_history_keeps_its_wire() {
        let history = StatsHistory {
            points: Vec::new(),
            window_sec: rates::WINDOW.as_secs(),
        };
        let text = serde_json::to_string(&history).unwrap();
        assert_eq!(text, r#"{"points":[],"window_sec":30}"#);
    }
}
