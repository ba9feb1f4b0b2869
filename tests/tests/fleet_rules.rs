//! Issue 4 on a real stack with two edges: independence, liveness, config push and
//! messages hold across edges and restarts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_agent::{Orchestrator, Stats};
use moolai_tests::api::{Api, C, I};
use moolai_tests::barrier::Marker;
use moolai_tests::stacks::persister_and_core;
use moolai_tests::ws::{connect_as, next_of_type, send_json, Ws};
use moolai_tests::{
    edge_process, free_port, start_core, start_edge, start_persister, wait_until, TestEnv,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(5);

async fn last_seen(env: &TestEnv, id: &str) -> Option<DateTime<Utc>> {
    env.scalar(
        "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
        id,
    )
    .await
}

async fn active(env: &TestEnv, id: &str) -> bool {
    env.becomes_active(id, WAIT).await
}

/// Skips `independence_update` frames until one says `is_independent == want`.
async fn independence_becomes(sock: &mut Ws, want: bool) -> Value {
    loop {
        let frame = next_of_type(sock, "independence_update").await;
        if frame["data"]["is_independent"] == want {
            return frame;
        }
    }
}

async fn heartbeat(sock: &mut Ws) {
    send_json(sock, &json!({"type": "i_am_alive"})).await;
}

#[tokio::test]
async fn independence_freezes_last_seen_through_either_edge_and_across_a_core_restart() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let edge1 = start_edge(env.edge_config("edge-1")).await;
    let edge2 = start_edge(env.edge_config("edge-2")).await;
    let api = Api::admin(core.addr).await;
    let mut marker1 = Marker::connect(&env, &edge1.ws_url(), "marker-1").await;
    let mut marker2 = Marker::connect(&env, &edge2.ws_url(), "marker-2").await;
    let mut sock = connect_as(&edge1.ws_url(), "ind-1", true).await;
    assert!(active(&env, "ind-1").await);

    let (status, body) = api
        .put(
            &format!("{I}/orchestrators/ind-1/independence"),
            json!({"is_independent": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The handshake's welcome said `false`; the change must follow at once.
    let update = independence_becomes(&mut sock, true).await;
    assert_eq!(
        update["data"]["privacy_mode"], false,
        "the orchestrator is told at once"
    );
    let frozen = last_seen(&env, "ind-1").await;
    heartbeat(&mut sock).await;
    let mut other = connect_as(&edge2.ws_url(), "ind-1", true).await; // moves to edge-2
    let again = next_of_type(&mut other, "independence_update").await;
    assert_eq!(
        again["data"]["is_independent"], true,
        "and again at every handshake"
    );
    heartbeat(&mut other).await;
    marker1.heartbeat_passes(&env).await;
    marker2.heartbeat_passes(&env).await;
    assert_eq!(
        last_seen(&env, "ind-1").await,
        frozen,
        "a heartbeat moved last_seen of an independent orchestrator"
    );

    // A restarted core rebuilds the rule from the database.
    core.stop().await;
    let core = start_core(env.core_config()).await;
    heartbeat(&mut other).await;
    marker2.heartbeat_passes(&env).await;
    assert_eq!(
        last_seen(&env, "ind-1").await,
        frozen,
        "the rule was lost across a core restart"
    );
    assert_eq!(env.status("ind-1").await.as_deref(), Some("independent"));

    // Off: the next heartbeat counts again.
    let api = Api::admin(core.addr).await;
    let (status, _) = api
        .put(
            &format!("{I}/orchestrators/ind-1/independence"),
            json!({"is_independent": false}),
        )
        .await;
    assert_eq!(status, 200);
    heartbeat(&mut other).await;
    let moved = wait_until(WAIT, || async { last_seen(&env, "ind-1").await > frozen }).await;
    assert!(
        moved.is_some(),
        "heartbeats not processed after independence was turned off"
    );
    assert_eq!(env.status("ind-1").await.as_deref(), Some("active"));
}

#[tokio::test]
async fn the_agent_keeps_its_independence_in_its_state_file() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    let state_file = std::env::temp_dir().join(format!("{}-agent.json", env.prefix));
    let shutdown = CancellationToken::new();
    let agent = Orchestrator {
        state_file: Some(state_file.clone()),
        ..Orchestrator::new(
            "ind-agent",
            vec![stack.edge.ws_url()],
            Duration::from_secs(1),
            "Agent",
            "lab",
        )
    };
    let status = moolai_agent::spawn(agent, Stats::default(), shutdown.clone());
    assert!(wait_until(WAIT, || {
        let s = status.borrow().connected_to.is_some();
        async move { s }
    })
    .await
    .is_some());
    assert!(active(&env, "ind-agent").await);
    let (code, _) = api
        .put(
            &format!("{I}/orchestrators/ind-agent/independence"),
            json!({"is_independent": true, "privacy_mode": true}),
        )
        .await;
    assert_eq!(code, 200);
    let stored = wait_until(WAIT, || {
        let path = state_file.clone();
        async move {
            let state: Value = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            state["independence"]["is_independent"] == true
                && state["independence"]["privacy_mode"] == true
                && state["independence"]["revision"].is_i64()
                && state["provision_config"].is_object()
        }
    })
    .await;
    shutdown.cancel();
    let _ = std::fs::remove_file(&state_file);
    assert!(
        stored.is_some(),
        "state file does not show the independence flag"
    );
}

#[tokio::test]
async fn a_silent_orchestrator_goes_inactive_after_the_ttl_and_returns_with_its_next_heartbeat() {
    let env = TestEnv::new().await;
    let (_persister, _core) = persister_and_core(&env, |c| c.heartbeat_ttl_sec = 2).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    let mut quiet = connect_as(&edge.ws_url(), "ttl-quiet", true).await;
    let mut independent = connect_as(&edge.ws_url(), "ttl-ind", true).await;
    assert!(active(&env, "ttl-quiet").await && active(&env, "ttl-ind").await);
    let api = Api::admin(_core.addr).await;
    api.put(
        &format!("{I}/orchestrators/ttl-ind/independence"),
        json!({"is_independent": true}),
    )
    .await;

    let stale = wait_until(Duration::from_secs(6), || async {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT status, health_status FROM orchestrator_instances WHERE orchestrator_id = 'ttl-quiet'",
        )
        .fetch_optional(&env.pool)
        .await
        .unwrap();
        row == Some(("inactive".into(), "unknown".into()))
    })
    .await;
    let took = stale.expect("not marked inactive/unknown after the TTL");
    println!("silent orchestrator marked stale after {took:?} (TTL 2 s)");
    assert_eq!(
        env.status("ttl-ind").await.as_deref(),
        Some("independent"),
        "independent ones are never stale"
    );

    heartbeat(&mut quiet).await;
    let back = wait_until(WAIT, || async {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT status, health_status FROM orchestrator_instances WHERE orchestrator_id = 'ttl-quiet'",
        )
        .fetch_optional(&env.pool)
        .await
        .unwrap();
        row == Some(("active".into(), "healthy".into()))
    })
    .await;
    assert!(
        back.is_some(),
        "the next heartbeat did not make it active again"
    );
    heartbeat(&mut independent).await;
}

