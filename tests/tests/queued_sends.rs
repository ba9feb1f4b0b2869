//! `POST …/send?expires_in_sec=N` (issue 15): a frame for an orchestrator that is
//! not connected waits for its next handshake, is delivered once, oldest first,
//! and never after it expired; `GET …/sends` tells which is which.
//!
//! "Not delivered" is proven without sleeping: once core has logged the
//! handshake's welcome (queued sends go out before that line), a live frame is
//! sent and must arrive with no queued frame before it.

use std::time::Duration;

use moolai_tests::api::{admin_stack, register, Api, I};
use moolai_tests::assertions::{assert_422, time};
use moolai_tests::wait_until;
use moolai_tests::ws::{connect_as, next_json, Ws};
use moolai_tests::Stack;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

/// How many lines of the cluster log read `text` exactly.
async fn log_count(api: &Api, text: &str) -> usize {
    let q: String = text
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (_, v) = api.get(&format!("{I}/logs?q={q}&limit=1000")).await;
    v["data"]["items"]
        .as_array()
        .map(|items| items.iter().filter(|i| i["message"] == text).count())
        .unwrap_or(0)
}

/// `POST …/send` of `frame` to `id`, with `query` appended.
async fn send(api: &Api, id: &str, query: &str, frame: Value) -> (u16, Value) {
    let (status, v) = api
        .post(&format!("{I}/orchestrators/{id}/send{query}"), frame)
        .await;
    (status.as_u16(), v)
}

/// The listing of `id`'s queued sends.
async fn sends(api: &Api, id: &str) -> Vec<Value> {
    let (status, v) = api.get(&format!("{I}/orchestrators/{id}/sends")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["success"], true, "{v}");
    v["sends"].as_array().expect("sends").clone()
}

/// Connects `id` (the handshake_ack first) and waits until core has logged its
/// welcome for the `n`th time: whatever was queued for it has been published.
async fn connect_welcomed(stack: &Stack, api: &Api, id: &str, n: usize) -> Ws {
    let ws = connect_as(&stack.edge.ws_url(), id, true).await;
    let line = format!("[C-OCS] Initial provisioning sent to {id}");
    let welcomed = wait_until(WAIT, || async { log_count(api, &line).await >= n }).await;
    assert!(welcomed.is_some(), "{id}: welcome #{n} never logged");
    ws
}

/// Sends a live frame of type `marker` and returns the types of the frames the
/// socket got before it.
async fn frames_before_live_one(api: &Api, ws: &mut Ws, id: &str, marker: &str) -> Vec<String> {
    let (status, v) = send(api, id, "", json!({"type": marker})).await;
    assert_eq!(status, 200, "live send: {v}");
    let mut before = Vec::new();
    loop {
        let frame = next_json(ws).await;
        let kind = frame["type"].as_str().unwrap_or_default().to_owned();
        if kind == marker {
            return before;
        }
        before.push(kind);
    }
}

// ---- tests ----

