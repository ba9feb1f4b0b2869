//! Every bad-input case of the WebSocket protocol has a defined answer: a close
//! code and reason, or "logged, counted, connection kept".

use std::time::Duration;

use futures::SinkExt;
use moolai_tests::api::{admin_stack, I};
use moolai_tests::barrier::stored_config_revision;
use moolai_tests::ws::{
    self, connect_as, expect_close, next, next_json, next_of_type, send_json, send_text, Next,
};
use moolai_tests::{start_core, start_edge, start_persister, wait_until, Running, TestEnv};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// An edge alone suffices for handshake refusals; the full stack for the rest.
async fn edge_only(env: &TestEnv) -> Running {
    start_edge(env.edge_config("edge-bad")).await
}

async fn first_frame_answer(first: Message) -> (u16, String) {
    let env = TestEnv::new().await;
    let edge = edge_only(&env).await;
    let mut sock = ws::connect(&edge.ws_url()).await;
    sock.send(first).await.unwrap();
    expect_close(&mut sock).await
}

#[tokio::test]
async fn a_first_frame_that_is_not_json_is_a_handshake_error() {
    assert_eq!(
        first_frame_answer(Message::text("hello")).await,
        (1008, "handshake_error".into())
    );
}

#[tokio::test]
async fn a_binary_first_frame_is_a_handshake_error() {
    let answer = first_frame_answer(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(answer, (1008, "handshake_error".into()));
}

#[tokio::test]
async fn a_first_frame_other_than_handshake_is_refused() {
    let frame = Message::text(json!({"type": "i_am_alive"}).to_string());
    assert_eq!(
        first_frame_answer(frame).await,
        (1008, "invalid_handshake".into())
    );
}

#[tokio::test]
async fn a_handshake_without_an_id_is_refused() {
    for body in [
        json!({"type": "handshake"}),
        json!({"type": "handshake", "data": {"metadata": {}}}),
    ] {
        let answer = first_frame_answer(Message::text(body.to_string())).await;
        assert_eq!(answer, (1008, "missing_orchestrator_id".into()), "{body}");
    }
}

/// The cluster log (the dashboard's Logs page) says why, as the edge's own log
/// does: the close code and reason are fields of that record, which the log
/// buffer dropped, keeping only its message, "handshake refused".
#[tokio::test]
async fn a_refused_handshake_reaches_the_logs_api_with_its_code_and_reason() {
    let (_env, stack, api) = admin_stack().await;
    let mut sock = ws::connect(&stack.edge.ws_url()).await;
    send_json(&mut sock, &ws::handshake("tab\t", true)).await;
    assert_eq!(
        expect_close(&mut sock).await,
        (1008, "invalid_orchestrator_id".into())
    );
    let wanted = r#"code=1008 reason="invalid_orchestrator_id""#;
    // The fields are searched too.
    let path = format!("{I}/logs?q={}&limit=50", "invalid_orchestrator_id");
    let found = wait_until(Duration::from_secs(10), || async {
        let (status, v) = api.get(&path).await;
        assert_eq!(status, 200, "{v}");
        v["data"]["items"].as_array().is_some_and(|items| {
            items
                .iter()
                .any(|i| i["message"] == "handshake refused" && i["fields"] == wanted)
        })
    })
    .await;
    let (_, v) = api.get(&path).await;
    assert!(found.is_some(), "no handshake refused {wanted} in {v}");
}

#[tokio::test]
async fn ids_that_could_reach_a_subject_unsafely_are_refused() {
    let env = TestEnv::new().await;
    let edge = edge_only(&env).await;
    for bad in [
        "a.b",
        "org>",
        "*",
        "a b",
        "tab\t",
        "",
        &"x".repeat(129),
        "ünï",
    ] {
        let mut sock = ws::connect(&edge.ws_url()).await;
        send_json(&mut sock, &ws::handshake(bad, true)).await;
        assert_eq!(
            expect_close(&mut sock).await,
            (1008, "invalid_orchestrator_id".into()),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn no_handshake_in_time_closes_with_handshake_timeout() {
    let env = TestEnv::new().await;
    let mut config = env.edge_config("edge-slow");
    config.handshake_timeout_sec = 1;
    let edge = start_edge(config).await;
    let mut sock = ws::connect(&edge.ws_url()).await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        expect_close(&mut sock).await,
        (1008, "handshake_timeout".into())
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// Full stack, connected as `id`, past the ack and the provisioning.
async fn connected(env: &TestEnv, id: &str) -> (Running, Running, Running, ws::Ws) {
    let persister = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    let mut sock = connect_as(&edge.ws_url(), id, true).await;
    assert_eq!(next_json(&mut sock).await["type"], "provision_config");
    (persister, core, edge, sock)
}

#[tokio::test]
async fn bad_frames_after_the_handshake_are_logged_and_the_connection_kept() {
    let env = TestEnv::new().await;
    let (_p, core, _e, mut sock) = connected(&env, "org-noisy").await;
    send_text(&mut sock, "not json").await;
    send_json(&mut sock, &json!({"type": "dance"})).await;
    send_json(&mut sock, &json!({"no_type": 1})).await;
    // Still served: a provisioning request is answered with the stored
    // configuration (the push on connect was drained by `connected`)...
    let revision = stored_config_revision(&env, "org-noisy").await;
    send_json(&mut sock, &json!({"type": "provisioning_request"})).await;
    let config = next_of_type(&mut sock, "provision_config").await;
    assert_eq!(config["data"]["revision"], revision, "{config}");
    // ...and the three were counted: the edge reports them to core.
    let api = moolai_tests::api::Api::admin(core.addr).await;
    let counted = wait_until(Duration::from_secs(10), || async {
        let (_, edges) = api.get("/api/v1/controller/edges").await;
        edges["data"]["edges"][0]["bad_frames"] == 3
    })
    .await;
    assert!(counted.is_some(), "the bad frames were not counted");
}

#[tokio::test]
async fn more_than_twenty_bad_frames_a_minute_close_the_connection() {
    let env = TestEnv::new().await;
    let (_p, _c, _e, mut sock) = connected(&env, "org-flood").await;
    for _ in 0..20 {
        send_text(&mut sock, "{").await;
    }
    // Twenty are tolerated...
    send_json(&mut sock, &json!({"type": "provisioning_request"})).await;
    next_of_type(&mut sock, "provision_config").await;
    // ...the twenty-first is not.
    send_text(&mut sock, "{").await;
    assert_eq!(
        expect_close(&mut sock).await,
        (1008, "too_many_bad_frames".into())
    );
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_with_1009() {
    let env = TestEnv::new().await;
    let (_p, _c, _e, mut sock) = connected(&env, "org-big").await;
    let big = json!({"type": "o_config_snapshot", "data": {"blob": "x".repeat(70 * 1024)}});
    send_json(&mut sock, &big).await;
    assert_eq!(
        expect_close(&mut sock).await,
        (1009, "message_too_big".into())
    );
}

#[tokio::test]
async fn a_binary_frame_after_the_handshake_closes_with_1003() {
    let env = TestEnv::new().await;
    let (_p, _c, _e, mut sock) = connected(&env, "org-bin").await;
    sock.send(Message::binary(vec![0u8; 8])).await.unwrap();
    assert_eq!(
        expect_close(&mut sock).await,
        (1003, "binary_not_supported".into())
    );
    // And the row is marked inactive, not left as a zombie (the first version's bug).
    let inactive = wait_until(Duration::from_secs(5), || async {
        env.status("org-bin").await.as_deref() == Some("inactive")
    })
    .await;
    assert!(inactive.is_some());
}

#[tokio::test]
async fn pings_are_answered_at_once() {
    let env = TestEnv::new().await;
    let (_p, _c, _e, mut sock) = connected(&env, "org-ping").await;
    sock.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(1), async {
        use futures::StreamExt;
        loop {
            match sock.next().await {
                Some(Ok(Message::Pong(p))) => return p.to_vec(),
                Some(Ok(_)) => continue,
                other => panic!("no pong: {other:?}"),
            }
        }
    })
    .await
    .expect("pong within 1 s");
    assert_eq!(pong, b"are you there");
}

#[tokio::test]
async fn malformed_messages_are_refused_without_storing_anything() {
    let env = TestEnv::new().await;
    let (_p, _c, _e, mut sock) = connected(&env, "org-msg").await;
    send_json(
        &mut sock,
        &json!({"type": "message", "data": {"message_type": "gossip", "content": "x"}}),
    )
    .await;
    send_json(
        &mut sock,
        &json!({"type": "message", "data": {"message_type": "monitoring"}}),
    )
    .await;
    send_json(
        &mut sock,
        &json!({"type": "message", "data": {"message_type": "monitoring", "content": "ok"}}),
    )
    .await;
    let one = wait_until(Duration::from_secs(5), || async {
        env.scalar::<i64>(
            "SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1",
            "org-msg",
        )
        .await
            == Some(1)
    })
    .await;
    assert!(one.is_some());
    // Each refusal was explained with an error frame, naming the problem.
    for expected in ["gossip", "content"] {
        let error = next_of_type(&mut sock, "error").await;
        assert_eq!(error["data"]["code"], "invalid_frame");
        assert_eq!(error["data"]["frame"], "message");
        let detail = error["data"]["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{detail}");
    }
    // The connection is kept: a request is still answered.
    send_json(&mut sock, &json!({"type": "provisioning_request"})).await;
    assert!(matches!(next(&mut sock).await, Next::Json(v) if v["type"] == "provision_config"));
}

#[tokio::test]
async fn a_nul_in_a_message_or_snapshot_is_refused_aloud_and_nothing_is_lost_silently() {
    let env = TestEnv::new().await;
    let (_p, _c, _e, mut sock) = connected(&env, "org-nul").await;
    let message = |content: &str| json!({"type": "message", "data": {"message_type": "monitoring", "content": content}});
    send_json(&mut sock, &message("before\u{0}after")).await;
    send_json(
        &mut sock,
        &json!({"type": "message", "data": {"message_type": "monitoring", "content": "x",
                                            "metadata": {"k": "v\u{0}"}}}),
    )
    .await;
    send_json(
        &mut sock,
        &json!({"type": "o_config_snapshot", "data": {"cache\u{0}": true}}),
    )
    .await;
    for frame in ["message", "message", "o_config_snapshot"] {
        let error = next_of_type(&mut sock, "error").await;
        assert_eq!(
            (
                error["data"]["code"].as_str(),
                error["data"]["frame"].as_str()
            ),
            (Some("invalid_frame"), Some(frame))
        );
        assert!(
            error["data"]["detail"].as_str().unwrap().contains("NUL"),
            "{error}"
        );
    }
    // A later, valid message is stored, and it is the only one.
    send_json(&mut sock, &message("fine")).await;
    let stored = wait_until(Duration::from_secs(5), || async {
        env.scalar::<i64>(
            "SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1",
            "org-nul",
        )
        .await
            == Some(1)
    })
    .await;
    assert!(
        stored.is_some(),
        "the valid message was not stored, or a refused one was"
    );
    let content = env
        .scalar::<String>(
            "SELECT content FROM orchestrator_messages WHERE orchestrator_id = $1",
            "org-nul",
        )
        .await;
    assert_eq!(content.as_deref(), Some("fine"));
}
