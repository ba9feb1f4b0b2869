//! `GET /api/v1/events`: a Server-Sent Events stream for the dashboard, so that it
//! shows changes within a second or two instead of polling. Events:
//! - `activity`: each entry of the activity feed as it happens (handshake,
//!   disconnect, stale, provision, message_sent, independence, message_created, …);
//! - `stats`: every second, `{connected_now, heartbeats_per_sec, edges_up}`.
//!
//! Browsers' `EventSource` cannot send headers, so the token may also come as
//! `?access_token=`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::json;
use tokio::time::Instant;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};
use tokio_stream::StreamExt;

use super::auth::StreamAdmin;
use super::AppState;

#[utoipa::path(get, path = "/api/v1/events", tag = "dashboard", security(("bearer" = [])),
    params(("access_token" = Option<String>, Query, description = "The session token, for clients that cannot send headers")),
    responses((status = 200, description = "text/event-stream of `activity` and `stats` events"), (status = 401, description = "No token"), (status = 403, description = "Invalid token")))]
pub async fn events(
    State(state): State<AppState>,
    _: StreamAdmin,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let state_shutdown = state.shutdown.clone();
    let activity = BroadcastStream::new(state.feed.subscribe())
        .filter_map(|entry| entry.ok())
        .map(|entry| {
            Event::default()
                .event("activity")
                .json_data(entry)
                .unwrap_or_default()
        });
    let mut last = (state.live.heartbeats_processed(), Instant::now());
    let stats = IntervalStream::new(tokio::time::interval(Duration::from_secs(1))).map(move |_| {
        let count = state.live.heartbeats_processed();
        let rate = (count - last.0) as f64 / last.1.elapsed().as_secs_f64().max(1e-3);
        last = (count, Instant::now());
        let data = json!({
            "connected_now": state.live.connected(),
            "heartbeats_per_sec": rate,
            "edges_up": state.edges.up().len(),
        });
        Event::default()
            .event("stats")
            .json_data(data)
            .unwrap_or_default()
    });
    // The stream ends with the server, or a graceful shutdown would wait for every
    // open dashboard.
    let events =
        futures::StreamExt::take_until(activity.merge(stats), state_shutdown.cancelled_owned());
    Sse::new(events.map(Ok)).keep_alive(KeepAlive::default())
}
