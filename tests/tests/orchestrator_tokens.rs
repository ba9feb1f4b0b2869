//! With tokens required, only the holder of an orchestrator's current token can
//! connect as that orchestrator; rotation and revocation take effect at once.

use std::time::Duration;

use moolai_tests::api::{Api, I};
use moolai_tests::tokens::{
    connect_with_token, edge_answers, register, stack, upgrade_with_header as connect,
};
use moolai_tests::ws::{expect_close, handshake, next_json, send_json};
use moolai_tests::TestEnv;

#[tokio::test]
async fn only_the_current_token_of_an_orchestrator_lets_it_connect() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-tok").await;
    let api = Api::admin(core.addr).await;
    let token_a = register(&api, "tok-a").await;
    register(&api, "tok-b").await;

    assert_eq!(
        connect(&edge.ws_url(), None).await.err(),
        Some(401),
        "no token"
    );
    assert_eq!(
        connect(&edge.ws_url(), Some("mo1.tok-a.1.forged"))
            .await
            .err(),
        Some(401),
        "forged"
    );

    // The KV update reaches the edge asynchronously; the token works once it has.
    assert!(
        edge_answers(&edge.ws_url(), &token_a, None).await,
        "a valid token was refused"
    );

    // Its token cannot be used to pose as another orchestrator.
    let mut sock = connect(&edge.ws_url(), Some(&token_a)).await.unwrap();
    send_json(&mut sock, &handshake("tok-b", true)).await;
    assert_eq!(
        expect_close(&mut sock).await,
        (1008, "token_mismatch".into())
    );

    // The first-version client puts it in the URL.
    let mut sock = connect(&format!("{}?token={token_a}", edge.ws_url()), None)
        .await
        .expect("?token= accepted");
    send_json(&mut sock, &handshake("tok-a", false)).await;
    assert_eq!(next_json(&mut sock).await["type"], "handshake_ack");

    // Rotation voids the old token; revocation also closes the live socket.
    let (status, rotated) = api
        .post(
            &format!("{I}/orchestrators/tok-a/token"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let token_new = rotated["orchestrator_token"].as_str().unwrap().to_owned();
    assert!(
        edge_answers(&edge.ws_url(), &token_a, Some(401)).await,
        "a rotated-away token still works"
    );
    let mut live = connect_with_token(&edge.ws_url(), &token_new, "tok-a").await;
    assert!(env.becomes_active("tok-a", Duration::from_secs(5)).await);
    let (status, _) = api.delete(&format!("{I}/orchestrators/tok-a/token")).await;
    assert_eq!(status, 200);
    assert_eq!(
        expect_close(&mut live).await,
        (4003, "token_revoked".into())
    );
    assert!(
        edge_answers(&edge.ws_url(), &token_new, Some(401)).await,
        "a revoked token still works"
    );
}

#[tokio::test]
async fn rotating_a_token_closes_the_socket_that_used_the_old_one() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-tok").await;
    let api = Api::admin(core.addr).await;
    let old = register(&api, "tok-rot").await;
    let mut sock = connect_with_token(&edge.ws_url(), &old, "tok-rot").await;
    assert!(env.becomes_active("tok-rot", Duration::from_secs(5)).await);

    let (status, rotated) = api
        .post(
            &format!("{I}/orchestrators/tok-rot/token"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(
        expect_close(&mut sock).await,
        (4003, "token_rotated".into())
    );
    // Its reconnect with the old token is refused; the new one works.
    assert!(
        edge_answers(&edge.ws_url(), &old, Some(401)).await,
        "the rotated-away token still works"
    );
    let new = rotated["orchestrator_token"].as_str().unwrap();
    connect_with_token(&edge.ws_url(), new, "tok-rot").await;
}

#[tokio::test]
async fn registering_an_id_again_keeps_the_token_it_is_using() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-tok").await;
    let api = Api::admin(core.addr).await;
    let token = register(&api, "tok-again").await;
    let live = connect_with_token(&edge.ws_url(), &token, "tok-again").await;
    assert!(
        env.becomes_active("tok-again", Duration::from_secs(5))
            .await
    );

    // The spec's idempotent upsert, run again with a change.
    let path = format!("{I}/orchestrators/register");
    let body = serde_json::json!({"organization_id": "tok-again", "location": "Lyon"});
    let (status, again) = api.post(&path, body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    assert!(again["orchestrator_token"].is_null(), "{again}");
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("token is unchanged"),
        "{again}"
    );
    assert_eq!(
        env.scalar::<String>(
            "SELECT location FROM orchestrator_instances WHERE orchestrator_id = $1",
            "tok-again"
        )
        .await
        .as_deref(),
        Some("Lyon")
    );
    // The token still opens a new socket, on the first try.
    drop(live);
    let mut second = connect(&edge.ws_url(), Some(&token))
        .await
        .expect("the token still works after registering again");
    send_json(&mut second, &handshake("tok-again", true)).await;
    assert_eq!(next_json(&mut second).await["type"], "handshake_ack");
}

#[tokio::test]
async fn a_token_from_before_a_deregistration_stays_void_after_registering_again() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-tok").await;
    let api = Api::admin(core.addr).await;
    let old = register(&api, "tok-back").await;
    drop(connect_with_token(&edge.ws_url(), &old, "tok-back").await);
    let (status, _) = api
        .delete(&format!("{I}/orchestrators/tok-back/deregister"))
        .await;
    assert_eq!(status, 200);
    // Refused at the upgrade, not acknowledged and then closed 4001.
    assert!(
        edge_answers(&edge.ws_url(), &old, Some(401)).await,
        "a deregistered orchestrator's token still passes the upgrade"
    );
    // A new row starts without a token; the one it issues must not equal the old.
    let new = register(&api, "tok-back").await;
    assert_ne!(new, old);
    connect_with_token(&edge.ws_url(), &new, "tok-back").await;
    assert_eq!(
        connect(&edge.ws_url(), Some(&old)).await.err(),
        Some(401),
        "the token from before the deregistration works again"
    );
}

#[tokio::test]
async fn one_token_cannot_fill_the_edge_s_handshake_backlog() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-tok").await;
    let api = Api::admin(core.addr).await;
    let token = register(&api, "tok-hog").await;
    let other = register(&api, "tok-other").await;
    assert!(edge_answers(&edge.ws_url(), &token, None).await);

    // Upgraded, never handshaking: each holds a place until the handshake timeout.
    let held_a = connect(&edge.ws_url(), Some(&token)).await.unwrap();
    let _held_b = connect(&edge.ws_url(), Some(&token)).await.unwrap();
    assert_eq!(
        connect(&edge.ws_url(), Some(&token)).await.err(),
        Some(429),
        "a third handshake in progress for one orchestrator"
    );
    // Everyone else still gets in.
    connect_with_token(&edge.ws_url(), &other, "tok-other").await;
    drop(held_a);
    assert!(
        edge_answers(&edge.ws_url(), &token, None).await,
        "a place given back is not taken again"
    );
}
