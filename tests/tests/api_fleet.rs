//! The endpoints of docs/api.md that involve connected orchestrators: live view,
//! independence, feature pushes, send, deregister and the overview counts.

use std::time::Duration;

use moolai_tests::api::{admin_stack, Api, C, I};
use moolai_tests::assertions::{envelope, time};
use moolai_tests::barrier::Marker;
use moolai_tests::ws::{connect_as, expect_close, next_of_type, Ws};
use moolai_tests::{wait_until, Stack};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);

async fn register(api: &Api, id: &str) {
    let body = json!({"organization_id": id, "orchestrator_id": id, "name": format!("Name {id}")});
    let (status, v) = api.post(&format!("{I}/orchestrators/register"), body).await;
    assert_eq!(status, 200, "register {id}: {v}");
}

/// Connects `id` through the stack's edge and waits until core lists it as live
/// and the handshake's rows are stored (they are written asynchronously).
async fn connect_live(stack: &Stack, api: &Api, id: &str) -> Ws {
    let sock = connect_as(&stack.edge.ws_url(), id, true).await;
    let live = wait_until(WAIT, || async {
        api.get(&format!("{C}/orchestrators/live/{id}")).await.0 == 200
            && api.get(&format!("{C}/orchestrators/{id}")).await.1["data"]["status"] == "active"
            && api.get(&format!("{C}/organizations/{id}")).await.0 == 200
    })
    .await;
    assert!(live.is_some(), "{id} never became live, active and stored");
    sock
}

/// The item of `id` in the first page of `GET orchestrators`.
async fn listed(api: &Api, id: &str) -> Value {
    let (status, v) = api.get(&format!("{C}/orchestrators?page_size=500")).await;
    assert_eq!(status, 200, "{v}");
    let items = envelope(&v)["items"].as_array().expect("items").clone();
    items
        .into_iter()
        .find(|i| i["orchestrator_id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed in {v}"))
}

// ---- tests ----

#[tokio::test]
async fn a_connected_orchestrator_is_live_and_independence_shows_everywhere() {
    let (_env, stack, api) = admin_stack().await;
    let _sock = connect_live(&stack, &api, "live-1").await;
    register(&api, "live-2").await;
    let (status, v) = api.get(&format!("{C}/orchestrators/live")).await;
    assert_eq!(status, 200, "{v}");
    let data = envelope(&v);
    assert_eq!(data["total_count"], 1, "only live-1 is connected: {data}");
    let entry = &data["orchestrators"]["live-1"];
    assert!(entry.is_object(), "live map keyed by id: {data}");
    assert_eq!(entry["edge_id"], "edge-1");
    assert_eq!(entry["is_independent"], false);
    time(&entry["connected_at"]);
    assert!(entry.get("last_keepalive").is_some(), "{entry}");
    let (status, v) = api.get(&format!("{C}/orchestrators/live/live-1")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(envelope(&v)["edge_id"], "edge-1");
    for absent in ["live-2", "nobody", "a.b"] {
        let (status, v) = api.get(&format!("{C}/orchestrators/live/{absent}")).await;
        assert_eq!(status, 404, "{absent} is not connected: {v}");
    }
    let item = listed(&api, "live-1").await;
    assert_eq!(
        (&item["status"], &item["connected"]),
        (&json!("active"), &json!(true)),
        "{item}"
    );
    assert_eq!(item["edge_id"], "edge-1");

    let path = format!("{I}/orchestrators/live-1/independence");
    let (status, v) = api
        .put(&path, json!({"is_independent": true, "privacy_mode": true}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["success"], &v["orchestrator_id"]),
        (&json!(true), &json!("live-1"))
    );
    assert_eq!(
        (&v["is_independent"], &v["privacy_mode"]),
        (&json!(true), &json!(true))
    );
    let item = listed(&api, "live-1").await;
    assert_eq!(
        (&item["status"], &item["is_independent"]),
        (&json!("independent"), &json!(true))
    );
    let (_, v) = api.get(&format!("{C}/orchestrators/live-1")).await;
    assert_eq!(envelope(&v)["status"], "independent");
    let (status, v) = api.get(&path).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["is_independent"], &v["privacy_mode"], &v["status"]),
        (&json!(true), &json!(true), &json!("independent"))
    );
    time(&v["last_seen"]);
    let (_, v) = api.get(&format!("{C}/orchestrators/live")).await;
    let entry = &envelope(&v)["orchestrators"]["live-1"];
    assert_eq!(
        entry["is_independent"], true,
        "independent ones stay live: {v}"
    );

    // An omitted privacy_mode is kept.
    let (status, v) = api.put(&path, json!({"is_independent": false})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["is_independent"], &v["privacy_mode"]),
        (&json!(false), &json!(true))
    );
    let (_, v) = api.get(&path).await;
    assert_eq!(
        (&v["is_independent"], &v["privacy_mode"]),
        (&json!(false), &json!(true))
    );
    assert_ne!(v["status"], "independent");
    assert_ne!(listed(&api, "live-1").await["status"], "independent");

    for bad in [
        json!({"is_independent": "yes"}),
        json!({}),
        json!({"is_independent": true, "privacy_mode": 3}),
    ] {
        let (status, v) = api.put(&path, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {v}");
    }
    for id in ["nobody", "a.b"] {
        let other = format!("{I}/orchestrators/{id}/independence");
        assert_eq!(api.get(&other).await.0, 404, "GET independence of {id}");
        let (status, v) = api.put(&other, json!({"is_independent": true})).await;
        assert_eq!(status, 404, "PUT independence of {id}: {v}");
    }
}

