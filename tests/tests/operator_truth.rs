//! Issue 11 on a real stack: logs follow rule changes at once, what an admin typed
//! stays, one shape for features, an independent orchestrator's messages are held,
//! register/deregister say and do what an operator expects, and a newer state is
//! never overwritten by an older one.

use std::time::Duration;

use moolai_tests::api::{admin_stack, register, Api, C, I};
use moolai_tests::ws::{
    connect, connect_as, expect_close, handshake, next_json, next_of_type, send_json, Ws,
};
use moolai_tests::{wait_until, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Connection;

const WAIT: Duration = Duration::from_secs(10);

async fn heartbeat(ws: &mut Ws) {
    send_json(ws, &json!({"type": "i_am_alive"})).await;
}

/// How many lines of the cluster log contain `text` exactly.
async fn log_count(api: &Api, text: &str) -> usize {
    let q: String = url_escape(text);
    let (_, v) = api.get(&format!("{I}/logs?q={q}&limit=1000")).await;
    v["data"]["items"]
        .as_array()
        .map(|items| items.iter().filter(|i| i["message"] == text).count())
        .unwrap_or(0)
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends heartbeats until the log holds `n` lines of `text`; a heartbeat at a time,
/// so a line that appears only after the throttle's minute fails the test.
async fn beat_until_logged(api: &Api, ws: &mut Ws, text: &str, n: usize) {
    heartbeat(ws).await;
    let logged = wait_until(WAIT, || async { log_count(api, text).await >= n }).await;
    assert!(
        logged.is_some(),
        "no log line {text:?} (#{n}) after a heartbeat"
    );
}

async fn set_independence(api: &Api, id: &str, on: bool) -> Value {
    api.ok(
        Method::PUT,
        &format!("{I}/orchestrators/{id}/independence"),
        Some(json!({"is_independent": on})),
    )
    .await
}

async fn active(env: &TestEnv, id: &str) -> bool {
    env.becomes_active(id, WAIT).await
}

#[tokio::test]
async fn the_first_heartbeat_after_a_rule_change_is_logged_at_once() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "log-rule", "log-rule").await;
    let mut ws = connect_as(&stack.edge.ws_url(), "log-rule", true).await;
    let processing = "[C-OCS] Processing heartbeat from orchestrator log-rule";
    let ignoring = "[C-OCS] Ignoring heartbeat from independent orchestrator log-rule";
    beat_until_logged(&api, &mut ws, processing, 1).await;
    set_independence(&api, "log-rule", true).await;
    beat_until_logged(&api, &mut ws, ignoring, 1).await;
    set_independence(&api, "log-rule", false).await;
    beat_until_logged(&api, &mut ws, processing, 2).await;
    // Repeats are still throttled: a heartbeat without a change logs nothing new,
    // seen once a later change's line is in.
    heartbeat(&mut ws).await;
    set_independence(&api, "log-rule", true).await;
    beat_until_logged(&api, &mut ws, ignoring, 2).await;
    assert_eq!(log_count(&api, processing).await, 2, "a repeat was logged");
}

#[tokio::test]
async fn a_new_connection_logs_its_first_heartbeat_at_once() {
    let (_env, stack, api) = admin_stack().await;
    let processing = "[C-OCS] Processing heartbeat from orchestrator log-conn";
    let mut ws = connect_as(&stack.edge.ws_url(), "log-conn", true).await;
    beat_until_logged(&api, &mut ws, processing, 1).await;
    drop(ws);
    let mut ws = connect_as(&stack.edge.ws_url(), "log-conn", true).await;
    beat_until_logged(&api, &mut ws, processing, 2).await;
}

