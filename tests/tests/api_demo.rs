//! The demo of spec 004 ("Live Demo - Full Workflow", independence and messages)
//! as one test, with a static token (the demo's own `fake-dev-token` is too short
//! for `DEV_BEARER_TOKEN` since issue 12: at least 16 characters).

use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_tests::api::{Api, C, I};
use moolai_tests::barrier::Marker;
use moolai_tests::stacks::persister_and_core;
use moolai_tests::ws::{connect_as, expect_close, next_of_type, send_json};
use moolai_tests::{start_edge, wait_until, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);
const DEV_TOKEN: &str = "fake-dev-token-for-the-demo";
const LAST_SEEN: &str = "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1";

#[tokio::test]
async fn the_demo_walkthrough_works_end_to_end_with_the_dev_token() {
    let env = TestEnv::new().await;
    let (_persister, core) = persister_and_core(&env, |c| {
        c.dev_bearer_token = Some(DEV_TOKEN.to_owned().into())
    })
    .await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    // Every request carries the demo's `Authorization: Bearer $TOKEN`.
    let api = Api::new(core.addr, Some(DEV_TOKEN));
    let last_seen = || async { env.scalar::<DateTime<Utc>>(LAST_SEEN, "org-demo").await };

    // Step 1: create the organization; it is inactive and has never been seen.
    let body = json!({"orchestrator_id": "org-demo", "organization_id": "org-demo",
                      "name": "Demo Organization", "location": "live-demo"});
    let v = api
        .ok(
            Method::POST,
            &format!("{I}/orchestrators/register"),
            Some(body),
        )
        .await;
    assert_eq!(v["orchestrator_id"], "org-demo");
    assert_eq!(env.status("org-demo").await.as_deref(), Some("inactive"));
    assert_eq!(
        last_seen().await,
        None,
        "last_seen must be NULL before any connection"
    );
    let v = api
        .ok(Method::GET, &format!("{C}/orchestrators/org-demo"), None)
        .await;
    assert_eq!(v["data"]["status"], "inactive");

    // Another orchestrator on the same edge marks when earlier frames were handled.
    let mut marker = Marker::connect(&env, &edge.ws_url(), "org-marker").await;

    // Step 3: the orchestrator connects; status active, last_seen set, live.
    let mut sock = connect_as(&edge.ws_url(), "org-demo", true).await;
    next_of_type(&mut sock, "provision_config").await;
    let active = wait_until(WAIT, || async {
        env.status("org-demo").await.as_deref() == Some("active") && last_seen().await.is_some()
    })
    .await;
    assert!(active.is_some(), "never active with a last_seen");
    let live = wait_until(WAIT, || async {
        let (_, v) = api
            .call(Method::GET, &format!("{C}/orchestrators/live"), None)
            .await;
        v["data"]["orchestrators"]["org-demo"].is_object()
    })
    .await;
    assert!(
        live.is_some(),
        "org-demo never listed in orchestrators/live"
    );
    let v = api
        .ok(Method::GET, &format!("{C}/orchestrators/org-demo"), None)
        .await;
    assert_eq!(v["data"]["status"], "active");

    // A heartbeat is processed: last_seen moves.
    // Stamped at the edge when read, after `before` was stored and read back.
    let before = last_seen().await.unwrap();
    send_json(&mut sock, &json!({"type": "i_am_alive"})).await;
    let moved = wait_until(WAIT, || async {
        last_seen().await.is_some_and(|t| t > before)
    })
    .await;
    assert!(
        moved.is_some(),
        "a managed heartbeat did not move last_seen"
    );

    // Independence on: heartbeats still arrive but last_seen is frozen.
    let independence = format!("{I}/orchestrators/org-demo/independence");
    let on = json!({"is_independent": true, "privacy_mode": false});
    let v = api.ok(Method::PUT, &independence, Some(on)).await;
    assert_eq!(v["is_independent"], true);
    let frozen = last_seen().await.unwrap();
    for _ in 0..3 {
        send_json(&mut sock, &json!({"type": "i_am_alive"})).await;
    }
    marker.heartbeat_passes(&env).await;
    assert_eq!(
        last_seen().await,
        Some(frozen),
        "an independent heartbeat moved last_seen"
    );
    let v = api
        .ok(Method::GET, &format!("{C}/orchestrators/org-demo"), None)
        .await;
    assert_eq!(v["data"]["status"], "independent");
    let v = api.ok(Method::GET, &independence, None).await;
    assert_eq!(
        (&v["is_independent"], &v["status"]),
        (&json!(true), &json!("independent"))
    );
    let v = api
        .ok(Method::GET, &format!("{C}/orchestrators/live"), None)
        .await;
    assert_eq!(
        v["data"]["orchestrators"]["org-demo"]["is_independent"], true,
        "{v}"
    );

    // Independence off: the next heartbeat moves last_seen and the row is active.
    let off = json!({"is_independent": false, "privacy_mode": false});
    let v = api.ok(Method::PUT, &independence, Some(off)).await;
    assert_eq!(v["is_independent"], false);
    send_json(&mut sock, &json!({"type": "i_am_alive"})).await;
    let resumed = wait_until(WAIT, || async {
        last_seen().await.is_some_and(|t| t > frozen)
            && env.status("org-demo").await.as_deref() == Some("active")
    })
    .await;
    assert!(
        resumed.is_some(),
        "heartbeats not processed after independence off"
    );

    // Messages: a recommendation and a monitoring alert, listed, one accepted.
    let messages = format!("{I}/orchestrators/org-demo/messages");
    let rec = json!({"message_type": "recommendation",
        "content": "Consider enabling caching to improve performance by 40%",
        "metadata": {"severity": "medium", "category": "performance",
                     "estimated_impact": "40% faster response time"}});
    let alert = json!({"message_type": "monitoring",
        "content": "High memory usage detected: 85% of available RAM in use",
        "metadata": {"severity": "high", "metric": "memory_usage",
                     "current_value": "85%", "threshold": "80%"}});
    let rec_id = api.ok(Method::POST, &messages, Some(rec.clone())).await["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alert_id = api.ok(Method::POST, &messages, Some(alert)).await["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rec_id, alert_id);
    let v = api.ok(Method::GET, &messages, None).await;
    assert_eq!(v["total_count"], 2, "{v}");
    let listed = v["messages"].as_array().unwrap();
    let first = listed
        .iter()
        .find(|m| m["id"] == rec_id.as_str())
        .expect("recommendation");
    assert_eq!(
        (&first["content"], &first["metadata"]),
        (&rec["content"], &rec["metadata"])
    );
    assert_eq!(first["status"], "pending");
    let status_path = format!("{I}/messages/{rec_id}/status");
    let v = api
        .ok(
            Method::PUT,
            &status_path,
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(v["status"], "accepted");
    let v = api
        .ok(Method::GET, &format!("{messages}?status=accepted"), None)
        .await;
    let ids: Vec<&Value> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, vec![&json!(rec_id)]);
    let v = api
        .ok(Method::GET, &format!("{I}/messages?status=pending"), None)
        .await;
    let ids: Vec<&Value> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, vec![&json!(alert_id)]);
    let stored: Option<String> = env
        .scalar(
            "SELECT status FROM orchestrator_messages WHERE id = $1",
            &rec_id,
        )
        .await;
    assert_eq!(stored.as_deref(), Some("accepted"));

    // Deregister: the socket is closed and every row is gone.
    let v = api
        .ok(
            Method::DELETE,
            &format!("{I}/orchestrators/org-demo/deregister"),
            None,
        )
        .await;
    assert_eq!(
        v["message"],
        "Orchestrator org-demo deregistered successfully"
    );
    let _ = expect_close(&mut sock).await;
    // The disconnect that follows the close must not bring the row back.
    marker.disconnect_passes(&env).await;
    assert_eq!(
        env.status("org-demo").await,
        None,
        "instance row survived deregister"
    );
    let orgs: Option<i64> = env
        .scalar(
            "SELECT count(*) FROM organizations WHERE organization_id = $1",
            "org-demo",
        )
        .await;
    let msgs: Option<i64> = env
        .scalar(
            "SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1",
            "org-demo",
        )
        .await;
    assert_eq!((orgs, msgs), (Some(0), Some(0)));
    let (status, v) = api.call(Method::GET, &independence, None).await;
    assert_eq!(status, 404, "{v}");
}