#[tokio::test]
async fn feature_updates_merge_and_reach_the_connected_orchestrator() {
    let (_env, stack, api) = admin_stack().await;
    let mut sock = connect_live(&stack, &api, "feat-1").await;
    next_of_type(&mut sock, "provision_config").await; // the initial one
    let path = format!("{C}/organizations/feat-1/features");
    let features_of = |data: Value| -> Value {
        // `data` is the merged features, or the organization holding them.
        match data.get("features") {
            Some(f) if f.is_object() => f.clone(),
            _ => data,
        }
    };

    // A bare switch is stored in the one canonical shape (issue 11).
    let (status, v) = api.put(&path, json!({"features": {"a": true}})).await;
    assert_eq!(status, 200, "{v}");
    let merged = features_of(envelope(&v).clone());
    assert_eq!(merged["a"], json!({"enabled": true}), "{v}");
    let pushed = next_of_type(&mut sock, "provision_config").await;
    assert_eq!(pushed["data"]["features"], merged, "first push: {pushed}");

    // The features object itself is accepted too.
    let (status, v) = api
        .put(&path, json!({"b": {"enabled": false, "ttl": 2}}))
        .await;
    assert_eq!(status, 200, "{v}");
    let merged = features_of(envelope(&v).clone());
    assert_eq!(
        (&merged["a"], &merged["b"]),
        (
            &json!({"enabled": true}),
            &json!({"enabled": false, "ttl": 2})
        ),
        "not merged: {merged}"
    );
    let pushed = next_of_type(&mut sock, "provision_config").await;
    assert_eq!(pushed["data"]["features"], merged, "second push: {pushed}");
    for key in ["settings", "policies"] {
        assert!(pushed["data"][key].is_object(), "{key} in {pushed}");
    }
    let (_, v) = api.get(&format!("{C}/organizations/feat-1")).await;
    assert_eq!(envelope(&v)["features"], merged, "stored features");

    for id in ["nobody", "a.b"] {
        let (status, v) = api
            .put(
                &format!("{C}/organizations/{id}/features"),
                json!({"features": {"a": true}}),
            )
            .await;
        assert_eq!(status, 404, "features of {id}: {v}");
    }
    let (status, v) = api.put(&path, json!([1, 2])).await;
    assert_eq!(status, 422, "features must be an object: {v}");
}

#[tokio::test]
async fn send_delivers_exactly_the_given_frame_to_a_connected_orchestrator() {
    let (_env, stack, api) = admin_stack().await;
    let mut sock = connect_live(&stack, &api, "send-1").await;
    let frame = json!({"type": "custom_notice", "data": {"text": "hello", "n": [1, 2, 3]}});
    let (status, v) = api
        .post(&format!("{I}/orchestrators/send-1/send"), frame.clone())
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["success"], &v["message"]),
        (&json!(true), &json!("Message sent to send-1 successfully"))
    );
    let got = next_of_type(&mut sock, "custom_notice").await;
    assert_eq!(got["data"], frame["data"], "{got}");

    register(&api, "send-2").await;
    for id in ["send-2", "nobody", "a.b"] {
        let (status, v) = api
            .post(&format!("{I}/orchestrators/{id}/send"), frame.clone())
            .await;
        assert_eq!(status, 404, "send to unconnected {id}: {v}");
    }
    let (status, v) = api
        .post(
            &format!("{I}/orchestrators/send-1/send"),
            json!({"data": {}}),
        )
        .await;
    assert_eq!(status, 422, "frame without type: {v}");
}

