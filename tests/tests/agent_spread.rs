//! A fleet handed the same list of edges spreads over all of them: each
//! orchestrator starts at a random edge of its list (it used to be the first).

use std::collections::HashMap;
use std::time::Duration;

use moolai_agent::{Orchestrator, Stats};
use moolai_tests::{start_edge, wait_until, TestEnv};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn twenty_agents_given_two_edges_sit_on_both() {
    let env = TestEnv::new().await;
    let first = start_edge(env.edge_config("edge-a")).await;
    let second = start_edge(env.edge_config("edge-b")).await;
    let urls = vec![first.ws_url(), second.ws_url()];
    let shutdown = CancellationToken::new();
    let statuses: Vec<_> = (0..20)
        .map(|i| {
            let agent = Orchestrator::new(
                format!("spread-{i}"),
                urls.clone(),
                Duration::from_secs(5),
                format!("Spread {i}"),
                "lab",
            );
            moolai_agent::spawn(agent, Stats::default(), shutdown.clone())
        })
        .collect();
    let all_connected = wait_until(Duration::from_secs(20), || async {
        statuses.iter().all(|s| s.borrow().connected_to.is_some())
    })
    .await;
    assert!(all_connected.is_some(), "not every agent connected");
    let mut per_edge: HashMap<String, usize> = HashMap::new();
    for status in &statuses {
        let url = status.borrow().connected_to.clone().unwrap();
        *per_edge.entry(url).or_default() += 1;
    }
    // Each count is Binomial(20, 1/2): all twenty on one edge once in ~500,000 runs.
    for url in &urls {
        assert!(
            per_edge.get(url).copied().unwrap_or(0) > 0,
            "no agent on {url}: {per_edge:?}"
        );
    }
    shutdown.cancel();
}
