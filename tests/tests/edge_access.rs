//! Edges are closed by default (issue 12): tokens are required unless switched
//! off explicitly, an edge without the secret refuses to start, an orchestrator
//! cannot be taken over, one address cannot hold all sockets and one
//! orchestrator cannot flood the message store.

use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use moolai_proto::secret::Secret;
use moolai_tests::api::{Api, I};
use moolai_tests::tokens::{
    self, connect_with_token, register, upgrade_with_query as upgrade, TOKEN_SECRET,
};
use moolai_tests::ws::{connect_as, handshake, next, next_of_type, send_json, Next};
use moolai_tests::{
    free_port, start_core, start_edge, start_persister, wait_until, workspace_bin, Running, TestEnv,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// `moolai-edge` with nothing set but where NATS is and where to listen.
fn bare_edge(env: &TestEnv, port: u16) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(workspace_bin("moolai-edge"));
    cmd.env_clear()
        .envs(env.nats_vars("edge"))
        .env("MOOLAI_SUBJECT_PREFIX", &env.prefix)
        .env("EDGE_ID", "edge-bare")
        .env("EDGE_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn an_edge_with_default_settings_and_no_secret_refuses_to_start_and_says_why() {
    let env = TestEnv::new().await;
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        bare_edge(&env, free_port()).output(),
    )
    .await
    .expect("the edge exits on its own")
    .expect("moolai-edge runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "started without a secret:\n{said}");
    assert!(
        said.contains("ORCHESTRATOR_TOKEN_SECRET is not set")
            && said.contains("EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false"),
        "the refusal does not say why and what to do:\n{said}"
    );

    // The explicit opt-out starts, and warns.
    let port = free_port();
    let mut child = bare_edge(&env, port)
        .env("EDGE_REQUIRE_ORCHESTRATOR_TOKEN", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("moolai-edge runs");
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let mut lines = BufReader::new(stdout).lines();
    let mut errors = BufReader::new(stderr).lines();
    let warned = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = tokio::select! {
                l = lines.next_line() => l,
                l = errors.next_line() => l,
            };
            match line {
                Ok(Some(l)) if l.contains("EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false") => return true,
                Ok(Some(_)) => continue,
                _ => return false,
            }
        }
    })
    .await;
    assert_eq!(warned, Ok(true), "no warning about the opt-out");
    moolai_tests::wait_ready(([127, 0, 0, 1], port).into()).await;
    let _ = child.kill().await;
}

/// An edge as the binary's defaults make it, given only the secret.
async fn default_edge(env: &TestEnv) -> Running {
    let mut config = moolai_edge::Config::try_parse_from(["moolai-edge"]).expect("defaults parse");
    assert!(
        config.require_orchestrator_token,
        "tokens are not required by default"
    );
    config.service.nats = env.nats("edge");
    config.service.subject_prefix = env.prefix.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.edge_id = Some("edge-default".into());
    config.orchestrator_token_secret = Some(Secret::from(TOKEN_SECRET.to_owned()));
    start_edge(config).await
}

