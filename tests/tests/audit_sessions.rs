//! Admin actions are audited without secrets; idle sessions expire.

use std::time::Duration;

use moolai_tests::api::{Api, I};
use moolai_tests::barrier::count_reaches;
use moolai_tests::stacks::persister_and_core;
use moolai_tests::{start_core, TestEnv, ADMIN_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn admin_actions_and_logins_are_audited_without_secrets() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let anonymous = Api::new(stack.core.addr, None);
    let (status, _) = anonymous
        .post(
            &format!("{I}/auth/login"),
            json!({"username": "admin", "password": "wrong-guess"}),
        )
        .await;
    assert_eq!(status, 401);
    let api = Api::admin(stack.core.addr).await;
    let (status, _) = api
        .post(
            &format!("{I}/orchestrators/register"),
            json!({"organization_id": "aud-1", "database_url": "postgres://u:supersecret@db/x"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .put(
            &format!("{I}/orchestrators/aud-1/independence"),
            json!({"is_independent": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .delete(&format!("{I}/orchestrators/aud-1/deregister"))
        .await;
    assert_eq!(status, 200);

    let (status, v) = api.get(&format!("{I}/audit?limit=100")).await;
    assert_eq!(status, 200, "{v}");
    let items = v["data"]["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().filter_map(|i| i["action"].as_str()).collect();
    for wanted in [
        "login_failed",
        "login",
        "register",
        "independence",
        "deregister",
    ] {
        assert!(
            actions.contains(&wanted),
            "{wanted} missing from {actions:?}"
        );
    }
    let failed = items
        .iter()
        .find(|i| i["action"] == "login_failed")
        .unwrap();
    assert_eq!(failed["actor"], "admin");
    assert_eq!(failed["address"], "127.0.0.1");
    let text = v.to_string();
    for secret in ["wrong-guess", ADMIN_PASSWORD, "supersecret"] {
        assert!(
            !text.contains(secret),
            "the audit log contains a secret: {secret}"
        );
    }
    let (status, only) = api.get(&format!("{I}/audit?action=independence")).await;
    assert_eq!(status, 200);
    assert!(only["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["action"] == "independence"));
}

#[tokio::test]
async fn a_session_left_idle_expires() {
    let env = TestEnv::new().await;
    let (_persister, core) = persister_and_core(&env, |c| c.session_idle_sec = 1).await;
    let api = Api::admin(core.addr).await;
    let (status, _) = api.get(&format!("{I}/messages")).await;
    assert_eq!(status, 200, "fresh session");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = api.get(&format!("{I}/messages")).await;
    assert_eq!(status, 401, "idle session still accepted: {body}");
    // Asking again must not restart the idle clock, not even after a core
    // restart (the session is revoked in the database as well).
    let (status, body) = api.get(&format!("{I}/messages")).await;
    assert_eq!(status, 401, "idle session accepted on a second try: {body}");
    // The restart below must find the revocation stored (the test's only session).
    let unrevoked = "SELECT count(*) FROM sessions WHERE revoked_at IS NULL";
    let revoked = count_reaches(&env, unrevoked, 0, Duration::from_secs(5)).await;
    assert!(
        revoked.is_some(),
        "the idle session was not revoked in the database"
    );
    core.stop().await;
    let core = start_core(env.core_config()).await;
    let (status, body) = Api::new(core.addr, api.token())
        .get(&format!("{I}/messages"))
        .await;
    assert_eq!(status, 401, "idle session accepted after a restart: {body}");
}
