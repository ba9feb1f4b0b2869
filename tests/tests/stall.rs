//! An edge that stops running for a while (SIGSTOP, as a paused VM or a stuck
//! host) must not leave core believing its live sockets gone (issue 32, item 3),
//! and the frames that piled up meanwhile are not held against its orchestrators.

use std::time::Duration;

use moolai_tests::api::{Api, C, I};
use moolai_tests::ws::{connect, connect_as, next_within, send_json, Next};
use moolai_tests::{edge_process, free_port, start_core, start_persister, wait_until, TestEnv};
use serde_json::json;

/// Sends `signal` to `pid` (the edge process this test started).
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// Resumes the edge even when an assertion fails while it is stopped.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

async fn connected(api: &Api, id: &str) -> bool {
    api.get(&format!("{C}/orchestrators/live/{id}")).await.0 == 200
}

#[tokio::test]
async fn a_resumed_edge_closes_the_sockets_core_forgot_so_they_reconnect() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let api = Api::admin(core.addr).await;
    let port = free_port();
    let edge = edge_process(&env, "edge-stall", port).await;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let mut ws = connect_as(&url, "stall-1", true).await;
    assert!(
        wait_until(Duration::from_secs(10), || connected(&api, "stall-1"))
            .await
            .is_some()
    );

    let pid = edge.id().expect("the edge runs");
    signal(pid, "-STOP");
    let resume = Resume(pid);
    // More than a second's share of frames (50), piling up while it is stopped.
    for _ in 0..80 {
        send_json(&mut ws, &json!({"type": "i_am_alive"})).await;
    }
    // Core gives the silent edge up (15 s without its presence) and forgets it.
    let forgotten = wait_until(Duration::from_secs(40), || async {
        !connected(&api, "stall-1").await
    })
    .await;
    assert!(
        forgotten.is_some(),
        "core never forgot the stopped edge's socket"
    );
    drop(resume);

    // The socket core forgot is closed for a reconnect, not for the piled-up frames.
    let next = loop {
        match next_within(&mut ws, Duration::from_secs(10)).await {
            Next::Json(_) => continue, // what the edge had queued before the stop
            other => break other,
        }
    };
    assert_eq!(next, Next::Closed(1012, "edge_stalled".into()));
    let _back = connect_as(&url, "stall-1", true).await;
    assert!(
        wait_until(Duration::from_secs(10), || connected(&api, "stall-1"))
            .await
            .is_some(),
        "core does not see the reconnected socket"
    );
}

#[tokio::test]
async fn a_silent_orchestrator_is_logged_inactive_with_its_own_limit() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let edge = moolai_tests::start_edge(env.edge_config("edge-1")).await;
    let api = Api::admin(core.addr).await;
    let mut ws = connect(&edge.ws_url()).await;
    let mut hello = moolai_tests::ws::handshake("quiet-1", true);
    hello["data"]["metadata"]["heartbeat_interval_sec"] = json!(1);
    send_json(&mut ws, &hello).await;
    assert!(env.becomes_active("quiet-1", Duration::from_secs(10)).await);

    // Silent on a live socket: inactive after 3 intervals, and the log says so.
    let line = wait_until(Duration::from_secs(15), || async {
        let (_, v) = api
            .get(&format!("{I}/logs?q=quiet-1%20marked%20inactive&limit=10"))
            .await;
        v["data"]["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty())
    })
    .await;
    assert!(line.is_some(), "no 'marked inactive' line");
    let (_, v) = api
        .get(&format!("{I}/logs?q=quiet-1%20marked%20inactive&limit=10"))
        .await;
    let message = v["data"]["items"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let limit: f64 = env
        .scalar(
            "SELECT liveness_ttl_sec FROM orchestrator_instances WHERE orchestrator_id = $1",
            "quiet-1",
        )
        .await
        .expect("a 1 s beater has a limit of its own");
    assert!(
        message.contains(&format!("(its limit: {} s)", limit.round())),
        "{message}"
    );
    assert!(
        !message.contains("120"),
        "the default TTL is not the reason: {message}"
    );
    drop(ws);
}
