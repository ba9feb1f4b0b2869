//! Input the database cannot hold is refused where it enters, with a reason the
//! client can read: NUL in a query filter is a 422 (not a 500 from PostgreSQL), and
//! a handshake the persister could not store is closed before its ack (not
//! acknowledged and then dead-lettered). Frames before the handshake count
//! against the frame rate like any other.

use std::time::Duration;

use futures::SinkExt;
use moolai_tests::api::{C, I};
use moolai_tests::ws::{self, expect_close, send_json};
use moolai_tests::{start_edge, TestEnv};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn nul_in_a_query_filter_is_a_422_naming_the_parameter() {
    let (_env, stack, api) = moolai_tests::api::admin_stack().await;
    for (path, name) in [
        (format!("{C}/organizations?q=a%00b"), "q"),
        (
            format!("{C}/orchestrators?organization_id=org%00"),
            "organization_id",
        ),
        (format!("{I}/audit?action=login%00"), "action"),
        (format!("{I}/audit?actor=%00admin"), "actor"),
        (format!("{I}/logs?q=%00"), "q"),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", name]),
            "{path}: {body}"
        );
    }
    // The same filters without the NUL are answered.
    let (status, body) = api.get(&format!("{I}/audit?actor=admin")).await;
    assert_eq!(status, 200, "{body}");
    drop(stack);
}

/// A handshake of `id` with `metadata` changed by `change`.
fn handshake_with(id: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut frame = ws::handshake(id, true);
    change(&mut frame["data"]["metadata"]);
    frame
}

#[tokio::test]
async fn a_handshake_the_database_cannot_hold_is_refused_before_its_ack() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let cases = [
        (
            handshake_with("long-name", |m| m["name"] = json!("n".repeat(256))),
            "invalid_metadata: name over 255 characters",
        ),
        (
            handshake_with("long-place", |m| m["location"] = json!("ü".repeat(256))),
            "invalid_metadata: location over 255 characters",
        ),
        (
            handshake_with("nul-value", |m| {
                m["features"] = json!({"cache": {"note": "a\u{0}b"}})
            }),
            "invalid_metadata: NUL character in metadata",
        ),
        (
            handshake_with("nul-key", |m| m["a\u{0}"] = json!(1)),
            "invalid_metadata: NUL character in metadata",
        ),
        (
            handshake_with("huge-interval", |m| {
                m["heartbeat_interval_sec"] = json!(1e308)
            }),
            "invalid_metadata: heartbeat_interval_sec not a number of seconds in (0, 3600]",
        ),
        (
            handshake_with("zero-interval", |m| m["heartbeat_interval_sec"] = json!(0)),
            "invalid_metadata: heartbeat_interval_sec not a number of seconds in (0, 3600]",
        ),
    ];
    for (frame, reason) in &cases {
        let mut sock = ws::connect(&stack.edge.ws_url()).await;
        send_json(&mut sock, frame).await;
        // The close comes first: no handshake_ack before it.
        match ws::next(&mut sock).await {
            ws::Next::Closed(code, got) => assert_eq!((code, got.as_str()), (1008, *reason)),
            other => panic!("{reason}: expected a close, got {other:?}"),
        }
    }
    // The longest allowed values still get in; once that row is written, every
    // refused handshake would have been handled before it.
    let fine = handshake_with("just-fits", |m| {
        m["name"] = json!("n".repeat(255));
        m["heartbeat_interval_sec"] = json!(3600);
    });
    let mut sock = ws::connect(&stack.edge.ws_url()).await;
    send_json(&mut sock, &fine).await;
    assert_eq!(ws::next_json(&mut sock).await["type"], "handshake_ack");
    assert!(
        env.becomes_active("just-fits", Duration::from_secs(10))
            .await,
        "the valid handshake was not stored"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "a refused handshake created an organization");
    assert_eq!(
        dead_letters(stack.persister.addr).await,
        0.0,
        "something was dead-lettered"
    );
}

/// Messages the persister has dead-lettered, from its `/metrics` (one recorder
/// per process: no other test of this file sends anything it could refuse).
async fn dead_letters(persister: std::net::SocketAddr) -> f64 {
    let (status, text) = moolai_tests::http::get(persister, "/metrics")
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|line| line.strip_prefix("moolai_persister_dead_letters_total "))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn pings_before_the_handshake_count_against_the_frame_rate() {
    let env = TestEnv::new().await;
    let mut config = env.edge_config("edge-pings");
    config.max_frames_per_sec = 20;
    let edge = start_edge(config).await;
    let mut sock = ws::connect(&edge.ws_url()).await;
    for _ in 0..200 {
        if sock
            .send(Message::Ping(b"x".to_vec().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(expect_close(&mut sock).await, (1008, "rate_limited".into()));
    // A client within the rate, pinging before its handshake, gets in.
    let mut calm = ws::connect(&edge.ws_url()).await;
    for _ in 0..5 {
        calm.send(Message::Ping(b"x".to_vec().into()))
            .await
            .unwrap();
    }
    send_json(&mut calm, &ws::handshake("calm", true)).await;
    assert_eq!(ws::next_json(&mut calm).await["type"], "handshake_ack");
}
