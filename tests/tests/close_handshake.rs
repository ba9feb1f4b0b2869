//! Every close the edge starts completes the WebSocket closing handshake, even when
//! the client pipelined frames behind the one that got it closed: the client reads
//! the close frame and code, then a clean end of stream — never a TCP reset, which
//! would have thrown the close frame away unread.

use futures::{SinkExt, StreamExt};
use moolai_tests::ws::{self, handshake, Ws};
use moolai_tests::{start_edge, Running, TestEnv};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// What a client that did not wait for any answer reads afterwards.
#[derive(Debug)]
struct Answer {
    /// The `type` of each text frame, in order.
    frames: Vec<String>,
    close: (u16, String),
}

async fn edge(env: &TestEnv) -> Running {
    start_edge(env.edge_config("edge-close")).await
}

/// Reads until the end of the stream: the frames, then the close, then a clean
/// end. A read error (a reset) at any point fails the test with what came before.
async fn read_to_the_end(sock: &mut Ws) -> Answer {
    let read = async {
        let mut frames = Vec::new();
        let mut close = None;
        loop {
            match sock.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                    frames.push(v["type"].as_str().unwrap_or_default().to_owned());
                }
                Some(Ok(Message::Close(Some(f)))) => {
                    close = Some((u16::from(f.code), f.reason.to_string()))
                }
                Some(Ok(other)) => panic!("unexpected {other:?} (frames so far {frames:?})"),
                Some(Err(err)) => {
                    panic!("read failed: {err} (frames {frames:?}, close {close:?})")
                }
                None => {
                    let close = close.unwrap_or_else(|| panic!("ended without a close frame"));
                    return Answer { frames, close };
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the edge neither closed nor ended the stream")
}

/// Sends each frame without reading anything in between.
async fn pipeline(sock: &mut Ws, frames: Vec<Message>) {
    for frame in frames {
        sock.feed(frame).await.expect("send");
    }
    sock.flush().await.expect("flush");
}

fn snapshot_of(bytes: usize) -> Message {
    let frame = json!({"type": "o_config_snapshot", "data": {"blob": "x".repeat(bytes)}});
    Message::text(frame.to_string())
}

#[tokio::test]
async fn a_100_kib_frame_right_behind_the_handshake_gets_1009_not_a_reset() {
    let env = TestEnv::new().await;
    let edge = edge(&env).await;
    let mut sock = ws::connect(&edge.ws_url()).await;
    let hello = Message::text(handshake("org-pipelined", true).to_string());
    pipeline(&mut sock, vec![hello, snapshot_of(100 * 1024)]).await;
    let answer = read_to_the_end(&mut sock).await;
    assert_eq!(
        answer.frames.first().map(String::as_str),
        Some("handshake_ack")
    );
    assert_eq!(answer.close, (1009, "message_too_big".into()));
}

#[tokio::test]
async fn an_invalid_handshake_followed_by_more_frames_gets_1008_not_a_reset() {
    let env = TestEnv::new().await;
    let edge = edge(&env).await;
    let mut sock = ws::connect(&edge.ws_url()).await;
    let mut frames = vec![Message::text(r#"{"type":"i_am_alive"}"#)];
    // 400 KiB the edge will never look at, already on its way.
    frames.extend((0..40).map(|_| snapshot_of(10 * 1024)));
    pipeline(&mut sock, frames).await;
    let answer = read_to_the_end(&mut sock).await;
    assert!(
        answer.frames.is_empty(),
        "no frame before the close: {answer:?}"
    );
    assert_eq!(answer.close, (1008, "invalid_handshake".into()));
}

#[tokio::test]
async fn a_first_frame_over_64_kib_gets_1009() {
    let env = TestEnv::new().await;
    let edge = edge(&env).await;
    let mut sock = ws::connect(&edge.ws_url()).await;
    pipeline(&mut sock, vec![snapshot_of(200 * 1024)]).await;
    let answer = read_to_the_end(&mut sock).await;
    assert_eq!(answer.close, (1009, "message_too_big".into()));
}

#[tokio::test]
async fn a_binary_frame_followed_by_more_frames_gets_1003_not_a_reset() {
    let env = TestEnv::new().await;
    let edge = edge(&env).await;
    let mut sock = ws::connect(&edge.ws_url()).await;
    let mut frames = vec![
        Message::text(handshake("org-binary", true).to_string()),
        Message::binary(vec![0u8; 16]),
    ];
    frames.extend((0..40).map(|_| snapshot_of(10 * 1024)));
    pipeline(&mut sock, frames).await;
    let answer = read_to_the_end(&mut sock).await;
    assert_eq!(
        answer.frames.first().map(String::as_str),
        Some("handshake_ack")
    );
    assert_eq!(answer.close, (1003, "binary_not_supported".into()));
}