#[tokio::test]
async fn with_default_settings_nobody_connects_anonymously_or_as_someone_else() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(tokens::core_config(&env)).await;
    let edge = default_edge(&env).await;
    let api = Api::admin(core.addr).await;
    let victim_token = register(&api, "org-victim").await;
    let attacker_token = register(&api, "org-attacker").await;

    let url = edge.ws_url();
    let mut victim = connect_with_token(&url, &victim_token, "org-victim").await;
    assert!(
        env.becomes_active("org-victim", Duration::from_secs(5))
            .await
    );

    assert_eq!(upgrade(&url, None).await.err(), Some(401), "anonymous");
    assert_eq!(
        upgrade(&url, Some("mo1.org-victim.1.forged")).await.err(),
        Some(401),
        "forged"
    );
    // A valid token of another orchestrator: closed before anything is sent.
    let mut attacker = upgrade(&url, Some(&attacker_token)).await.unwrap();
    send_json(&mut attacker, &handshake("org-victim", true)).await;
    assert_eq!(
        next(&mut attacker).await,
        Next::Closed(1008, "token_mismatch".into()),
        "the attacker received something"
    );

    // The victim is still the one connected: what is sent to it reaches it.
    let (status, body) = api
        .post(
            &format!("{I}/orchestrators/org-victim/send"),
            json!({"type": "still_yours"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A close instead fails the wait.
    next_of_type(&mut victim, "still_yours").await;
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_sockets() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let mut config = env.edge_config("edge-cap");
    config.max_connections_per_address = 3;
    let edge = start_edge(config).await;
    let url = edge.ws_url();
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(connect_as(&url, &format!("org-cap-{i}"), true).await);
    }
    assert_eq!(upgrade(&url, None).await.err(), Some(429), "a 4th socket");

    // Closing one gives its place back.
    let mut first = held.remove(0);
    first.close(None).await.unwrap();
    let admitted = wait_until(Duration::from_secs(5), || {
        let url = url.clone();
        async move { upgrade(&url, None).await.is_ok() }
    })
    .await;
    assert!(
        admitted.is_some(),
        "a closed socket's place was not given back"
    );
}

fn message(content: &str) -> serde_json::Value {
    json!({"type": "message", "data": {"message_type": "monitoring", "content": content}})
}

async fn stored_messages(env: &TestEnv, id: &str) -> i64 {
    env.scalar(
        "SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1",
        id,
    )
    .await
    .unwrap_or(0)
}

async fn expect_quota_error(ws: &mut moolai_tests::ws::Ws) {
    let error = moolai_tests::ws::next_of_type(ws, "error").await;
    assert_eq!(error["data"]["code"], "quota_exceeded", "{error}");
    assert_eq!(error["data"]["frame"], "message", "{error}");
}

#[tokio::test]
async fn an_orchestrator_may_send_only_so_many_messages_a_minute() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let mut config = env.edge_config("edge-quota");
    config.max_messages_per_min = 3;
    config.max_message_bytes_per_min = 2000;
    let edge = start_edge(config).await;
    let url = edge.ws_url();

    let mut chatty = connect_as(&url, "org-chatty", true).await;
    for n in 0..4 {
        send_json(&mut chatty, &message(&format!("note {n}"))).await;
    }
    expect_quota_error(&mut chatty).await;
    // Reconnecting does not refill the allowance: it is the orchestrator's.
    chatty.close(None).await.unwrap();
    let mut chatty = connect_as(&url, "org-chatty", true).await;
    send_json(&mut chatty, &message("note 4")).await;
    expect_quota_error(&mut chatty).await;

    // Bytes count too.
    let mut big = connect_as(&url, "org-big", true).await;
    send_json(&mut big, &message(&"x".repeat(1200))).await;
    send_json(&mut big, &message(&"y".repeat(1200))).await;
    expect_quota_error(&mut big).await;

    // The socket stayed open: a heartbeat after the refusals is processed.
    send_json(&mut chatty, &json!({"type": "i_am_alive"})).await;
    assert!(wait_until(Duration::from_secs(10), || async {
        stored_messages(&env, "org-chatty").await == 3
            && stored_messages(&env, "org-big").await == 1
    })
    .await
    .is_some());
    // Closing is the later event: once its disconnect is stored, every message
    // sent before it has had its chance to be stored as well.
    chatty.close(None).await.unwrap();
    big.close(None).await.unwrap();
    assert!(wait_until(Duration::from_secs(10), || async {
        env.status("org-chatty").await.as_deref() == Some("inactive")
            && env.status("org-big").await.as_deref() == Some("inactive")
    })
    .await
    .is_some());
    assert_eq!(stored_messages(&env, "org-chatty").await, 3);
    assert_eq!(stored_messages(&env, "org-big").await, 1);
}
