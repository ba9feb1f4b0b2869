//! The REST API's authentication matrix (docs/api.md "Authentication" and the
//! 401/403/422/429 rows): login, bearer tokens, expiry, logout, the dev token,
//! PUBLIC_READ_API, failed-login limits and CORS.

use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_tests::api::{admin_token, login_as, Api};
use moolai_tests::assertions::names_field;
use moolai_tests::stacks::persister_and_core;
use moolai_tests::{start_core, wait_until, TestEnv, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const LOGIN: &str = "/api/v1/internal/auth/login";
const LOGOUT: &str = "/api/v1/internal/auth/logout";
/// An internal (always authenticated) read.
const INTERNAL: &str = "/api/v1/internal/messages";
/// A read-only controller endpoint.
const CONTROLLER_READ: &str = "/api/v1/controller/organizations";

/// The 401 body for no token: the first version's text, then how to get one.
fn missing_token() -> String {
    let text = moolai_core::api::error::ApiError::MissingToken.to_string();
    assert!(text.starts_with("Missing bearer token"), "{text}");
    assert!(text.contains("/api/v1/internal/auth/login"), "{text}");
    text
}

/// The 403 body for a token that never was a session.
fn invalid_token() -> String {
    let text = moolai_core::api::error::ApiError::InvalidToken.to_string();
    assert!(text.starts_with("Invalid token"), "{text}");
    assert!(text.contains("/api/v1/internal/auth/login"), "{text}");
    text
}

fn assert_detail(status: StatusCode, body: &Value, want_status: u16, want_detail: &str) {
    assert_eq!(status, want_status, "body: {body}");
    assert_eq!(body, &json!({ "detail": want_detail }));
}

// ---- tests ----

#[tokio::test]
async fn login_with_the_right_password_returns_a_bearer_token_that_works() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    let (status, body) = login_as(core.addr, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["username"], "admin");
    let token = body["token"].as_str().expect("token string");
    // 32 random bytes in base64url: 43 characters without padding.
    assert!(token.len() >= 43, "token too short: {token}");
    let expires: DateTime<Utc> = DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap())
        .expect("expires_at is RFC 3339")
        .into();
    assert!(
        expires > Utc::now() + chrono::Duration::minutes(50),
        "{body}"
    );
    let (status, body) = Api::new(core.addr, Some(token)).get(INTERNAL).await;
    assert_eq!(status, 200, "the fresh token is refused: {body}");
    // The database holds only a hash of the token.
    let stored: Option<String> = env
        .scalar(
            "SELECT token_hash FROM sessions WHERE token_hash = $1",
            token,
        )
        .await;
    assert_eq!(stored, None, "the raw token is stored");
    let sessions: Option<i64> = env
        .scalar("SELECT count(*) FROM sessions WHERE username = $1", "admin")
        .await;
    assert_eq!(sessions, Some(1), "no session row for the login");
}

#[tokio::test]
async fn login_with_a_wrong_password_or_unknown_user_is_401_invalid_credentials() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    let (status, body) = login_as(core.addr, "admin", "wrong password").await;
    assert_detail(status, &body, 401, "Invalid credentials");
    let (status, body) = login_as(core.addr, "nobody", ADMIN_PASSWORD).await;
    assert_detail(status, &body, 401, "Invalid credentials");
}

#[tokio::test]
async fn a_request_without_a_bearer_token_is_401_missing_bearer_token() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    let api = Api::new(core.addr, None);
    let (status, body) = api.get(INTERNAL).await;
    assert_detail(status, &body, 401, &missing_token());
    let token = admin_token(core.addr).await;
    for header in [
        "Basic YWRtaW46cGFzc3dvcmQ=".to_owned(),
        format!("Token {token}"),
        token.clone(),
    ] {
        let req = api
            .request(Method::GET, INTERNAL)
            .header("Authorization", header.as_str());
        let (status, body) = Api::send(req).await;
        assert_detail(status, &body, 401, &missing_token());
    }
    // Mutating controller endpoints too.
    let (status, body) = api
        .post(CONTROLLER_READ, json!({"org_id": "org-x", "name": "X"}))
        .await;
    assert_detail(status, &body, 401, &missing_token());
}

