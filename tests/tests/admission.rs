//! Admission control (issue 16): an edge whose handshake backlog is at its bound
//! answers a further upgrade at once with 503 and `Retry-After`, and an agent
//! refused that way comes back by itself once the backlog clears.

use std::time::Duration;

use moolai_agent::{Orchestrator, Stats};
use moolai_tests::ws::{connect, handshake, next_json, send_json};
use moolai_tests::{http, start_edge, wait_until, TestEnv};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_util::sync::CancellationToken;

fn agent(id: &str, url: String) -> Orchestrator {
    Orchestrator::new(
        id,
        vec![url],
        Duration::from_secs(5),
        format!("Org {id}"),
        "lab",
    )
}

/// The edge's value of `metric` (the first sample of it whose line holds `labels`).
async fn metric(addr: std::net::SocketAddr, metric: &str, labels: &str) -> Option<f64> {
    let (_, body) = http::get(addr, "/metrics").await.ok()?;
    body.lines()
        .find(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with([' ', '{']) && rest.contains(labels))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_full_handshake_backlog_answers_503_with_retry_after_and_the_agent_comes_back() {
    let env = TestEnv::new().await;
    let mut config = env.edge_config("edge-adm");
    config.max_pending_handshakes = 1;
    config.retry_after_sec = 1;
    // Long enough that only our closing it clears the backlog.
    config.handshake_timeout_sec = 60;
    let edge = start_edge(config).await;

    // An upgrade that never sends its handshake holds the backlog's one place.
    let holder = connect(&edge.ws_url()).await;
    let refused = tokio_tungstenite::connect_async(edge.ws_url())
        .await
        .expect_err("a second upgrade is refused while the first handshake is pending");
    let WsError::Http(response) = refused else {
        panic!("expected an HTTP answer, got {refused:?}");
    };
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
    assert!(body.contains("retry after 1 s"), "body: {body}");
    assert_eq!(
        metric(edge.addr, "moolai_edge_handshakes_pending", "").await,
        Some(1.0)
    );
    assert!(
        metric(
            edge.addr,
            "moolai_edge_handshakes_refused_total",
            "reason=\"backlog\""
        )
        .await
        .is_some_and(|n| n >= 1.0),
        "the refusal is counted"
    );

    // An agent arriving now is refused with the hint and keeps trying.
    let stats = Stats::default();
    let shutdown = CancellationToken::new();
    let status = moolai_agent::spawn(
        agent("org-admitted", edge.ws_url()),
        stats.clone(),
        shutdown.clone(),
    );
    let hinted = wait_until(Duration::from_secs(10), || async {
        stats.snapshot().refused_with_hint >= 1
    })
    .await;
    assert!(hinted.is_some(), "the agent was not refused with a hint");
    assert_eq!(status.borrow().connected_to, None);

    // The pending upgrade goes away: the agent gets in by itself, unhelped.
    drop(holder);
    let back = wait_until(Duration::from_secs(15), || async {
        status.borrow().connected_to.is_some()
    })
    .await;
    assert!(
        back.is_some(),
        "the agent did not come back once the backlog cleared"
    );
    let figures = stats.snapshot();
    assert_eq!(figures.errors, 0, "a hinted refusal is not an error");
    assert_eq!(figures.connects, 1);

    // A completed handshake leaves the backlog: a raw client now gets its ack.
    let mut sock = connect(&edge.ws_url()).await;
    send_json(&mut sock, &handshake("org-raw", false)).await;
    assert_eq!(next_json(&mut sock).await["type"], "handshake_ack");
    shutdown.cancel();
}
