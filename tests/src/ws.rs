//! A raw WebSocket test client: frames in, frames out, close codes observed.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for any one frame.
pub const FRAME_WAIT: Duration = Duration::from_secs(5);

pub async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connect");
    ws
}

/// A handshake frame as the first version's client sends it, optionally announcing
/// that it understands `provision_config`.
pub fn handshake(id: &str, capable: bool) -> Value {
    let mut metadata = json!({
        "version": "1.0.0", "hostname": "test", "ip": "127.0.0.1", "ssl_enabled": false,
        "name": format!("Org {id}"), "location": "lab", "features": {"cache": {"enabled": true}}
    });
    if capable {
        metadata["capabilities"] = json!(["provision_config"]);
    }
    json!({"type": "handshake", "service": "orchestrator",
           "data": {"orchestrator_id": id, "metadata": metadata},
           "timestamp": "2026-11-22T21:26:50.599223+00:00"})
}

pub async fn send_json(ws: &mut Ws, value: &Value) {
    ws.send(Message::text(value.to_string()))
        .await
        .expect("send");
}

pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_owned())).await.expect("send");
}

/// What the server sent next.
#[derive(Debug, PartialEq)]
pub enum Next {
    Json(Value),
    Closed(u16, String),
    Gone,
}

/// The next text frame (as JSON) or close, skipping pings and pongs.
pub async fn next(ws: &mut Ws) -> Next {
    next_within(ws, FRAME_WAIT).await
}

/// [`next`], waiting up to `limit` (for what comes later by design, such as a
/// resend after a timeout).
pub async fn next_within(ws: &mut Ws, limit: Duration) -> Next {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return Next::Json(serde_json::from_str(t.as_str()).expect("server sent JSON"))
                }
                Some(Ok(Message::Close(Some(f)))) => {
                    return Next::Closed(f.code.into(), f.reason.to_string())
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Next::Gone,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .expect("server said nothing in time")
}

/// The next JSON frame, failing the test on anything else.
pub async fn next_json(ws: &mut Ws) -> Value {
    match next(ws).await {
        Next::Json(v) => v,
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// The next frame of the given `type`, skipping others (e.g. controller_heartbeat).
pub async fn next_of_type(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

/// [`next_of_type`] within `limit` in all.
pub async fn next_of_type_within(ws: &mut Ws, kind: &str, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_within(ws, left).await {
            Next::Json(v) if v["type"] == kind => return v,
            Next::Json(_) => {}
            other => panic!("expected a {kind} frame, got {other:?}"),
        }
    }
}

/// Waits for the close frame and returns its code and reason.
pub async fn expect_close(ws: &mut Ws) -> (u16, String) {
    loop {
        match next(ws).await {
            Next::Closed(code, reason) => return (code, reason),
            Next::Json(_) => continue,
            Next::Gone => panic!("connection dropped without a close frame"),
        }
    }
}

/// Connects, handshakes as `id`, and returns the socket after the ack.
pub async fn connect_as(url: &str, id: &str, capable: bool) -> Ws {
    let mut ws = connect(url).await;
    send_json(&mut ws, &handshake(id, capable)).await;
    let ack = next_json(&mut ws).await;
    assert_eq!(
        ack["type"], "handshake_ack",
        "first frame must be the ack: {ack}"
    );
    ws
}