#[tokio::test]
async fn an_unknown_token_is_403_invalid_token() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    let real = admin_token(core.addr).await;
    let mut forged = real.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for token in [forged.as_str(), "fake-dev-token", "x"] {
        let (status, body) = Api::new(core.addr, Some(token)).get(INTERNAL).await;
        assert_detail(status, &body, 403, &invalid_token());
    }
}

#[tokio::test]
async fn an_expired_token_is_401_session_ended() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |c| c.session_ttl_sec = 1).await;
    let (status, body) = login_as(core.addr, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let expires: DateTime<Utc> = DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap())
        .unwrap()
        .into();
    assert!(
        expires <= Utc::now() + chrono::Duration::seconds(5),
        "SESSION_TTL_SEC=1 ignored: {body}"
    );
    let api = Api::new(core.addr, body["token"].as_str());
    // Asking does not extend a session's lifetime, so ask until it has run out.
    let ended = wait_until(Duration::from_secs(5), || async {
        api.get(INTERNAL).await.0 == 401
    })
    .await;
    assert!(
        ended.is_some(),
        "a session of SESSION_TTL_SEC=1 outlived 5 s"
    );
    let (status, body) = api.get(INTERNAL).await;
    assert_detail(
        status,
        &body,
        401,
        "Session ended (logged out or expired); log in again",
    );
}

#[tokio::test]
async fn a_token_revoked_by_logout_is_401_within_a_second() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    let token = admin_token(core.addr).await;
    let other = admin_token(core.addr).await;
    let api = Api::new(core.addr, Some(&token));
    assert_eq!(api.get(INTERNAL).await.0, 200);
    let (status, body) = Api::new(core.addr, None).post(LOGOUT, json!({})).await;
    assert_detail(status, &body, 401, &missing_token());
    let (status, body) = api.post(LOGOUT, json!({})).await;
    assert_eq!(status, 200, "logout: {body}");
    let logged_out = std::time::Instant::now();
    let (status, body) = api.get(INTERNAL).await;
    assert_detail(
        status,
        &body,
        401,
        "Session ended (logged out or expired); log in again",
    );
    assert!(logged_out.elapsed() < Duration::from_secs(1));
    // Logging out twice is refused the same way, not with a 500.
    let (status, body) = api.post(LOGOUT, json!({})).await;
    assert_detail(
        status,
        &body,
        401,
        "Session ended (logged out or expired); log in again",
    );
    // Only that session ended.
    let (status, body) = Api::new(core.addr, Some(&other)).get(INTERNAL).await;
    assert_eq!(status, 200, "logout revoked another session too: {body}");
}

#[tokio::test]
async fn the_dev_token_is_accepted_only_when_configured() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |c| {
        c.dev_bearer_token = Some("fake-dev-token-long-enough".to_owned().into());
    })
    .await;
    let dev = Api::new(core.addr, Some("fake-dev-token-long-enough"));
    let (status, body) = dev.get(INTERNAL).await;
    assert_eq!(status, 200, "dev token refused: {body}");
    let (status, body) = dev.get(CONTROLLER_READ).await;
    assert_eq!(status, 200, "dev token refused: {body}");
    let (status, body) = Api::new(core.addr, Some("fake-dev-token-long-enough2"))
        .get(INTERNAL)
        .await;
    assert_detail(status, &body, 403, &invalid_token());
    core.stop().await;

    let unset = start_core(env.core_config()).await;
    let (status, body) = Api::new(unset.addr, Some("fake-dev-token-long-enough"))
        .get(INTERNAL)
        .await;
    assert_detail(status, &body, 403, &invalid_token());
}

#[tokio::test]
async fn public_read_api_opens_controller_reads_but_not_writes_or_internal_endpoints() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    let (status, body) = Api::new(core.addr, None).get(CONTROLLER_READ).await;
    assert_detail(status, &body, 401, &missing_token());
    core.stop().await;

    let mut config = env.core_config();
    config.public_read_api = true;
    let core = start_core(config).await;
    let anonymous = Api::new(core.addr, None);
    for path in [
        CONTROLLER_READ,
        "/api/v1/controller/orchestrators",
        "/api/v1/controller/orchestrators/live",
        "/api/v1/controller/overview",
    ] {
        let (status, body) = anonymous.get(path).await;
        assert_eq!(status, 200, "{path} with PUBLIC_READ_API: {body}");
    }
    let (status, body) = anonymous
        .post(
            CONTROLLER_READ,
            json!({"org_id": "org-anon", "name": "Anon"}),
        )
        .await;
    assert_detail(status, &body, 401, &missing_token());
    let (status, body) = anonymous.get(INTERNAL).await;
    assert_detail(status, &body, 401, &missing_token());
    // The write really did not happen.
    let org: Option<String> = env
        .scalar(
            "SELECT name FROM organizations WHERE organization_id = $1",
            "org-anon",
        )
        .await;
    assert_eq!(org, None);
}

