//! Fault runs under load: numbered messages stream in through an edge while a
//! part of the system is killed or cut; afterwards every message sent must be in
//! PostgreSQL exactly once. CI runs them short; `scripts/faults.sh full` runs
//! the sizes of the reliability issue (see docs/reliability.md):
//! `MOOLAI_FAULT_SECS` (length), `MOOLAI_FAULT_RATE` (messages/s),
//! `MOOLAI_FAULT_OUTAGE_SECS` (database / broker outage).

use std::time::Duration;

use moolai_tests::api::Api;
use moolai_tests::faults::TcpProxy;
use moolai_tests::load::{env_or, fault_secs, stored, MessagePump};
use moolai_tests::{
    free_port, http, persister_process, stack_on_private_broker, start_core, start_edge,
    start_persister, wait_until, TestEnv,
};
use serde_json::json;
use tokio::time::Instant;

/// Waits until every sent message is a row; returns how long that took.
async fn drained(env: &TestEnv, prefix: &str, sent: u64, limit: Duration) -> Duration {
    let took = wait_until(limit, || async {
        stored(&env.pool, prefix).await.0 >= sent as i64
    })
    .await;
    let (rows, distinct) = stored(&env.pool, prefix).await;
    assert_eq!(
        rows, sent as i64,
        "messages lost (sent {sent}, stored {rows})"
    );
    assert_eq!(distinct, rows, "duplicated rows");
    took.expect("checked above")
}

#[tokio::test]
async fn the_persister_killed_again_and_again_loses_and_duplicates_nothing() {
    let env = TestEnv::new().await;
    let port = free_port();
    let mut persister = persister_process(&env, port).await;
    let _core = start_core(env.core_config()).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    let rate = env_or("MOOLAI_FAULT_RATE", 100) as u32;
    let run = Duration::from_secs(fault_secs(12));
    let every = Duration::from_secs(env_or("MOOLAI_FAULT_KILL_EVERY", 4));

    let pump = MessagePump::start(&edge.ws_url(), "pk", rate).await;
    let started = Instant::now();
    let mut kills = 0;
    while started.elapsed() < run {
        tokio::time::sleep(every).await;
        persister.start_kill().expect("SIGKILL the persister");
        let _ = persister.wait().await;
        kills += 1;
        persister = persister_process(&env, port).await;
    }
    let sent = pump.stop().await;
    let took = drained(&env, "pk", sent, Duration::from_secs(60)).await;
    println!(
        "persister kill -9 every {every:?} for {run:?} at {rate} msg/s: {kills} kills, \
         {sent} sent, all stored once; drained {took:?} after the load stopped"
    );
}

#[tokio::test]
async fn a_database_outage_under_load_loses_nothing_and_drains_after_its_return() {
    let env = TestEnv::new().await;
    let db = moolai_tests::db_addr(&env.db_url);
    let proxy = TcpProxy::start(db).await;
    let proxied = env.db_url.replace(&db.to_string(), &proxy.addr.to_string());
    let mut config = env.persister_config();
    config.database_url = proxied.into();
    let persister = start_persister(config).await;
    let _core = start_core(env.core_config()).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    let rate = env_or("MOOLAI_FAULT_RATE", 100) as u32;
    let outage = Duration::from_secs(env_or("MOOLAI_FAULT_OUTAGE_SECS", 5));

    let pump = MessagePump::start(&edge.ws_url(), "dbo", rate).await;
    // Two seconds' worth of load before the cut, and as much after the return.
    let phase = 2 * u64::from(rate);
    pump.sends(phase).await;
    proxy.cut();
    let reported = wait_until(Duration::from_secs(10), || async {
        matches!(http::get(persister.addr, "/readyz").await, Ok((503, body)) if body.contains("database"))
    })
    .await;
    assert!(reported.is_some(), "readiness did not report the outage");
    tokio::time::sleep(outage.saturating_sub(reported.unwrap())).await;
    let during = pump.sent();
    proxy.restore();
    let back = Instant::now();
    pump.sends(phase).await;
    let sent = pump.stop().await;
    drained(&env, "dbo", sent, Duration::from_secs(120)).await;
    let drain = back.elapsed();
    assert!(matches!(
        http::get(persister.addr, "/readyz").await,
        Ok((200, _))
    ));
    println!(
        "database away {outage:?} at {rate} msg/s: {during} sent before its return, {sent} in all, \
         every one stored once {drain:?} after it returned (readiness said so after {reported:?})"
    );
}

#[tokio::test]
async fn a_broker_restart_under_load_loses_nothing_and_rest_writes_fail_fast() {
    let Some((mut nats, env, stack)) = stack_on_private_broker().await else {
        return;
    };
    let (persister, core, edge) = (&stack.persister, &stack.core, &stack.edge);
    let api = Api::admin(core.addr).await;
    let rate = env_or("MOOLAI_FAULT_RATE", 100) as u32;
    let outage = Duration::from_secs(env_or("MOOLAI_FAULT_OUTAGE_SECS", 5));

    let pump = MessagePump::start(&edge.ws_url(), "nr", rate).await;
    // Two seconds' worth of load before the kill, and as much after the restart.
    let phase = 2 * u64::from(rate);
    pump.sends(phase).await;
    nats.kill().await;
    let asked = Instant::now();
    let (status, body) = api
        .post(
            "/api/v1/controller/organizations",
            json!({"org_id": "org-during", "name": "During"}),
        )
        .await;
    let answered = asked.elapsed();
    assert_eq!(status, 503, "a write during the outage: {body}");
    assert!(
        answered < Duration::from_secs(5),
        "503 only after {answered:?}"
    );
    tokio::time::sleep(outage.saturating_sub(asked.elapsed())).await;
    nats.restart().await;
    let back = Instant::now();
    for role in [persister, core, edge] {
        let up = wait_until(Duration::from_secs(10), || async {
            matches!(http::get(role.addr, "/readyz").await, Ok((200, _)))
        })
        .await;
        assert!(up.is_some(), "{} not back within 10 s", role.addr);
    }
    let reconnected = back.elapsed();
    pump.sends(phase).await;
    let sent = pump.stop().await;
    let took = drained(&env, "nr", sent, Duration::from_secs(60)).await;
    println!(
        "broker down {outage:?} at {rate} msg/s: REST write 503 in {answered:?}; every role ready \
         {reconnected:?} after the restart; {sent} sent, all stored once ({took:?} after the load stopped)"
    );
}