#[tokio::test]
async fn an_edge_that_dies_silently_leaves_nothing_active_past_the_ttl_and_is_forgotten() {
    let env = TestEnv::new().await;
    let (_persister, core) = persister_and_core(&env, |c| c.heartbeat_ttl_sec = 2).await;
    let port = free_port();
    let mut edge = edge_process(&env, "edge-doomed", port).await;
    let api = Api::admin(core.addr).await;
    let listed = wait_until(Duration::from_secs(8), || async {
        let (_, v) = api.get(&format!("{C}/edges")).await;
        v["data"]["edges"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["edge_id"] == "edge-doomed"))
    })
    .await;
    assert!(listed.is_some(), "the edge never appeared in GET /edges");
    let _sock = connect_as(&format!("ws://127.0.0.1:{port}/ws"), "doomed-1", true).await;
    assert!(active(&env, "doomed-1").await);
    edge.start_kill().unwrap();
    let inactive = wait_until(Duration::from_secs(8), || async {
        env.status("doomed-1").await.as_deref() == Some("inactive")
    })
    .await;
    assert!(
        inactive.is_some(),
        "still active after the TTL although its edge died"
    );
    let forgotten = wait_until(Duration::from_secs(25), || async {
        let (_, v) = api.get(&format!("{C}/edges")).await;
        v["data"]["edges"].as_array().is_some_and(|e| e.is_empty())
    })
    .await;
    assert!(forgotten.is_some(), "a dead edge is still listed");
}