#[tokio::test]
async fn repeated_failed_logins_of_one_user_from_one_address_are_answered_429_with_retry_after() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    // Three failures, then each try of this user from this address waits
    // (1 s, 2 s, 4 s, ...; issue 12: no fixed lock anyone can trigger).
    for _ in 0..3 {
        let (status, body) = login_as(core.addr, "admin", "guess").await;
        assert_detail(status, &body, 401, "Invalid credentials");
    }
    for attempt in 4..=5 {
        let resp = Api::new(core.addr, None)
            .request(Method::POST, LOGIN)
            .json(&json!({"username": "admin", "password": "guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429, "attempt {attempt}");
        let retry: u64 = resp
            .headers()
            .get("retry-after")
            .unwrap_or_else(|| panic!("attempt {attempt}: 429 without Retry-After"))
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=900).contains(&retry), "Retry-After {retry}");
    }
    // The waiting pair waits even with the right password ...
    let (status, body) = login_as(core.addr, "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        status, 429,
        "lockout bypassed by the right password: {body}"
    );
    // ... while another username is judged on its own.
    let (status, body) = login_as(core.addr, "someone-else", "guess").await;
    assert_detail(status, &body, 401, "Invalid credentials");
}

#[tokio::test]
async fn login_with_an_invalid_body_is_422() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |_| {}).await;
    let api = Api::new(core.addr, None);
    for (body, field) in [
        (json!({"username": "admin"}), "password"),
        (json!({"username": "admin", "password": 12345}), "password"),
        (json!({"password": ADMIN_PASSWORD}), "username"),
    ] {
        let (status, answer) = api.post(LOGIN, body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(
            names_field(&answer, field),
            "422 for {body} does not name {field}: {answer}"
        );
    }
    let req = api
        .request(Method::POST, LOGIN)
        .header("Content-Type", "application/json")
        .body("{not json");
    let (status, answer) = Api::send(req).await;
    assert_eq!(status, 422, "malformed JSON: {answer}");
}

#[tokio::test]
async fn cors_echoes_only_allowed_origins_and_never_a_wildcard() {
    let env = TestEnv::new().await;
    let allowed = "http://dashboard.example:4173";
    let (_p, core) =
        persister_and_core(&env, |c| c.allowed_origins = vec![allowed.to_owned()]).await;
    let api = Api::new(core.addr, None);
    let allow_origin = |resp: &reqwest::Response| {
        resp.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for origin in [allowed, "http://evil.example"] {
        let preflight = api
            .request(Method::OPTIONS, CONTROLLER_READ)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        let simple = api
            .request(Method::GET, "/health")
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(simple.status(), 200);
        for (what, resp) in [("preflight", &preflight), ("GET /health", &simple)] {
            let got = allow_origin(resp);
            assert_ne!(got.as_deref(), Some("*"), "{what} from {origin}: wildcard");
            if origin == allowed {
                assert_eq!(got.as_deref(), Some(allowed), "{what} from {origin}");
            } else {
                assert_eq!(got, None, "{what} from a foreign origin was allowed");
            }
        }
        if origin == allowed {
            assert!(preflight.status().is_success(), "{}", preflight.status());
            let methods = preflight
                .headers()
                .get("access-control-allow-methods")
                .map(|v| v.to_str().unwrap().to_uppercase())
                .unwrap_or_default();
            assert!(methods.contains("POST"), "allow-methods: {methods}");
            // A `*` for headers does not cover Authorization (Fetch standard).
            let headers = preflight
                .headers()
                .get("access-control-allow-headers")
                .map(|v| v.to_str().unwrap().to_lowercase())
                .unwrap_or_default();
            assert!(
                headers.contains("authorization"),
                "allow-headers: {headers}"
            );
        }
    }
}
