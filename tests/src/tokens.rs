//! Orchestrator tokens in tests: a stack whose edge requires them, registering
//! an organization for one, and WebSocket upgrades that carry one.

use std::time::Duration;

use moolai_proto::secret::Secret;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::api::{Api, I};
use crate::ws::{handshake, next_json, send_json, Ws};
use crate::{start_core, start_edge, start_persister, wait_until, Running, TestEnv};

/// The secret tokens are signed with: at least 32 bytes, as core and edges require.
pub const TOKEN_SECRET: &str = "test-token-secret-0123456789abcdefghij";

/// How long a new token generation may take to reach an edge (through the KV
/// bucket, asynchronously).
const TOKEN_WAIT: Duration = Duration::from_secs(5);

/// Core's configuration with [`TOKEN_SECRET`].
pub fn core_config(env: &TestEnv) -> moolai_core::Config {
    let mut config = env.core_config();
    config.orchestrator_token_secret = Some(Secret::from(TOKEN_SECRET.to_owned()));
    config
}

/// Persister, core and an edge called `edge_id` that requires tokens.
pub async fn stack(env: &TestEnv, edge_id: &str) -> (Running, Running, Running) {
    let persister = start_persister(env.persister_config()).await;
    let core = start_core(core_config(env)).await;
    let mut edge = env.edge_config(edge_id);
    edge.orchestrator_token_secret = Some(Secret::from(TOKEN_SECRET.to_owned()));
    edge.require_orchestrator_token = true;
    let edge = start_edge(edge).await;
    (persister, core, edge)
}

/// Registers organization `id` (its orchestrator too); the token it is issued.
pub async fn register(api: &Api, id: &str) -> String {
    let path = format!("{I}/orchestrators/register");
    let (status, body) = api.post(&path, json!({"organization_id": id})).await;
    assert_eq!(status, 200, "{body}");
    body["orchestrator_token"]
        .as_str()
        .expect("register issues a token")
        .to_owned()
}

/// Upgrades with `token` in the Authorization header; the HTTP status if the
/// upgrade is refused.
pub async fn upgrade_with_header(url: &str, token: Option<&str>) -> Result<Ws, u16> {
    let mut request = url.into_client_request().unwrap();
    if let Some(t) = token {
        let bearer = HeaderValue::from_str(&format!("Bearer {t}")).unwrap();
        request.headers_mut().insert("authorization", bearer);
    }
    upgrade(request).await
}

/// Upgrades with `token` in the URL, as the first-version client does; the
/// HTTP status if the upgrade is refused.
pub async fn upgrade_with_query(url: &str, token: Option<&str>) -> Result<Ws, u16> {
    let url = match token {
        Some(t) => format!("{url}?token={t}"),
        None => url.to_owned(),
    };
    upgrade(url.into_client_request().unwrap()).await
}

async fn upgrade(request: Request) -> Result<Ws, u16> {
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => Err(resp.status().as_u16()),
        Err(other) => panic!("unexpected: {other}"),
    }
}

/// Waits until the edge at `url` answers an upgrade with `token` as `refused`
/// says (`None`: accepted, `Some(status)`: refused so); whether it did in time.
pub async fn edge_answers(url: &str, token: &str, refused: Option<u16>) -> bool {
    wait_until(TOKEN_WAIT, || async {
        upgrade_with_header(url, Some(token)).await.err() == refused
    })
    .await
    .is_some()
}

/// Connects with `token` once the edge knows it and handshakes as `id`; the
/// socket after the ack.
pub async fn connect_with_token(url: &str, token: &str, id: &str) -> Ws {
    assert!(
        edge_answers(url, token, None).await,
        "the token of {id} was refused"
    );
    let mut ws = upgrade_with_header(url, Some(token)).await.unwrap();
    send_json(&mut ws, &handshake(id, true)).await;
    assert_eq!(next_json(&mut ws).await["type"], "handshake_ack");
    ws
}
