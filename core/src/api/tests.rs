//! Handlers through the router (`tower::ServiceExt::oneshot`), one module at a
//! time, on answers that need no database round trip: 401 without a token,
//! 422 on a bad body or parameter, 404 on an id that cannot exist, and what
//! is answered from memory (the live view, the feed, presence). The state's
//! pool never connects and its NATS client is never connected
//! (`testing::Rig::app_state`), so a path that reached either would fail here.

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::testing::{Rig, DEV_TOKEN};

/// What one request is answered: status and body (JSON, or `Null`).
async fn call(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let app = Rig::new().router().await;
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let mut request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn anonymous(method: Method, uri: &str) -> StatusCode {
    call(method, uri, None, None).await.0
}

async fn admin(method: Method, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    call(method, uri, Some(DEV_TOKEN), body).await
}

/// The one field a 422 names, as `place.name`.
fn named(body: &Value) -> String {
    let loc = &body["detail"][0]["loc"];
    let parts: Vec<&str> = loc
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    parts.join(".")
}

/// An id no orchestrator can have (it is not a valid id).
const BAD_ID: &str = "not.an.id";

#[tokio::test]
async fn admins_need_a_token_and_know_the_development_one() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/internal/auth/me").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous(Method::GET, "/api/v1/internal/admins").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = admin(Method::GET, "/api/v1/internal/auth/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["username"].as_str(), body["superadmin"].as_bool()),
        (Some("dev-token"), Some(false))
    );
    let (status, body) = admin(
        Method::POST,
        "/api/v1/internal/admins",
        Some(r#"{"password": "x"}"#),
    )
    .await;
    assert_eq!(
        (status, named(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "body.username")
    );
}

#[tokio::test]
async fn audit_needs_a_token_and_a_limit_in_range() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/internal/audit").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = admin(Method::GET, "/api/v1/internal/audit?limit=0", None).await;
    assert_eq!(
        (status, named(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "query.limit")
    );
}

#[tokio::test]
async fn a_login_body_is_checked_before_anything_else() {
    let (status, body) = call(
        Method::POST,
        "/api/v1/internal/auth/login",
        None,
        Some(r#"{"username": "a"}"#),
    )
    .await;
    assert_eq!(
        (status, named(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "body.password")
    );
    let nul = r#"{"username": "a\u0000b", "password": "p"}"#;
    let (status, body) = call(Method::POST, "/api/v1/internal/auth/login", None, Some(nul)).await;
    assert_eq!(
        (status, named(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "body.username")
    );
    assert_eq!(
        anonymous(Method::POST, "/api/v1/internal/auth/logout").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn configuration_of_an_impossible_id_is_not_found() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/controller/config").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(
        Method::GET,
        &format!("/api/v1/controller/orchestrators/{BAD_ID}/config"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn controller_lists_edges_and_cores_from_memory() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/controller/edges").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = admin(Method::GET, "/api/v1/controller/edges", None).await;
    assert_eq!(
        (status, &body["data"]["total_count"]),
        (StatusCode::OK, &Value::from(0))
    );
    let (status, body) = admin(Method::GET, "/api/v1/controller/cores", None).await;
    assert_eq!(
        (status, body["data"]["answered_by"].as_str()),
        (StatusCode::OK, Some("core-test"))
    );
}

#[tokio::test]
async fn the_dashboard_says_it_is_not_built_and_api_paths_are_not_its() {
    let (status, body) = call(Method::GET, "/some/page", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.to_string().contains("dashboard not built"), "{body}");
    let (status, body) = call(Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("dashboard"), "{body}");
}

#[tokio::test]
async fn enrollment_needs_a_token_and_a_valid_body() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/internal/enrollment-tokens").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = call(Method::POST, "/api/v1/enroll", None, Some("{")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_event_stream_needs_a_token_and_takes_it_from_the_query() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/events").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous(Method::GET, "/api/v1/events?access_token=wrong-but-no-db")
            .await
            .as_u16()
            / 100,
        5,
        "an unknown token is looked up in the database, which is away here"
    );
    let app = Rig::new().router().await;
    let request = Request::get(format!("/api/v1/events?access_token={DEV_TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
}

#[tokio::test]
async fn independence_checks_the_id_then_the_body() {
    let uri = |id: &str| format!("/api/v1/internal/orchestrators/{id}/independence");
    assert_eq!(
        anonymous(Method::GET, &uri("org-1")).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(
        Method::PUT,
        &uri(BAD_ID),
        Some(r#"{"is_independent": true}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = admin(
        Method::PUT,
        &uri("org-1"),
        Some(r#"{"is_independent": "yes"}"#),
    )
    .await;
    assert_eq!(
        (status, named(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "body.is_independent")
    );
}

#[tokio::test]
async fn internal_activity_is_read_from_the_feed() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/internal/activity").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = admin(Method::GET, "/api/v1/internal/activity?limit=5", None).await;
    assert_eq!(
        (status, &body["data"]["total"]),
        (StatusCode::OK, &Value::from(0))
    );
    let (status, body) = admin(Method::GET, "/api/v1/internal/activity?limit=0", None).await;
    assert_eq!(
        (status, named(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "query.limit")
    );
}

#[tokio::test]
async fn messages_check_the_id_and_the_body() {
    let uri = |id: &str| format!("/api/v1/internal/orchestrators/{id}/messages");
    assert_eq!(
        anonymous(Method::GET, "/api/v1/internal/messages").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(Method::POST, &uri(BAD_ID), Some("{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = admin(
        Method::POST,
        &uri("org-1"),
        Some(r#"{"message_type": "no-such-type"}"#),
    )
    .await;
    assert_eq!(
        (status, named(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "body.message_type")
    );
}

#[tokio::test]
async fn orchestrators_need_a_reader_and_a_possible_id() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/controller/orchestrators").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(
        Method::GET,
        &format!("/api/v1/controller/orchestrators/{BAD_ID}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin(
        Method::GET,
        &format!("/api/v1/controller/orchestrators/live/{BAD_ID}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn organizations_check_the_id_and_the_body() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/controller/organizations").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(
        Method::GET,
        &format!("/api/v1/controller/organizations/{BAD_ID}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin(
        Method::POST,
        "/api/v1/controller/organizations",
        Some("[1]"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn registration_needs_a_token_and_a_body() {
    assert_eq!(
        anonymous(Method::POST, "/api/v1/controller/orchestrator-instances").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(
        Method::POST,
        "/api/v1/controller/orchestrator-instances",
        Some("{"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = admin(
        Method::DELETE,
        &format!("/api/v1/internal/orchestrators/{BAD_ID}/deregister"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rollouts_need_a_token_and_a_body() {
    assert_eq!(
        anonymous(Method::GET, "/api/v1/controller/rollouts").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(Method::POST, "/api/v1/controller/rollouts", Some("{")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sends_need_a_token_and_a_possible_id() {
    let uri = |id: &str| format!("/api/v1/internal/orchestrators/{id}/sends");
    assert_eq!(
        anonymous(Method::GET, &uri("org-1")).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(Method::GET, &uri(BAD_ID), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_are_not_found_while_orchestrator_tokens_are_off() {
    let uri = "/api/v1/internal/orchestrators/org-1/token";
    assert_eq!(anonymous(Method::POST, uri).await, StatusCode::UNAUTHORIZED);
    let (status, _) = admin(Method::POST, uri, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin(Method::DELETE, uri, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
