//! The low findings of issue 33's attack pass on core's API: each answered with
//! a defined 4xx, nothing reaching the bus or the database that cannot go there.

use moolai_tests::api::{admin_stack, login_as, C, I};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_nul_in_the_login_username_is_a_422_not_a_500() {
    let (_env, stack, _api) = admin_stack().await;
    let (status, v) = login_as(stack.core.addr, "adm\u{0}in", "whatever").await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["detail"][0]["loc"], json!(["body", "username"]), "{v}");
    // The real admin is not held back by it.
    assert_eq!(
        login_as(stack.core.addr, "admin", moolai_tests::ADMIN_PASSWORD)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_body_past_the_api_limit_is_a_413_before_it_reaches_the_bus() {
    let (_env, _stack, api) = admin_stack().await;
    // Under the HTTP server's own limit, over what one bus message may carry.
    let big = json!({"organization_id": "big-1", "name": "n".repeat(700 * 1024)});
    let (status, v) = api.post(&format!("{I}/orchestrators/register"), big).await;
    assert_eq!(status, 413, "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("too large"), "{v}");
    assert!(!detail.contains("persister"), "{v}");
    // Nothing was stored.
    assert_eq!(api.get(&format!("{C}/organizations/big-1")).await.0, 404);
}

#[tokio::test]
async fn like_wildcards_in_a_search_match_themselves() {
    let (_env, _stack, api) = admin_stack().await;
    for (id, name) in [
        ("w-plain", "Plain"),
        ("w-pct", "100% sure"),
        ("w_under", "Under"),
    ] {
        let body = json!({"organization_id": id, "name": name});
        assert_eq!(
            api.post(&format!("{I}/orchestrators/register"), body)
                .await
                .0,
            200
        );
    }
    let ids = |v: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = v["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["organization_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let (_, v) = api.get(&format!("{C}/organizations?q=%25")).await;
    assert_eq!(ids(&v), ["w-pct"], "q=% matched more than a percent sign");
    let (_, v) = api.get(&format!("{C}/organizations?q=_")).await;
    assert_eq!(ids(&v), ["w_under"], "q=_ matched more than an underscore");
    let (_, v) = api.get(&format!("{C}/organizations?q=w-")).await;
    assert_eq!(
        ids(&v),
        ["w-pct", "w-plain"],
        "an ordinary search still finds"
    );
}

#[tokio::test]
async fn the_api_docs_page_has_a_content_security_policy() {
    let (_env, _stack, api) = admin_stack().await;
    for path in ["/docs/", "/docs/swagger-initializer.js", "/openapi.json"] {
        let resp = api.request(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let csp = resp
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
    }
}