#[tokio::test]
async fn a_send_queued_while_offline_is_delivered_after_the_next_handshake_once() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "qs-1", "qs-1").await;

    let mut ids = Vec::new();
    for kind in ["qs_first", "qs_second"] {
        let frame = json!({"type": kind, "data": {"n": [1, 2]}});
        let (status, v) = send(&api, "qs-1", "?expires_in_sec=3600", frame).await;
        assert_eq!(status, 202, "{v}");
        assert_eq!(v["success"], true, "{v}");
        assert!(v["message"].is_string(), "{v}");
        let data = &v["data"];
        assert_eq!(
            (&data["type"], &data["status"]),
            (&json!(kind), &json!("queued"))
        );
        let left = time(&data["expires_at"]).with_timezone(&chrono::Utc) - chrono::Utc::now();
        assert!((3500..=3600).contains(&left.num_seconds()), "{v}");
        let id = data["id"].as_str().expect("id").to_owned();
        assert!(id.starts_with("send_"), "{id}");
        ids.push(id);
    }
    let listed = sends(&api, "qs-1").await;
    let listed_ids: Vec<_> = listed.iter().map(|s| s["id"].clone()).collect();
    assert_eq!(listed_ids, [json!(ids[1]), json!(ids[0])], "newest first");
    assert!(listed.iter().all(|s| s["status"] == "queued"), "{listed:?}");
    assert_eq!(listed[0]["created_by"], "admin");
    assert_eq!(
        listed[0]["frame"],
        json!({"type": "qs_second", "data": {"n": [1, 2]}})
    );
    assert!(listed[0]["delivered_at"].is_null());

    let (_, audit) = api.get(&format!("{I}/audit?action=send")).await;
    let entries = audit["items"]
        .as_array()
        .or(audit["data"]["items"].as_array());
    let queued = entries
        .into_iter()
        .flatten()
        .filter(|e| e["detail"]["queued"] == true && e["target"] == "qs-1")
        .count();
    assert_eq!(queued, 2, "audit: {audit}");

    // Connected: both arrive after the ack, oldest first.
    let mut ws = connect_welcomed(&stack, &api, "qs-1", 1).await;
    let before = frames_before_live_one(&api, &mut ws, "qs-1", "live_one").await;
    let queued: Vec<_> = before.iter().filter(|k| k.starts_with("qs_")).collect();
    assert_eq!(queued, ["qs_first", "qs_second"], "frames: {before:?}");
    let listed = sends(&api, "qs-1").await;
    for s in &listed {
        assert_eq!(s["status"], "delivered", "{s}");
        assert!(time(&s["delivered_at"]) >= time(&s["created_at"]), "{s}");
    }
    let sent = "Sent message to orchestrator qs-1 (type: qs_first)";
    assert_eq!(log_count(&api, sent).await, 1);

    // Back again: nothing queued is delivered a second time.
    drop(ws);
    let mut ws = connect_welcomed(&stack, &api, "qs-1", 2).await;
    let before = frames_before_live_one(&api, &mut ws, "qs-1", "live_two").await;
    assert!(
        !before.iter().any(|k| k.starts_with("qs_")),
        "delivered twice: {before:?}"
    );
    assert_eq!(log_count(&api, sent).await, 1, "logged twice");

    // Connected with an expiry: sent now (200), nothing queued.
    let (status, v) = send(
        &api,
        "qs-1",
        "?expires_in_sec=60",
        json!({"type": "qs_now"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let before = frames_before_live_one(&api, &mut ws, "qs-1", "live_three").await;
    assert_eq!(
        before.iter().filter(|k| *k == "qs_now").count(),
        1,
        "{before:?}"
    );
    assert_eq!(sends(&api, "qs-1").await.len(), 2);
}

#[tokio::test]
async fn a_send_that_expired_unsent_is_never_delivered() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "qs-exp", "qs-exp").await;
    let (status, v) = send(
        &api,
        "qs-exp",
        "?expires_in_sec=1",
        json!({"type": "qs_stale"}),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    let expired = wait_until(WAIT, || async {
        sends(&api, "qs-exp").await[0]["status"] == "expired"
    })
    .await;
    assert!(expired.is_some(), "never listed as expired");

    let mut ws = connect_welcomed(&stack, &api, "qs-exp", 1).await;
    let before = frames_before_live_one(&api, &mut ws, "qs-exp", "live_one").await;
    assert!(
        !before.contains(&"qs_stale".to_owned()),
        "expired send delivered: {before:?}"
    );
    let listed = sends(&api, "qs-exp").await;
    assert_eq!(listed[0]["status"], "expired", "{listed:?}");
    assert!(listed[0]["delivered_at"].is_null());
}

#[tokio::test]
async fn a_bad_expiry_is_422_and_an_unknown_orchestrator_404() {
    let (_env, _stack, api) = admin_stack().await;
    register(&api, "qs-bad", "qs-bad").await;
    let frame = json!({"type": "qs_x"});
    for bad in [
        "0",
        "-5",
        "2592001",
        "99999999999999999999",
        "soon",
        "1.5",
        "",
    ] {
        assert_422(
            &api,
            Method::POST,
            &format!("{I}/orchestrators/qs-bad/send?expires_in_sec={bad}"),
            Some(frame.clone()),
            "expires_in_sec",
        )
        .await;
    }
    assert!(sends(&api, "qs-bad").await.is_empty());

    // Unknown: 404 with or without an expiry; known but offline without one: 404.
    for query in ["", "?expires_in_sec=60"] {
        let (status, v) = send(&api, "qs-nobody", query, frame.clone()).await;
        assert_eq!(status, 404, "unknown{query}: {v}");
    }
    let (status, v) = send(&api, "qs-bad", "", frame.clone()).await;
    assert_eq!(status, 404, "offline without expiry: {v}");
    let (status, v) = api.get(&format!("{I}/orchestrators/qs-nobody/sends")).await;
    assert_eq!(status, 404, "{v}");
    // The maximum is accepted.
    let (status, v) = send(&api, "qs-bad", "?expires_in_sec=2592000", frame).await;
    assert_eq!(status, 202, "{v}");
}