#[tokio::test]
async fn messages_reach_the_orchestrator_live_and_again_after_a_reconnect_until_acknowledged() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    let mut sock = connect_as(&stack.edge.ws_url(), "msg-1", true).await;
    assert!(active(&env, "msg-1").await);

    let create = |content: &'static str| {
        let api = &api;
        async move {
            let (status, v) = api
                .post(
                    &format!("{I}/orchestrators/msg-1/messages"),
                    json!({"message_type": "recommendation", "content": content}),
                )
                .await;
            assert_eq!(status, 200, "{v}");
            v["message_id"].as_str().unwrap().to_owned()
        }
    };
    let live_id = create("enable caching").await;
    let frame = next_of_type(&mut sock, "message").await;
    assert_eq!(frame["data"]["id"], live_id.as_str());
    assert_eq!(frame["data"]["content"], "enable caching");
    assert_eq!(frame["data"]["status"], "pending");

    // Gone without acknowledging; a second message is written while it is away.
    sock.close(None).await.unwrap();
    assert!(wait_until(WAIT, || async {
        env.status("msg-1").await.as_deref() == Some("inactive")
    })
    .await
    .is_some());
    let offline_id = create("rotate keys").await;
    let mut sock = connect_as(&stack.edge.ws_url(), "msg-1", true).await;
    let mut got = vec![];
    for _ in 0..2 {
        got.push(
            next_of_type(&mut sock, "message").await["data"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    got.sort();
    let mut want = vec![live_id.clone(), offline_id.clone()];
    want.sort();
    assert_eq!(got, want, "pending messages are delivered at reconnect");

    // Acknowledge both; a further reconnect delivers nothing again.
    for id in &want {
        send_json(
            &mut sock,
            &json!({"type": "message_ack", "data": {"id": id}}),
        )
        .await;
    }
    let acked = wait_until(WAIT, || async {
        env.scalar::<i64>("SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1 AND acked_at IS NOT NULL", "msg-1")
            .await
            == Some(2)
    })
    .await;
    assert!(acked.is_some(), "acks not stored");

    // A message the orchestrator sends up is listed by the API.
    send_json(&mut sock, &json!({"type": "message", "data": {"message_type": "monitoring", "content": "cpu 97%", "metadata": {"host": "a"}}})).await;
    let listed = wait_until(WAIT, || async {
        let (_, v) = api
            .get(&format!(
                "{I}/orchestrators/msg-1/messages?message_type=monitoring&status=pending"
            ))
            .await;
        v["messages"].as_array().is_some_and(|m| {
            m.iter().any(|m| {
                m["content"] == "cpu 97%"
                    && m["source"] == "orchestrator"
                    && m["metadata"]["host"] == "a"
            })
        })
    })
    .await;
    assert!(
        listed.is_some(),
        "an orchestrator-sent message is not listed"
    );

    // A status decided by an administrator is pushed back.
    let (status, _) = api
        .put(
            &format!("{I}/messages/{live_id}/status"),
            json!({"status": "accepted"}),
        )
        .await;
    assert_eq!(status, 200);
    let pushed = next_of_type(&mut sock, "message_status").await;
    assert_eq!(
        (&pushed["data"]["id"], &pushed["data"]["status"]),
        (&json!(live_id), &json!("accepted"))
    );
    assert!(pushed["data"]["revision"].is_i64(), "{pushed}");

    sock.close(None).await.unwrap();
    let mut sock = connect_as(&stack.edge.ws_url(), "msg-1", true).await;
    next_of_type(&mut sock, "independence_update").await; // the welcome, with no message after it
    let (status, v) = api
        .post(
            &format!("{I}/orchestrators/msg-1/send"),
            json!({"type": "ping_probe", "data": {}}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let next = next_of_type(&mut sock, "ping_probe").await;
    assert_eq!(
        next["type"], "ping_probe",
        "an acknowledged message was delivered again"
    );
}

#[tokio::test]
async fn a_message_written_while_its_edge_is_dead_arrives_on_the_other_edge() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let port1 = free_port();
    let mut edge1 = edge_process(&env, "edge-a", port1).await;
    let edge2 = start_edge(env.edge_config("edge-b")).await;
    let api = Api::admin(core.addr).await;
    let _first = connect_as(&format!("ws://127.0.0.1:{port1}/ws"), "msg-move", true).await;
    assert!(active(&env, "msg-move").await);
    edge1.start_kill().unwrap();
    let (status, v) = api
        .post(
            &format!("{I}/orchestrators/msg-move/messages"),
            json!({"message_type": "monitoring", "content": "disk 91%"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let mut second = connect_as(&edge2.ws_url(), "msg-move", true).await;
    let frame = next_of_type(&mut second, "message").await;
    assert_eq!(frame["data"]["content"], "disk 91%");
}

#[tokio::test]
async fn every_services_log_and_the_activity_feed_are_served_by_core() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let port = free_port();
    let _edge = edge_process(&env, "edge-logs", port).await;
    let api = Api::admin(core.addr).await;
    let mut sock = connect_as(&format!("ws://127.0.0.1:{port}/ws"), "logs-1", true).await;
    heartbeat(&mut sock).await;
    let from_edge = wait_until(WAIT, || async {
        let (_, v) = api
            .get(&format!(
                "{I}/logs?source=edge-logs&q=handshake_ack&limit=100"
            ))
            .await;
        v["data"]["items"].as_array().is_some_and(|items| {
            items.iter().any(|i| {
                i["message"] == "[C-OCS] handshake_ack sent to logs-1" && i["source"] == "edge-logs"
            })
        })
    })
    .await;
    assert!(
        from_edge.is_some(),
        "the edge process's log lines are not in core's log"
    );
    let activity = wait_until(WAIT, || async {
        let (_, v) = api.get(&format!("{I}/activity?limit=1000")).await;
        let kinds: Vec<String> = v["data"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["data"]["orchestrator_id"] == "logs-1")
            .filter_map(|a| a["type"].as_str().map(str::to_owned))
            .collect();
        ["handshake", "provision", "keepalive"]
            .iter()
            .all(|k| kinds.iter().any(|x| x == k))
    })
    .await;
    assert!(
        activity.is_some(),
        "activity feed misses handshake/provision/keepalive"
    );
    let (status, _) = api.get(&format!("{I}/activity?limit=0")).await;
    assert_eq!(status, 422);
}
