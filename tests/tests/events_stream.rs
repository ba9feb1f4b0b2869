//! The dashboard's event stream: changes arrive as they happen, and it needs a token.

use std::time::Duration;

use moolai_tests::api::{Api, I};
use moolai_tests::ws::connect_as;
use moolai_tests::TestEnv;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens `/api/v1/events` with `token` as `access_token` and returns the stream
/// positioned after the response headers, plus the status code.
async fn open_stream(addr: std::net::SocketAddr, token: &str) -> (u16, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /api/v1/events?access_token={token} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, stream)
}

/// Reads the stream until `needle` appears or `limit` passes.
async fn read_until(stream: &mut TcpStream, needle: &str, limit: Duration) -> bool {
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                if seen.contains(needle) {
                    return true;
                }
            }
            _ => return false,
        }
    }
    false
}

#[tokio::test]
async fn the_event_stream_reports_changes_within_two_seconds_and_stats_every_second() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    let token = moolai_tests::api::admin_token(stack.core.addr).await;
    let (status, mut stream) = open_stream(stack.core.addr, &token).await;
    assert_eq!(status, 200);
    assert!(
        read_until(&mut stream, "event: stats", Duration::from_secs(3)).await,
        "no stats event"
    );

    let _sock = connect_as(&stack.edge.ws_url(), "sse-1", true).await;
    assert!(
        read_until(
            &mut stream,
            "\"orchestrator_id\":\"sse-1\"",
            Duration::from_secs(2)
        )
        .await,
        "the handshake did not reach the event stream within 2 s"
    );
    let stored = moolai_tests::wait_until(Duration::from_secs(5), || async {
        env.status("sse-1").await.is_some()
    })
    .await;
    assert!(stored.is_some());
    let (code, _) = api
        .put(
            &format!("{I}/orchestrators/sse-1/independence"),
            json!({"is_independent": true}),
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        read_until(
            &mut stream,
            "\"type\":\"independence\"",
            Duration::from_secs(2)
        )
        .await,
        "the independence change did not reach the event stream within 2 s"
    );
}

#[tokio::test]
async fn the_event_stream_needs_a_valid_token() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let (status, _) = open_stream(stack.core.addr, "not-a-token").await;
    assert_eq!(status, 403);
    let (code, _) = moolai_tests::http::get(stack.core.addr, "/api/v1/events")
        .await
        .unwrap();
    assert_eq!(code, 401);
}

#[tokio::test]
async fn an_open_event_stream_does_not_hold_up_a_graceful_stop() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let token = moolai_tests::api::admin_token(stack.core.addr).await;
    let (status, mut stream) = open_stream(stack.core.addr, &token).await;
    assert_eq!(status, 200);
    let started = tokio::time::Instant::now();
    stack.core.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "core took {:?} to stop with a dashboard open",
        started.elapsed()
    );
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the event stream stayed open after shutdown");
}
