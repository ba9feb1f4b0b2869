//! Restarts keep the fleet: an edge (or the whole stack, NATS keeping its data)
//! that starts again accepts every token issued before it, on the first try,
//! and still refuses the ones rotated away or revoked (issue 32, item 1).

use std::time::Duration;

use moolai_proto::secret::Secret;
use moolai_tests::api::{Api, I};
use moolai_tests::faults::NatsServer;
use moolai_tests::tokens::{
    connect_with_token, register, stack, upgrade_with_header, TOKEN_SECRET,
};
use moolai_tests::ws::{handshake, next_json, send_json};
use moolai_tests::{start_edge, TestEnv};

fn token_edge(env: &TestEnv, id: &str) -> moolai_edge::Config {
    let mut edge = env.edge_config(id);
    edge.orchestrator_token_secret = Some(Secret::from(TOKEN_SECRET.to_owned()));
    edge.require_orchestrator_token = true;
    edge
}

/// Tokens of three orchestrators: one as issued, one rotated (generation 2,
/// with the token it replaced), one revoked.
struct Fleet {
    issued: String,
    rotated: String,
    rotated_away: String,
    revoked: String,
}

async fn enroll_fleet(api: &Api, edge_url: &str) -> Fleet {
    let issued = register(api, "rs-issued").await;
    let rotated_away = register(api, "rs-rotated").await;
    let (status, body) = api
        .post(
            &format!("{I}/orchestrators/rs-rotated/token"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let rotated = body["orchestrator_token"].as_str().unwrap().to_owned();
    let revoked = register(api, "rs-revoked").await;
    // Connected once before the restart, as a real fleet was.
    drop(connect_with_token(edge_url, &issued, "rs-issued").await);
    drop(connect_with_token(edge_url, &rotated, "rs-rotated").await);
    let (status, _) = api
        .delete(&format!("{I}/orchestrators/rs-revoked/token"))
        .await;
    assert_eq!(status, 200);
    Fleet {
        issued,
        rotated,
        rotated_away,
        revoked,
    }
}

/// Right after a (re)start: the valid tokens connect on their first upgrade,
/// the others are refused.
async fn fleet_is_judged_as_before(edge_url: &str, fleet: &Fleet) {
    for (id, token) in [("rs-issued", &fleet.issued), ("rs-rotated", &fleet.rotated)] {
        let mut ws = upgrade_with_header(edge_url, Some(token))
            .await
            .unwrap_or_else(|status| {
                panic!("{id}'s token refused with {status} after the restart")
            });
        send_json(&mut ws, &handshake(id, true)).await;
        assert_eq!(next_json(&mut ws).await["type"], "handshake_ack", "{id}");
    }
    for (what, token) in [
        ("rotated away", &fleet.rotated_away),
        ("revoked", &fleet.revoked),
    ] {
        assert_eq!(
            upgrade_with_header(edge_url, Some(token)).await.err(),
            Some(401),
            "a {what} token was accepted after the restart"
        );
    }
}

#[tokio::test]
async fn a_restarted_edge_accepts_the_tokens_issued_before_it_started() {
    let env = TestEnv::new().await;
    let (_persister, core, edge) = stack(&env, "edge-rs").await;
    let api = Api::admin(core.addr).await;
    let fleet = enroll_fleet(&api, &edge.ws_url()).await;

    edge.stop().await;
    // Same id, a new process state: it knows only what it loads from the bus.
    // start_edge returns once /readyz says 200, which now waits for the load.
    let edge = start_edge(token_edge(&env, "edge-rs")).await;
    fleet_is_judged_as_before(&edge.ws_url(), &fleet).await;
}

#[tokio::test]
async fn the_whole_stack_restarted_on_the_same_nats_data_lets_its_fleet_back_in() {
    let Some(mut nats) = NatsServer::start().await else {
        eprintln!("NATS_SERVER_BIN not set; skipping (scripts/test.sh sets it)");
        return;
    };
    let mut env = TestEnv::new().await;
    env.nats_url = nats.url();
    env.provision_bus().await;
    let (persister, core, edge) = stack(&env, "edge-rs").await;
    let api = Api::admin(core.addr).await;
    let fleet = enroll_fleet(&api, &edge.ws_url()).await;

    edge.stop().await;
    core.stop().await;
    persister.stop().await;
    // As `scripts/stack.sh` stopped and started: the broker too, on its store.
    nats.kill().await;
    nats.restart().await;

    let (_persister, _core, edge) = stack(&env, "edge-rs").await;
    fleet_is_judged_as_before(&edge.ws_url(), &fleet).await;
    // And tracked again, not only let in.
    let _ws = connect_with_token(&edge.ws_url(), &fleet.issued, "rs-issued").await;
    assert!(
        env.becomes_active("rs-issued", Duration::from_secs(10))
            .await
    );
}