#[tokio::test]
async fn names_an_admin_typed_survive_handshakes_which_are_kept_as_reported() {
    let (env, stack, api) = admin_stack().await;
    let body = json!({"organization_id": "demo-org", "name": "Demo Organization", "location": "live-demo"});
    api.ok(
        Method::POST,
        &format!("{I}/orchestrators/register"),
        Some(body),
    )
    .await;
    // A client of the first version: it also gets `provisioning`, whose name and
    // location it announces at its next handshake.
    let mut ws = connect_as(&stack.edge.ws_url(), "demo-org", false).await;
    let legacy = next_of_type(&mut ws, "provisioning").await;
    assert_eq!(legacy["data"]["name"], "Demo Organization");
    assert_eq!(legacy["data"]["location"], "live-demo");
    assert!(active(&env, "demo-org").await);
    let org = api
        .ok(Method::GET, &format!("{C}/organizations/demo-org"), None)
        .await;
    let org = &org["data"];
    assert_eq!(org["name"], "Demo Organization", "{org}");
    assert_eq!(org["location"], "live-demo");
    assert_eq!(org["reported_name"], "Org demo-org");
    assert_eq!(org["reported_location"], "lab");
    let inst = api
        .ok(Method::GET, &format!("{C}/orchestrators/demo-org"), None)
        .await;
    assert_eq!(inst["data"]["name"], "Demo Organization");
    assert_eq!(inst["data"]["location"], "live-demo");

    // Renamed in the dashboard: stays, reconnect or not.
    let renamed = api
        .ok(
            Method::PATCH,
            &format!("{C}/organizations/demo-org"),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(renamed["data"]["name"], "Renamed");
    assert_eq!(renamed["data"]["location"], "live-demo");
    let conn_of = || {
        env.scalar::<uuid::Uuid>(
            "SELECT conn_id FROM orchestrator_instances WHERE orchestrator_id = $1",
            "demo-org",
        )
    };
    let before = conn_of().await;
    drop(ws);
    let _ws = connect_as(&stack.edge.ws_url(), "demo-org", true).await;
    let reconnected = wait_until(WAIT, || async {
        let now = conn_of().await;
        now.is_some() && now != before
    })
    .await;
    assert!(reconnected.is_some(), "the second handshake was not stored");
    let org = api
        .ok(Method::GET, &format!("{C}/organizations/demo-org"), None)
        .await;
    assert_eq!(org["data"]["name"], "Renamed");

    // An organization made by a handshake alone takes what it announced.
    let _solo = connect_as(&stack.edge.ws_url(), "solo-org", true).await;
    assert!(active(&env, "solo-org").await);
    let solo = api
        .ok(Method::GET, &format!("{C}/organizations/solo-org"), None)
        .await;
    assert_eq!(solo["data"]["name"], "Org solo-org");
    assert_eq!(solo["data"]["location"], "lab");

    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "a\u{0}b"}),
        json!({"nmae": "x"}),
    ] {
        let (status, v) = api
            .call(
                Method::PATCH,
                &format!("{C}/organizations/demo-org"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 422, "{bad} → {v}");
    }
    let (status, _) = api
        .call(
            Method::PATCH,
            &format!("{C}/organizations/nobody"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn features_have_one_shape_whichever_is_sent() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "feat-1", "feat-1").await;
    let mut ws = connect_as(&stack.edge.ws_url(), "feat-1", true).await;
    let first = next_of_type(&mut ws, "provision_config").await;
    let path = format!("{C}/organizations/feat-1/features");
    let v = api
        .ok(
            Method::PUT,
            &path,
            Some(json!({"features": {"cache": true}})),
        )
        .await;
    assert_eq!(v["data"]["features"]["cache"], json!({"enabled": true}));
    let pushed = next_of_type(&mut ws, "provision_config").await;
    assert_eq!(
        pushed["data"]["features"]["cache"],
        json!({"enabled": true})
    );
    let (r0, r1) = (
        first["data"]["revision"].as_i64().expect("revision"),
        pushed["data"]["revision"].as_i64().expect("revision"),
    );
    assert!(r1 > r0, "revisions must grow: {r0} then {r1}");
    let v = api
        .ok(
            Method::PUT,
            &path,
            Some(json!({"features": {"firewall": {"enabled": false, "level": 3}}})),
        )
        .await;
    assert_eq!(v["data"]["features"]["cache"], json!({"enabled": true}));
    assert_eq!(
        v["data"]["features"]["firewall"],
        json!({"enabled": false, "level": 3})
    );
    for bad in [
        json!({"x": "on"}),
        json!({"x": {"enabled": "yes"}}),
        json!({"x": null}),
    ] {
        let (status, body) = api.put(&path, json!({"features": bad})).await;
        assert_eq!(status, 422, "{bad} → {body}");
    }
}

#[tokio::test]
async fn an_independent_orchestrators_messages_are_held_then_released() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "held-1", "held-1").await;
    let mut ws = connect_as(&stack.edge.ws_url(), "held-1", true).await;
    // One message from the orchestrator, stored before it becomes independent.
    send_json(
        &mut ws,
        &json!({"type": "message", "data": {"message_type": "recommendation", "content": "scale up"}}),
    )
    .await;
    let stored = wait_until(WAIT, || async {
        let (_, v) = api.get(&format!("{I}/orchestrators/held-1/messages")).await;
        v["total_count"] == 1
    })
    .await;
    assert!(stored.is_some());
    let (_, v) = api.get(&format!("{I}/orchestrators/held-1/messages")).await;
    let from = v["messages"][0].clone();
    assert_eq!(from["direction"], "from_orchestrator");

    set_independence(&api, "held-1", true).await;
    let created = api
        .ok(
            Method::POST,
            &format!("{I}/orchestrators/held-1/messages"),
            Some(json!({"message_type": "monitoring", "content": "while independent"})),
        )
        .await;
    assert_eq!(created["held"], true);
    assert_eq!(created["delivered"], false);
    let (_, all) = api.get(&format!("{I}/messages")).await;
    assert!(
        !all["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["orchestrator_id"] == "held-1"),
        "held messages are listed: {all}"
    );
    assert_eq!(all["held"], 2);
    let (_, own) = api.get(&format!("{I}/orchestrators/held-1/messages")).await;
    assert_eq!(own["messages"], json!([]));
    assert_eq!(own["independent"], true);
    assert_eq!(own["held"], 2);
    let (status, v) = api
        .put(
            &format!("{I}/messages/{}/status", from["id"].as_str().unwrap()),
            json!({"status": "accepted"}),
        )
        .await;
    assert_eq!(status, 409, "{v}");

    // Independence ends: the held message goes out, and both are listed again.
    set_independence(&api, "held-1", false).await;
    let message = next_of_type(&mut ws, "message").await;
    assert_eq!(message["data"]["content"], "while independent");
    let (_, own) = api.get(&format!("{I}/orchestrators/held-1/messages")).await;
    assert_eq!(own["total_count"], 2);
    assert_eq!(own["held"], 0);
    let directions: Vec<&str> = own["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["direction"].as_str())
        .collect();
    assert!(directions.contains(&"to_orchestrator") && directions.contains(&"from_orchestrator"));
    let (status, _) = api
        .put(
            &format!("{I}/messages/{}/status", from["id"].as_str().unwrap()),
            json!({"status": "accepted"}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn register_says_what_it_did_and_a_deregistered_orchestrator_stays_gone() {
    let (env, stack, api) = admin_stack().await;
    let path = format!("{I}/orchestrators/register");
    let first = api
        .ok(
            Method::POST,
            &path,
            Some(json!({"organization_id": "reg-1"})),
        )
        .await;
    assert_eq!(first["created"], true, "{first}");
    let is_active = || {
        env.scalar::<bool>(
            "SELECT is_active FROM organizations WHERE organization_id = $1",
            "reg-1",
        )
    };
    assert_eq!(
        is_active().await,
        Some(false),
        "active before any connection"
    );
    let mut ws = connect_as(&stack.edge.ws_url(), "reg-1", true).await;
    assert!(active(&env, "reg-1").await);
    assert_eq!(is_active().await, Some(true));
    let again = api
        .ok(
            Method::POST,
            &path,
            Some(json!({"organization_id": "reg-1"})),
        )
        .await;
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["status"], "active");
    let said = again["message"].as_str().unwrap();
    assert!(!said.contains("inactive until"), "{said}");
    assert!(said.contains("updated"), "{said}");

    api.ok(
        Method::DELETE,
        &format!("{I}/orchestrators/reg-1/deregister"),
        None,
    )
    .await;
    let (code, _) = expect_close(&mut ws).await;
    assert_eq!(code, 4001);
    // Its client comes back: acknowledged by the edge, then refused with a reason.
    let mut ws = connect(&stack.edge.ws_url()).await;
    send_json(&mut ws, &handshake("reg-1", true)).await;
    assert_eq!(next_json(&mut ws).await["type"], "handshake_ack");
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(code, 4001);
    assert!(reason.contains("deregistered"), "{reason}");
    // Nothing was re-created: proven once a later orchestrator's handshake is stored.
    let _later = connect_as(&stack.edge.ws_url(), "reg-later", true).await;
    assert!(active(&env, "reg-later").await);
    let rows = env
        .scalar::<i64>(
            "SELECT (SELECT count(*) FROM orchestrator_instances WHERE orchestrator_id = $1)
                  + (SELECT count(*) FROM organizations WHERE organization_id = $1)",
            "reg-1",
        )
        .await;
    assert_eq!(
        rows,
        Some(0),
        "the deregistered orchestrator re-created itself"
    );
    // Registered again, it may connect.
    api.ok(
        Method::POST,
        &path,
        Some(json!({"organization_id": "reg-1"})),
    )
    .await;
    let _back = connect_as(&stack.edge.ws_url(), "reg-1", true).await;
    assert!(active(&env, "reg-1").await);
}

/// Issue 11 item 12, with the interleaving forced: core is provisioning a handshake
/// (held inside its database read by a table lock this test takes) when an
/// administrator turns independence on. Whatever core read before, the last
/// independence the orchestrator is told must be the newer one, and revisions
/// never go back.
#[tokio::test]
async fn a_newer_rule_is_never_overwritten_by_a_handshake_that_read_an_older_one() {
    let (env, stack, api) = admin_stack().await;
    register(&api, "race-1", "race-1").await;
    api.ok(
        Method::POST,
        &format!("{I}/orchestrators/race-1/messages"),
        Some(json!({"message_type": "recommendation", "content": "pending"})),
    )
    .await;
    let mut lock = sqlx::PgConnection::connect(&env.db_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE orchestrator_messages IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    let mut ws = connect_as(&stack.edge.ws_url(), "race-1", true).await;
    let waiting = wait_until(WAIT, || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
              WHERE NOT l.granted AND d.datname = current_database()",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap();
        n > 0
    })
    .await;
    assert!(waiting.is_some(), "core never reached the messages read");
    set_independence(&api, "race-1", true).await;
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    // A later push is the barrier: everything sent before it has arrived with it.
    api.ok(
        Method::PUT,
        &format!("{C}/organizations/race-1/features"),
        Some(json!({"features": {"barrier": true}})),
    )
    .await;
    let mut last_rule: Option<Value> = None;
    loop {
        let frame = next_json(&mut ws).await;
        match frame["type"].as_str() {
            Some("independence_update") => {
                if let Some(prev) = &last_rule {
                    assert!(
                        frame["data"]["revision"].as_i64() >= prev["data"]["revision"].as_i64(),
                        "an older rule was sent after a newer one: {prev} then {frame}"
                    );
                }
                last_rule = Some(frame);
            }
            Some("provision_config") if !frame["data"]["features"]["barrier"].is_null() => break,
            _ => {}
        }
    }
    let last = last_rule.expect("no independence_update at all");
    assert_eq!(
        last["data"]["is_independent"], true,
        "the orchestrator was last told it is not independent"
    );
}
