//! Enrollment (issue 12): with tokens required, an orchestrator nobody registered
//! joins with an enrollment credential an admin created — once, within its
//! scope, and never as an id that exists.

use std::time::Duration;

use moolai_tests::api::{Api, I};
use moolai_tests::tokens::{connect_with_token, register, stack};
use moolai_tests::ws::next_of_type;
use moolai_tests::{wait_until, workspace_bin, Running, TestEnv};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

/// Creates an enrollment credential; its id and secret.
async fn create(api: &Api, scope: Value) -> (String, String) {
    let (status, body) = api.post(&format!("{I}/enrollment-tokens"), scope).await;
    assert_eq!(status, 200, "{body}");
    let secret = body["enrollment_token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("me1."), "{secret}");
    (
        body["enrollment"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

/// `POST /api/v1/enroll` as an orchestrator would send it.
async fn enroll(core: &Running, credential: Option<&str>, id: &str) -> (StatusCode, Value) {
    let api = Api::new(core.addr, credential);
    api.post("/api/v1/enroll", json!({ "orchestrator_id": id }))
        .await
}

#[tokio::test]
async fn an_unknown_id_enrolls_once_within_scope_and_connects_with_its_token() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-enroll").await;
    let api = Api::admin(core.addr).await;
    let (enrollment_id, secret) = create(
        &api,
        json!({"description": "lab hosts", "id_prefix": "lab-", "max_uses": 2}),
    )
    .await;

    let (status, listed) = api.get(&format!("{I}/enrollment-tokens")).await;
    assert_eq!(status, 200);
    let item = &listed["items"][0];
    assert_eq!(
        (
            item["id"].as_str(),
            item["uses"].as_i64(),
            item["state"].as_str()
        ),
        (Some(enrollment_id.as_str()), Some(0), Some("active"))
    );
    assert!(
        item.get("secret_hash").is_none() && !listed.to_string().contains(&secret),
        "the listing shows the secret: {listed}"
    );

    assert_eq!(enroll(&core, None, "lab-1").await.0, 401, "no credential");
    // Offered to an edge as if it were an orchestrator token: refused, saying why.
    let mut request = edge.ws_url().into_client_request().unwrap();
    let bearer = HeaderValue::from_str(&format!("Bearer {secret}")).unwrap();
    request.headers_mut().insert("authorization", bearer);
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401);
            let body =
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("/api/v1/enroll"), "{body}");
        }
        other => panic!(
            "an enrollment token opened a socket: {:?}",
            other.map(|_| ())
        ),
    }
    let (status, body) = enroll(&core, Some(&secret), "lab-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["organization_id"], "lab-1");
    let token = body["orchestrator_token"].as_str().unwrap().to_owned();
    let _sock = connect_with_token(&edge.ws_url(), &token, "lab-1").await;

    let (status, body) = enroll(&core, Some(&secret), "lab-1").await;
    assert_eq!(status, 409, "enrolled twice: {body}");
    let (status, body) = enroll(&core, Some(&secret), "other-1").await;
    assert_eq!(status, 403, "outside the scope: {body}");
    assert_eq!(env.status("other-1").await, None);
    assert_eq!(enroll(&core, Some(&secret), "lab-2").await.0, 200);
    let (status, body) = enroll(&core, Some(&secret), "lab-3").await;
    assert_eq!(status, 401, "past max_uses: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("used up"),
        "{body}"
    );
    assert_eq!(env.status("lab-3").await, None);

    let (_, audit) = api
        .get(&format!(
            "{I}/audit?action=enroll&actor=enrollment:{enrollment_id}"
        ))
        .await;
    let targets: Vec<&str> = audit["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["target"].as_str())
        .collect();
    assert_eq!(targets, ["lab-2", "lab-1"], "{audit}");
}

#[tokio::test]
async fn an_enrollment_token_never_takes_over_an_existing_id() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-enroll").await;
    let api = Api::admin(core.addr).await;
    let victim_token = register(&api, "org-victim").await;
    let mut victim = connect_with_token(&edge.ws_url(), &victim_token, "org-victim").await;
    let generation =
        "SELECT token_generation FROM orchestrator_instances WHERE orchestrator_id = $1";
    let before: Option<i64> = env.scalar(generation, "org-victim").await;

    let (_, secret) = create(&api, json!({})).await;
    let (status, body) = enroll(&core, Some(&secret), "org-victim").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.get("orchestrator_token").is_none());
    assert_eq!(env.scalar::<i64>(generation, "org-victim").await, before);

    // A deregistered id is not new either.
    let (status, _) = api
        .post(
            &format!("{I}/orchestrators/register"),
            json!({"organization_id": "org-gone"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .delete(&format!("{I}/orchestrators/org-gone/deregister"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(enroll(&core, Some(&secret), "org-gone").await.0, 409);

    // The victim still holds its socket: what is sent to it reaches it.
    let (status, _) = api
        .post(
            &format!("{I}/orchestrators/org-victim/send"),
            json!({"type": "still_yours"}),
        )
        .await;
    assert_eq!(status, 200);
    // A close instead fails the wait.
    next_of_type(&mut victim, "still_yours").await;
}

#[tokio::test]
async fn revoked_or_expired_enrollment_tokens_are_refused() {
    let env = TestEnv::new().await;
    let (_p, core, _edge) = stack(&env, "edge-enroll").await;
    let api = Api::admin(core.addr).await;
    let (revoked_id, revoked) = create(&api, json!({})).await;
    let (expired_id, expired) = create(&api, json!({"expires_in_sec": 3600})).await;

    let (status, _) = api
        .delete(&format!("{I}/enrollment-tokens/{revoked_id}"))
        .await;
    assert_eq!(status, 200);
    let (status, body) = enroll(&core, Some(&revoked), "new-1").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );

    // An hour is too long to wait: the credential's clock is moved instead.
    sqlx::query(
        "UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(&expired_id)
    .execute(&env.pool)
    .await
    .unwrap();
    let (status, body) = enroll(&core, Some(&expired), "new-1").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let (status, body) = enroll(&core, Some("me1.abc.not-a-real-secret"), "new-1").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        env.status("new-1").await,
        None,
        "a refused enrollment registered the id"
    );

    let (_, listed) = api.get(&format!("{I}/enrollment-tokens")).await;
    let state_of = |id: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .map(|e| e["state"].clone())
    };
    assert_eq!(state_of(&revoked_id), Some(json!("revoked")));
    assert_eq!(state_of(&expired_id), Some(json!("expired")));
}

#[tokio::test]
async fn an_organization_scoped_token_enrolls_into_that_organization() {
    let env = TestEnv::new().await;
    let (_p, core, _edge) = stack(&env, "edge-enroll").await;
    let api = Api::admin(core.addr).await;
    let (_, secret) = create(&api, json!({"organization_id": "acme"})).await;
    for id in ["acme-1", "acme-2"] {
        let (status, body) = enroll(&core, Some(&secret), id).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["organization_id"], "acme");
    }
    let org: Option<String> = env
        .scalar(
            "SELECT organization_id FROM orchestrator_instances WHERE orchestrator_id = $1",
            "acme-2",
        )
        .await;
    assert_eq!(org.as_deref(), Some("acme"));
}

/// The agent binary as one orchestrator, its output discarded.
fn agent(args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(workspace_bin("moolai-agent"))
        .args(args)
        .env_remove("ORCHESTRATOR_TOKEN")
        .env_remove("ORCHESTRATOR_ENROLLMENT_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moolai-agent runs (cargo build --bins)")
}

async fn wait_status(env: &TestEnv, id: &str, wanted: &str) {
    let reached = wait_until(Duration::from_secs(20), || async {
        env.status(id).await.as_deref() == Some(wanted)
    })
    .await;
    assert!(reached.is_some(), "{id} never became {wanted}");
}

#[tokio::test]
async fn the_agent_enrolls_once_and_then_connects_with_the_token_it_kept() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-enroll").await;
    let api = Api::admin(core.addr).await;
    let (_, secret) = create(&api, json!({"id_prefix": "agent-", "max_uses": 1})).await;
    let dir = std::env::temp_dir().join(format!("moolai-enroll-{}", env.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let (url, api_url) = (edge.ws_url(), format!("http://{}", core.addr));
    let common = [
        "--id",
        "agent-e1",
        "--url",
        &url,
        "--state-file",
        state.to_str().unwrap(),
        "--api-url",
        &api_url,
        "--interval",
        "1",
    ];

    let mut first = agent(&[&common[..], &["--enrollment-token", &secret]].concat());
    wait_status(&env, "agent-e1", "active").await;
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(
        kept["orchestrator_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("mo1.agent-e1.")),
        "{kept}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the state file holding a token is readable by others"
        );
    }
    first.kill().await.unwrap();
    wait_status(&env, "agent-e1", "inactive").await;

    // The credential is used up; the kept token is what lets it in again.
    let mut again = agent(&common);
    wait_status(&env, "agent-e1", "active").await;
    again.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
