//! A dead database or a dead broker has a defined answer: readiness says so, nothing
//! acknowledged is lost, and the roles recover by themselves.

use std::time::Duration;

use moolai_tests::barrier::instances_reach;
use moolai_tests::faults::TcpProxy;
use moolai_tests::http;
use moolai_tests::ws::{connect_as, next_json};
use moolai_tests::{start_core, start_edge, start_persister, wait_until, TestEnv};

#[tokio::test]
async fn events_during_a_database_outage_are_written_when_it_returns() {
    let env = TestEnv::new().await;
    let proxy = TcpProxy::start(moolai_tests::db_addr(&env.db_url)).await;
    let mut config = env.persister_config();
    let proxied = env.db_url.replace(
        &moolai_tests::db_addr(&env.db_url).to_string(),
        &proxy.addr.to_string(),
    );
    config.database_url = proxied.into();
    let persister = start_persister(config).await;
    let _core = start_core(env.core_config()).await;
    let edge = start_edge(env.edge_config("edge-1")).await;

    proxy.cut();
    let mut socks = Vec::new();
    for i in 0..5 {
        let mut sock = connect_as(&edge.ws_url(), &format!("dbo-{i}"), true).await;
        next_json(&mut sock).await;
        socks.push(sock);
    }
    let not_ready = wait_until(Duration::from_secs(10), || async {
        matches!(http::get(persister.addr, "/readyz").await, Ok((503, body)) if body.contains("database"))
    })
    .await;
    assert!(
        not_ready.is_some(),
        "readiness did not report the database outage"
    );

    proxy.restore();
    let written = instances_reach(&env, "active", 5, Duration::from_secs(20)).await;
    assert!(
        written.is_some(),
        "events acknowledged by the bus were lost in the outage"
    );
    assert!(matches!(
        http::get(persister.addr, "/readyz").await,
        Ok((200, _))
    ));
}

#[tokio::test]
async fn roles_report_a_lost_broker_and_recover_when_it_returns() {
    let Some((mut nats, env, stack)) = moolai_tests::stack_on_private_broker().await else {
        return;
    };
    let (persister, core, edge) = (&stack.persister, &stack.core, &stack.edge);

    nats.kill().await;
    for role in [persister, core, edge] {
        let down = wait_until(Duration::from_secs(10), || async {
            matches!(http::get(role.addr, "/readyz").await, Ok((503, body)) if body.contains("nats"))
        })
        .await;
        assert!(down.is_some(), "{} did not report NATS down", role.addr);
    }
    // An orchestrator arriving now is told to come back later, not left hanging.
    let mut sock = moolai_tests::ws::connect(&edge.ws_url()).await;
    moolai_tests::ws::send_json(&mut sock, &moolai_tests::ws::handshake("org-wait", true)).await;
    assert_eq!(
        moolai_tests::ws::expect_close(&mut sock).await,
        (1013, "try_again_later retry_after=1".into())
    );

    nats.restart().await;
    for role in [persister, core, edge] {
        let up = wait_until(Duration::from_secs(15), || async {
            matches!(http::get(role.addr, "/readyz").await, Ok((200, _)))
        })
        .await;
        assert!(up.is_some(), "{} did not recover", role.addr);
    }
    let mut sock = connect_as(&edge.ws_url(), "org-back", true).await;
    assert_eq!(next_json(&mut sock).await["type"], "provision_config");
    let written = wait_until(Duration::from_secs(10), || async {
        env.status("org-back").await.as_deref() == Some("active")
    })
    .await;
    assert!(written.is_some());
}
