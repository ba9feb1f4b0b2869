//! The path of issue 2 end to end: edge → NATS → core → persister → PostgreSQL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_tests::barrier::Marker;
use moolai_tests::ws::{self, connect_as, expect_close, next_json, next_of_type, send_json};
use moolai_tests::{start_edge, wait_until, TestEnv};
use serde_json::json;

const DB_WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn handshake_is_acked_first_then_provision_config() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut sock = ws::connect(&stack.edge.ws_url()).await;
    send_json(&mut sock, &ws::handshake("org-002", true)).await;
    let ack = next_json(&mut sock).await;
    assert_eq!(ack["type"], "handshake_ack");
    assert_eq!(ack["orch_id"], "org-002");
    DateTime::parse_from_rfc3339(ack["ts"].as_str().unwrap()).expect("ts is RFC 3339");
    let config = next_json(&mut sock).await;
    assert_eq!(config["type"], "provision_config");
    for key in ["features", "settings", "policies"] {
        assert!(config["data"][key].is_object(), "{key} in {config}");
    }
}

#[tokio::test]
async fn first_version_client_also_gets_the_legacy_provisioning_frame() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-legacy", false).await;
    assert_eq!(next_json(&mut sock).await["type"], "provision_config");
    let legacy = next_json(&mut sock).await;
    assert_eq!(legacy["type"], "provisioning");
    assert_eq!(legacy["data"]["orchestrator_id"], "org-legacy");
    assert_eq!(legacy["data"]["name"], "Org org-legacy");
    assert_eq!(legacy["data"]["location"], "lab");
    assert_eq!(legacy["data"]["metadata"]["hostname"], "test");
}

#[tokio::test]
async fn provision_config_carries_the_stored_configuration() {
    let env = TestEnv::new().await;
    sqlx::query(
        "INSERT INTO organizations (organization_id, name, features, settings, policies)
         VALUES ('org-cfg', 'Cfg', '{\"cache\":{\"enabled\":true}}', '{\"region\":\"eu\"}', '{\"pii\":\"mask\"}')",
    )
    .execute(&env.pool)
    .await
    .unwrap();
    let stack = env.stack().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-cfg", true).await;
    let config = next_json(&mut sock).await;
    assert_eq!(
        config["data"]["features"],
        json!({"cache": {"enabled": true}})
    );
    assert_eq!(config["data"]["settings"], json!({"region": "eu"}));
    assert_eq!(config["data"]["policies"], json!({"pii": "mask"}));
    // And again on request.
    send_json(&mut sock, &json!({"type": "provisioning_request"})).await;
    let again = next_of_type(&mut sock, "provision_config").await;
    assert_eq!(
        again["data"]["features"],
        json!({"cache": {"enabled": true}})
    );
}

#[tokio::test]
async fn handshake_registers_both_tables_as_active() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let _sock = connect_as(&stack.edge.ws_url(), "org-reg", true).await;
    let active = wait_until(DB_WAIT, || async {
        env.status("org-reg").await.as_deref() == Some("active")
    })
    .await;
    assert!(active.is_some(), "instance row never became active");
    let org: (String, String, String, bool) = sqlx::query_as(
        "SELECT name, location, status, is_active FROM organizations WHERE organization_id = 'org-reg'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        org,
        ("Org org-reg".into(), "lab".into(), "active".into(), true)
    );
    let (health, edge, features): (String, String, serde_json::Value) = sqlx::query_as(
        "SELECT health_status, edge_id, features FROM orchestrator_instances WHERE orchestrator_id = 'org-reg'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!((health.as_str(), edge.as_str()), ("healthy", "edge-1"));
    assert_eq!(features, json!({"cache": {"enabled": true}}));
}

#[tokio::test]
async fn heartbeat_reaches_last_seen_within_a_second() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-hb", true).await;
    let registered = wait_until(DB_WAIT, || async { env.status("org-hb").await.is_some() }).await;
    assert!(registered.is_some());
    let before: DateTime<Utc> = env
        .scalar(
            "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
            "org-hb",
        )
        .await
        .unwrap();
    // The beat is stamped at the edge when read: after `before` was read back.
    send_json(
        &mut sock,
        &json!({"type": "i_am_alive", "timestamp": "2026-11-22T21:26:50+00:00"}),
    )
    .await;
    let took = wait_until(Duration::from_secs(1), || async {
        let now: Option<DateTime<Utc>> = env
            .scalar(
                "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
                "org-hb",
            )
            .await;
        now.is_some_and(|t| t > before)
    })
    .await;
    assert!(took.is_some(), "last_seen not updated within 1 s");
}

#[tokio::test]
async fn disconnect_marks_the_orchestrator_inactive() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-bye", true).await;
    assert!(wait_until(DB_WAIT, || async {
        env.status("org-bye").await.as_deref() == Some("active")
    })
    .await
    .is_some());
    sock.close(None).await.unwrap();
    let inactive = wait_until(DB_WAIT, || async {
        env.status("org-bye").await.as_deref() == Some("inactive")
    })
    .await;
    assert!(inactive.is_some(), "never marked inactive");
    let org_status: String = env
        .scalar(
            "SELECT status FROM organizations WHERE organization_id = $1",
            "org-bye",
        )
        .await
        .unwrap();
    assert_eq!(org_status, "inactive");
}

