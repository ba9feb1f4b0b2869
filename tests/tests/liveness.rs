//! Liveness without flapping: an orchestrator that announces its heartbeat
//! interval is judged by it — a lossy link (one heartbeat in three lost) never
//! flips it to inactive, and a silent one is inactive between 2× and 3.5× its
//! interval. `MOOLAI_FAULT_SECS` lengthens the lossy run (600 for the full
//! 10-minute version; CI runs 20 s).

use std::time::Duration;

use futures::StreamExt;
use moolai_agent::{Orchestrator, Stats};
use moolai_tests::load::fault_secs;
use moolai_tests::ws::{connect, handshake, next_json, send_json};
use moolai_tests::{wait_until, TestEnv};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn losing_one_heartbeat_in_three_never_flaps_an_orchestrator() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let shutdown = CancellationToken::new();
    let stats = Stats::default();
    let agent = Orchestrator {
        drop_heartbeat_every: 3,
        ..Orchestrator::new(
            "lossy",
            vec![stack.edge.ws_url()],
            Duration::from_secs(1),
            "Lossy",
            "lab",
        )
    };
    moolai_agent::spawn(agent, stats.clone(), shutdown.clone());
    let active = wait_until(Duration::from_secs(10), || async {
        env.status("lossy").await.as_deref() == Some("active")
    })
    .await;
    assert!(active.is_some(), "never active");

    let run = Duration::from_secs(fault_secs(20));
    let started = Instant::now();
    let mut changes = Vec::new();
    let mut last = "active".to_owned();
    while started.elapsed() < run {
        let now = env.status("lossy").await.unwrap_or_default();
        if now != last {
            changes.push((started.elapsed(), now.clone()));
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = stats.snapshot().heartbeats;
    eprintln!("lossy link: {sent} heartbeats sent over {run:?} (every 3rd left out), status changes: {changes:?}");
    assert!(changes.is_empty(), "status flapped: {changes:?}");
    assert!(sent >= run.as_secs() / 2, "the agent hardly sent anything");
    shutdown.cancel();
}

#[tokio::test]
async fn a_silent_orchestrator_is_inactive_between_two_and_three_and_a_half_intervals() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let interval = Duration::from_secs(2);
    let mut frame = handshake("silent", true);
    frame["data"]["metadata"]["heartbeat_interval_sec"] = json!(interval.as_secs_f64());
    let mut ws = connect(&stack.edge.ws_url()).await;
    send_json(&mut ws, &frame).await;
    assert_eq!(next_json(&mut ws).await["type"], "handshake_ack");
    for _ in 0..3 {
        send_json(&mut ws, &json!({"type": "i_am_alive"})).await;
        tokio::time::sleep(interval).await;
    }
    send_json(&mut ws, &json!({"type": "i_am_alive"})).await;
    let silent_since = Instant::now();
    // The socket stays open (read in the background); only the heartbeats stop.
    let reader = tokio::spawn(async move { while ws.next().await.is_some() {} });
    let inactive = wait_until(interval * 5, || async {
        env.status("silent").await.as_deref() == Some("inactive")
    })
    .await;
    let after = silent_since.elapsed();
    reader.abort();
    assert!(
        inactive.is_some(),
        "still active {after:?} after falling silent"
    );
    let ratio = after.as_secs_f64() / interval.as_secs_f64();
    eprintln!("silent orchestrator inactive after {after:?} = {ratio:.2} intervals");
    assert!(
        (2.0..=3.5).contains(&ratio),
        "inactive after {ratio:.2} intervals (want 2–3.5)"
    );
}
