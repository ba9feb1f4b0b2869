//! An edge cut off from NATS by the network (every packet dropped in a network
//! namespace, no RST, no FIN): it notices within 30 s, stops reporting ready,
//! keeps its socket loops running (controller heartbeats go on), then closes its
//! sockets with 1013 so agents move to an edge that still reaches the bus.
//! Needs root and iproute2; skipped (with a note) without them.

use std::time::Duration;

use moolai_agent::{Orchestrator, Stats};
use moolai_tests::netns::NatsBehindLinks;
use moolai_tests::ws::{connect_as, next, send_json, Next};
use moolai_tests::{free_port, http, start_edge, start_edge_on, wait_until, TestEnv};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn an_edge_cut_off_from_nats_stops_being_ready_and_its_agents_move() {
    let Some(nats) = NatsBehindLinks::start_or_skip(2).await else {
        return;
    };
    let mut env = TestEnv::new().await;
    env.nats_url = nats.url(1);
    env.provision_bus().await;
    let mut cut_config = env.edge_config("edge-cut");
    cut_config.service.nats.url = nats.url(0);
    cut_config.controller_heartbeat_sec = 1;
    cut_config.bus_lost_sec = 10;
    let cut_edge = start_edge(cut_config).await;
    // The other edge starts once every agent sits on the edge to be cut: agents
    // start at a random edge of their list, and the unreachable one rotates them.
    let other_port = free_port();
    let other_url = format!("ws://127.0.0.1:{other_port}/ws");

    let shutdown = CancellationToken::new();
    let mut agents = Vec::new();
    for i in 0..5 {
        let agent = Orchestrator::new(
            format!("mover-{i}"),
            vec![cut_edge.ws_url(), other_url.clone()],
            Duration::from_millis(500),
            "Mover",
            "lab",
        );
        agents.push(moolai_agent::spawn(
            agent,
            Stats::default(),
            shutdown.clone(),
        ));
    }
    let on = |url: String| {
        let agents = agents.clone();
        move || {
            let all = agents
                .iter()
                .all(|a| a.borrow().connected_to.as_deref() == Some(url.as_str()));
            async move { all }
        }
    };
    assert!(
        wait_until(Duration::from_secs(10), on(cut_edge.ws_url()))
            .await
            .is_some(),
        "agents never connected to the first edge"
    );
    let other_edge = start_edge_on(env.edge_config("edge-ok"), other_port).await;
    let mut watcher = connect_as(&cut_edge.ws_url(), "watcher", true).await;

    nats.cut(0);
    let cut_at = Instant::now();
    // The socket loop keeps going: controller heartbeats every second, our
    // heartbeats taken, until the edge closes the socket for the lost bus.
    let mut last_beat = Instant::now();
    let mut longest_gap = Duration::ZERO;
    let closed = loop {
        send_json(&mut watcher, &json!({"type": "i_am_alive"})).await;
        match tokio::time::timeout(Duration::from_millis(200), next(&mut watcher)).await {
            Err(_) => {}
            Ok(Next::Json(frame)) if frame["type"] == "controller_heartbeat" => {
                longest_gap = longest_gap.max(last_beat.elapsed());
                last_beat = Instant::now();
            }
            Ok(Next::Json(_)) => {}
            Ok(other) => break other,
        }
        assert!(cut_at.elapsed() < Duration::from_secs(60), "never closed");
    };
    let closed_after = cut_at.elapsed();
    let not_ready = wait_until(Duration::from_secs(1), || async {
        matches!(http::get(cut_edge.addr, "/readyz").await, Ok((503, _)))
    })
    .await;
    assert!(not_ready.is_some(), "the cut edge still reports ready");
    assert_eq!(
        closed,
        Next::Closed(1013, "bus_unavailable retry_after=1".into())
    );
    let moved = wait_until(Duration::from_secs(20), on(other_edge.ws_url())).await;
    eprintln!(
        "cut: sockets closed {closed_after:?} after the cut; longest controller-heartbeat gap \
         {longest_gap:?}; agents on the other edge {:?} after the close",
        moved
    );
    assert!(
        closed_after < Duration::from_secs(30),
        "noticed only after {closed_after:?}"
    );
    assert!(
        longest_gap < Duration::from_secs(2),
        "socket loop stalled: {longest_gap:?}"
    );
    assert!(moved.is_some(), "agents did not move to the other edge");
    shutdown.cancel();
}