#[tokio::test]
async fn newest_connection_wins_on_the_same_edge() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let marker = Marker::connect(&env, &stack.edge.ws_url(), "org-marker").await;
    let mut old = connect_as(&stack.edge.ws_url(), "org-dup", true).await;
    let _new = connect_as(&stack.edge.ws_url(), "org-dup", true).await;
    assert_eq!(expect_close(&mut old).await, (4000, "superseded".into()));
    // The old connection's disconnect was published before the marker's.
    marker.disconnect_passes(&env).await;
    assert_eq!(env.status("org-dup").await.as_deref(), Some("active"));
}

#[tokio::test]
async fn reconnect_through_a_second_edge_ignores_the_late_disconnect_of_the_first() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let edge2 = start_edge(env.edge_config("edge-2")).await;
    let marker = Marker::connect(&env, &stack.edge.ws_url(), "org-marker").await;
    let mut first = connect_as(&stack.edge.ws_url(), "org-move", true).await;
    assert!(wait_until(DB_WAIT, || async {
        env.status("org-move").await.as_deref() == Some("active")
    })
    .await
    .is_some());
    let mut second = connect_as(&edge2.ws_url(), "org-move", true).await;
    // Core tells edge-1 to close the older connection; its disconnect comes after
    // the newer handshake and must not mark the orchestrator inactive.
    assert_eq!(expect_close(&mut first).await, (4000, "superseded".into()));
    let moved = wait_until(DB_WAIT, || async {
        env.scalar::<String>(
            "SELECT edge_id FROM orchestrator_instances WHERE orchestrator_id = $1",
            "org-move",
        )
        .await
        .as_deref()
            == Some("edge-2")
    })
    .await;
    assert!(moved.is_some());
    // edge-1 published the first connection's disconnect before the marker's.
    marker.disconnect_passes(&env).await;
    assert_eq!(env.status("org-move").await.as_deref(), Some("active"));
    // The newer connection is still served: a heartbeat moves last_seen.
    let before: DateTime<Utc> = env
        .scalar(
            "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
            "org-move",
        )
        .await
        .unwrap();
    send_json(&mut second, &json!({"type": "i_am_alive"})).await;
    let beat = wait_until(DB_WAIT, || async {
        env.scalar::<DateTime<Utc>>(
            "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
            "org-move",
        )
        .await
        .is_some_and(|t| t > before)
    })
    .await;
    assert!(beat.is_some());
}

#[tokio::test]
async fn config_snapshot_and_messages_from_the_orchestrator_are_stored() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-up", true).await;
    send_json(
        &mut sock,
        &json!({"type": "o_config_snapshot", "data": {"cache": {"ttl": 60}}}),
    )
    .await;
    for n in 0..2 {
        // Two in the same second must both be kept (the first version's ids collided).
        send_json(&mut sock, &json!({"type": "message", "data": {"message_type": "monitoring", "content": format!("cpu high {n}")}})).await;
    }
    let stored = wait_until(DB_WAIT, || async {
        env.scalar::<serde_json::Value>(
            "SELECT o_config_snapshot FROM orchestrator_instances WHERE orchestrator_id = $1",
            "org-up",
        )
        .await
        .is_some_and(|v| v == json!({"cache": {"ttl": 60}}))
    })
    .await;
    assert!(stored.is_some(), "snapshot not stored");
    let messages = wait_until(DB_WAIT, || async {
        env.scalar::<i64>("SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1 AND source = 'orchestrator' AND status = 'pending'", "org-up")
            .await
            == Some(2)
    })
    .await;
    assert!(messages.is_some(), "messages not stored");
}

#[tokio::test]
async fn heartbeats_of_an_independent_orchestrator_are_ignored() {
    let env = TestEnv::new().await;
    sqlx::query("INSERT INTO organizations (organization_id, name) VALUES ('org-ind', 'Ind')")
        .execute(&env.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO orchestrator_instances (orchestrator_id, organization_id, is_independent, status) VALUES ('org-ind', 'org-ind', TRUE, 'independent')")
        .execute(&env.pool)
        .await
        .unwrap();
    let stack = env.stack().await; // core loads the rule at start
    let mut marker = Marker::connect(&env, &stack.edge.ws_url(), "org-marker").await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-ind", true).await;
    assert!(wait_until(DB_WAIT, || async {
        env.scalar::<DateTime<Utc>>(
            "SELECT connected_at FROM orchestrator_instances WHERE orchestrator_id = $1",
            "org-ind",
        )
        .await
        .is_some()
    })
    .await
    .is_some());
    for _ in 0..3 {
        send_json(&mut sock, &json!({"type": "i_am_alive"})).await;
    }
    marker.heartbeat_passes(&env).await;
    let last_seen: Option<DateTime<Utc>> = env
        .scalar(
            "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
            "org-ind",
        )
        .await;
    assert_eq!(
        last_seen, None,
        "an independent orchestrator's heartbeat changed last_seen"
    );
    assert_eq!(env.status("org-ind").await.as_deref(), Some("independent"));
}

#[tokio::test]
async fn every_role_serves_prometheus_metrics() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-metrics", true).await;
    send_json(&mut sock, &json!({"type": "i_am_alive"})).await;
    let counted = wait_until(DB_WAIT, || async {
        let (code, body) = moolai_tests::http::get(stack.edge.addr, "/metrics")
            .await
            .unwrap();
        code == 200
            && body.contains("moolai_edge_frames_received_total")
            && body.contains("moolai_edge_connections")
    })
    .await;
    assert!(counted.is_some(), "edge metrics missing");
    for role in [&stack.core, &stack.persister] {
        let (code, body) = moolai_tests::http::get(role.addr, "/metrics")
            .await
            .unwrap();
        assert_eq!(code, 200);
        assert!(
            body.contains("moolai_"),
            "no moolai_ metric at {}",
            role.addr
        );
    }
}