#[tokio::test]
async fn deregister_closes_the_socket_and_deletes_messages_instance_and_organization() {
    let (env, stack, api) = admin_stack().await;
    let marker = Marker::connect(&env, &stack.edge.ws_url(), "marker-1").await;
    let mut sock = connect_live(&stack, &api, "dereg-1").await;
    let body = json!({"message_type": "monitoring", "content": "disk full"});
    let (status, v) = api
        .post(&format!("{I}/orchestrators/dereg-1/messages"), body)
        .await;
    assert_eq!(status, 200, "{v}");

    let (status, v) = api
        .delete(&format!("{I}/orchestrators/dereg-1/deregister"))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["success"], &v["message"]),
        (
            &json!(true),
            &json!("Orchestrator dereg-1 deregistered successfully")
        )
    );
    let _ = expect_close(&mut sock).await;
    // The disconnect that follows must not bring anything back.
    marker.disconnect_passes(&env).await;
    for path in [
        format!("{C}/orchestrators/dereg-1"),
        format!("{C}/organizations/dereg-1"),
        format!("{C}/orchestrators/live/dereg-1"),
        format!("{I}/orchestrators/dereg-1/independence"),
    ] {
        let (status, v) = api.get(&path).await;
        assert_eq!(status, 404, "{path} after deregister: {v}");
    }
    for table in [
        "SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1",
        "SELECT count(*) FROM orchestrator_instances WHERE orchestrator_id = $1",
        "SELECT count(*) FROM organizations WHERE organization_id = $1",
    ] {
        assert_eq!(
            env.scalar::<i64>(table, "dereg-1").await,
            Some(0),
            "{table}"
        );
    }
    for id in ["dereg-1", "nobody", "a.b"] {
        let (status, v) = api
            .delete(&format!("{I}/orchestrators/{id}/deregister"))
            .await;
        assert_eq!(status, 404, "deregister {id}: {v}");
    }
}

/// Keys that would be invented figures (the first dashboard's fake tiles).
fn invented_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if ["total_cost", "revenue", "total_users", "cost", "sales"].contains(&k.as_str()) {
                    out.push(k.clone());
                }
                invented_keys(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| invented_keys(i, out)),
        _ => {}
    }
}

#[tokio::test]
async fn overview_counts_what_exists_and_invents_nothing() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "ov-a").await;
    register(&api, "ov-b").await;
    let _sock = connect_live(&stack, &api, "ov-a").await;
    let (status, v) = api
        .put(
            &format!("{I}/orchestrators/ov-b/independence"),
            json!({"is_independent": true}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let body = json!({"message_type": "recommendation", "content": "cache more"});
    assert_eq!(
        api.post(&format!("{I}/orchestrators/ov-a/messages"), body)
            .await
            .0,
        200
    );

    let want = json!({
        "total_organizations": 2,
        "orchestrators": {"active": 1, "inactive": 0, "independent": 1, "total": 2},
        "connected_now": 1, "independent": 1, "pending_messages": 1, "edges_up": 1,
    });
    let matches = |data: &Value| want.as_object().unwrap().iter().all(|(k, w)| &data[k] == w);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (data, raw) = loop {
        let (status, v) = api.get(&format!("{C}/overview")).await;
        assert_eq!(status, 200, "{v}");
        let data = envelope(&v).clone();
        if matches(&data) || tokio::time::Instant::now() > deadline {
            break (data, v);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (key, expected) in want.as_object().unwrap() {
        assert_eq!(&data[key], expected, "overview {key}: {data}");
    }
    let mut invented = Vec::new();
    invented_keys(&raw, &mut invented);
    assert!(
        invented.is_empty(),
        "invented figures {invented:?} in {raw}"
    );
}
