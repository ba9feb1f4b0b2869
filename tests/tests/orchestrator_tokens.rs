//! With tokens required, only the holder of an orchestrator's current token can
//! connect as that orchestrator; rotation and revocation take effect at once.

use std::time::Duration;

use moolai_proto::secret::Secret;
use moolai_tests::api::{Api, I};
use moolai_tests::ws::{expect_close, handshake, next_json, send_json};
use moolai_tests::{start_core, start_edge, start_persister, wait_until, Running, TestEnv};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

/// At least 32 bytes, as core and edges require.
const SECRET: &str = "test-token-secret-0123456789abcdefghij";

async fn stack(env: &TestEnv) -> (Running, Running, Running) {
    let persister = start_persister(env.persister_config()).await;
    let mut core = env.core_config();
    core.orchestrator_token_secret = Some(Secret::from(SECRET.to_owned()));
    let core = start_core(core).await;
    let mut edge = env.edge_config("edge-tok");
    edge.orchestrator_token_secret = Some(Secret::from(SECRET.to_owned()));
    edge.require_orchestrator_token = true;
    let edge = start_edge(edge).await;
    (persister, core, edge)
}

/// Connects with `token` in the Authorization header; `Err(status)` if refused.
async fn connect(url: &str, token: Option<&str>) -> Result<moolai_tests::ws::Ws, u16> {
    let mut request = url.into_client_request().unwrap();
    if let Some(t) = token {
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => Err(resp.status().as_u16()),
        Err(other) => panic!("unexpected: {other}"),
    }
}

#[tokio::test]
async fn only_the_current_token_of_an_orchestrator_lets_it_connect() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env).await;
    let api = Api::admin(core.addr).await;
    let (status, reg) = api
        .post(
            &format!("{I}/orchestrators/register"),
            serde_json::json!({"organization_id": "tok-a"}),
        )
        .await;
    assert_eq!(status, 200, "{reg}");
    let token_a = reg["orchestrator_token"]
        .as_str()
        .expect("register issues a token")
        .to_owned();
    api.post(
        &format!("{I}/orchestrators/register"),
        serde_json::json!({"organization_id": "tok-b"}),
    )
    .await;

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
    let accepted = wait_until(Duration::from_secs(5), || {
        let (url, t) = (edge.ws_url(), token_a.clone());
        async move { connect(&url, Some(&t)).await.is_ok() }
    })
    .await;
    assert!(accepted.is_some(), "a valid token was refused");

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
    let old_refused = wait_until(Duration::from_secs(5), || {
        let (url, t) = (edge.ws_url(), token_a.clone());
        async move { connect(&url, Some(&t)).await.err() == Some(401) }
    })
    .await;
    assert!(old_refused.is_some(), "a rotated-away token still works");
    let mut live = connect(&edge.ws_url(), Some(&token_new))
        .await
        .expect("the new token works");
    send_json(&mut live, &handshake("tok-a", true)).await;
    assert_eq!(next_json(&mut live).await["type"], "handshake_ack");
    assert!(env.becomes_active("tok-a", Duration::from_secs(5)).await);
    let (status, _) = api.delete(&format!("{I}/orchestrators/tok-a/token")).await;
    assert_eq!(status, 200);
    assert_eq!(
        expect_close(&mut live).await,
        (4003, "token_revoked".into())
    );
    let refused = wait_until(Duration::from_secs(5), || {
        let (url, t) = (edge.ws_url(), token_new.clone());
        async move { connect(&url, Some(&t)).await.err() == Some(401) }
    })
    .await;
    assert!(refused.is_some(), "a revoked token still works");
}

#[tokio::test]
async fn rotating_a_token_closes_the_socket_that_used_the_old_one() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env).await;
    let api = Api::admin(core.addr).await;
    let (status, reg) = api
        .post(
            &format!("{I}/orchestrators/register"),
            serde_json::json!({"organization_id": "tok-rot"}),
        )
        .await;
    assert_eq!(status, 200, "{reg}");
    let old = reg["orchestrator_token"].as_str().unwrap().to_owned();
    let accepted = wait_until(Duration::from_secs(5), || {
        let (url, t) = (edge.ws_url(), old.clone());
        async move { connect(&url, Some(&t)).await.is_ok() }
    })
    .await;
    assert!(accepted.is_some(), "a valid token was refused");
    let mut sock = connect(&edge.ws_url(), Some(&old)).await.unwrap();
    send_json(&mut sock, &handshake("tok-rot", true)).await;
    assert_eq!(next_json(&mut sock).await["type"], "handshake_ack");
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
    let refused = wait_until(Duration::from_secs(5), || {
        let (url, t) = (edge.ws_url(), old.clone());
        async move { connect(&url, Some(&t)).await.err() == Some(401) }
    })
    .await;
    assert!(refused.is_some(), "the rotated-away token still works");
    let new = rotated["orchestrator_token"].as_str().unwrap();
    let mut sock = connect(&edge.ws_url(), Some(new)).await.unwrap();
    send_json(&mut sock, &handshake("tok-rot", true)).await;
    assert_eq!(next_json(&mut sock).await["type"], "handshake_ack");
}
