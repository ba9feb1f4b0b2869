//! Nothing acknowledged is lost when a role stops or dies.

use std::time::Duration;

use moolai_agent::{Orchestrator, Stats};
use moolai_proto::EventKind;
use moolai_tests::barrier::{count_reaches, instances_reach, PublishedEvents};
use moolai_tests::ws::{connect_as, next_json};
use moolai_tests::{
    edge_process, free_port, start_core, start_edge, start_persister, wait_until, TestEnv,
};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn events_during_a_persister_outage_are_written_after_its_restart() {
    let env = TestEnv::new().await;
    let persister = start_persister(env.persister_config()).await;
    let _core = start_core(env.core_config()).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    persister.stop().await;

    // While it is down: ten connect, the first five leave again, and two of those
    // come back on a new connection.
    let events = PublishedEvents::open(&env).await;
    let mut socks = Vec::new();
    for i in 0..10 {
        let mut sock = connect_as(&edge.ws_url(), &format!("o-{i}"), true).await;
        next_json(&mut sock).await; // provision_config
        socks.push(sock);
    }
    for sock in socks.iter_mut().take(5) {
        sock.close(None).await.unwrap();
    }
    // Every goodbye is on the bus before two of them come back.
    let mut last = 0;
    for i in 0..5 {
        let id = format!("o-{i}");
        last = last.max(events.after(EventKind::Disconnect, &id, 0).await);
    }
    let mut back = Vec::new();
    for i in [0, 1] {
        let id = format!("o-{i}");
        back.push(connect_as(&edge.ws_url(), &id, true).await);
        events.after(EventKind::Handshake, &id, last).await;
    }
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM orchestrator_instances")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(
        none, 0,
        "nothing can be written while the persister is down"
    );

    let _persister = start_persister(env.persister_config()).await;
    let expected: Vec<(String, String)> = (0..10)
        .map(|i| {
            (
                format!("o-{i}"),
                if (2..5).contains(&i) {
                    "inactive"
                } else {
                    "active"
                }
                .to_owned(),
            )
        })
        .collect();
    let settled = wait_until(Duration::from_secs(10), || async {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT orchestrator_id, status FROM orchestrator_instances ORDER BY orchestrator_id",
        )
        .fetch_all(&env.pool)
        .await
        .unwrap();
        rows == expected
    })
    .await;
    assert!(
        settled.is_some(),
        "rows after replay differ from what happened"
    );
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(orgs, 10);
}

#[tokio::test]
async fn an_undecodable_event_is_dead_lettered_and_the_rest_still_written() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    // An edge's credentials: edges are who publish events.
    let js = async_nats::jetstream::new(env.bus_client("edge").await);
    let subject = format!("{}.events.handshake.poison", env.prefix);
    js.publish(subject, "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let _sock = connect_as(&stack.edge.ws_url(), "org-after-poison", true).await;
    let written = wait_until(Duration::from_secs(5), || async {
        env.status("org-after-poison").await.as_deref() == Some("active")
    })
    .await;
    assert!(written.is_some(), "a poison message blocked the consumer");
    let dead_name = format!("{}_deadletter", env.prefix);
    let kept = wait_until(Duration::from_secs(5), || {
        let (js, name) = (js.clone(), dead_name.clone());
        async move {
            js.get_stream(name)
                .await
                .unwrap()
                .info()
                .await
                .unwrap()
                .state
                .messages
                == 1
        }
    })
    .await;
    assert!(
        kept.is_some(),
        "the poison message was not kept as a dead letter"
    );
}

#[tokio::test]
async fn a_restarted_core_provisions_handshakes_it_missed() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    stack.core.stop().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-missed", true).await;
    let _core = start_core(env.core_config()).await;
    // Usually immediate; if the stopped core's last pull request still held the
    // event, it is redelivered after the consumer's ack wait (30 s).
    let frame = tokio::time::timeout(Duration::from_secs(40), async {
        use futures::StreamExt;
        while let Some(Ok(msg)) = sock.next().await {
            if msg
                .to_text()
                .unwrap_or_default()
                .contains("\"provision_config\"")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        frame,
        Ok(true),
        "the missed handshake was never provisioned"
    );
}

#[tokio::test]
async fn agents_move_to_the_other_edge_within_ten_seconds_when_one_is_killed() {
    // 20 in CI; `scripts/faults.sh full` runs 5,000 (MOOLAI_FAULT_AGENTS).
    let agents = moolai_tests::load::env_or("MOOLAI_FAULT_AGENTS", 20) as usize;
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let _core = start_core(env.core_config()).await;
    let (port1, port2) = (free_port(), free_port());
    let mut edge1 = edge_process(&env, "edge-a", port1).await;
    let (url1, url2) = (
        format!("ws://127.0.0.1:{port1}/ws"),
        format!("ws://127.0.0.1:{port2}/ws"),
    );

    let shutdown = CancellationToken::new();
    let stats = Stats::default();
    let watchers: Vec<_> = (0..agents)
        .map(|i| {
            let orchestrator = Orchestrator::new(
                format!("fo-{i}"),
                vec![url1.clone(), url2.clone()],
                Duration::from_secs(1),
                format!("Failover {i}"),
                "lab",
            );
            moolai_agent::spawn(orchestrator, stats.clone(), shutdown.clone())
        })
        .collect();
    let all_on = |url: String| {
        let watchers = watchers.clone();
        move || {
            let url = url.clone();
            let ok = watchers
                .iter()
                .all(|w| w.borrow().connected_to.as_deref() == Some(url.as_str()));
            async move { ok }
        }
    };
    let arrived = wait_until(Duration::from_secs(60), all_on(url1.clone())).await;
    assert!(arrived.is_some(), "agents never all reached edge-a");
    // edge-b starts only now: agents pick a random edge of their list first, and
    // this test needs them all on the one it kills (the unreachable one rotated them).
    let _edge2 = edge_process(&env, "edge-b", port2).await;

    edge1.start_kill().expect("SIGKILL edge-a");
    let moved = wait_until(Duration::from_secs(10), all_on(url2.clone())).await;
    let took = moved.expect("agents not all on edge-b within 10 s");
    println!("failover of {agents} agents took {took:?} (all on edge-a {arrived:?} after start)");
    let sql = "SELECT count(*) FROM orchestrator_instances WHERE edge_id = 'edge-b' AND status = 'active'";
    let on_b = count_reaches(&env, sql, agents as i64, Duration::from_secs(5)).await;
    // Only now: stopping the agents disconnects them, which would race the check.
    shutdown.cancel();
    assert!(
        on_b.is_some(),
        "the database does not show every agent active on edge-b"
    );
    // Every goodbye is stored too: no disconnect event lost.
    let gone = instances_reach(&env, "active", 0, Duration::from_secs(60)).await;
    assert!(
        gone.is_some(),
        "disconnects lost: agents still active after stopping"
    );
    println!("all {agents} disconnects stored {gone:?} after the agents stopped");
}
