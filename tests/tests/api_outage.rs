//! Without a persister, writes fail cleanly (503 within 5 s, nothing written later)
//! while reads, which go to the database directly, keep answering.

use std::time::{Duration, Instant};

use moolai_tests::api::{admin_token, Api, C, I};
use moolai_tests::{start_persister, TestEnv};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn writes_answer_503_within_five_seconds_without_a_persister_while_reads_still_work() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let token = admin_token(stack.core.addr).await;
    // 30 s per request here (the shared default is 20 s).
    let api = Api::with_timeout(stack.core.addr, Some(&token), Duration::from_secs(30));
    let body = json!({"organization_id": "out-1", "orchestrator_id": "out-1", "name": "Out"});
    let (status, v) = api
        .call(
            Method::POST,
            &format!("{I}/orchestrators/register"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{v}");

    stack.persister.stop().await;
    let writes = [
        (
            Method::POST,
            format!("{C}/organizations"),
            Some(json!({"org_id": "org-down", "name": "Down"})),
        ),
        (
            Method::PUT,
            format!("{I}/orchestrators/out-1/independence"),
            Some(json!({"is_independent": true})),
        ),
        (
            Method::POST,
            format!("{I}/orchestrators/out-1/messages"),
            Some(json!({"message_type": "monitoring", "content": "lost?"})),
        ),
        (
            Method::DELETE,
            format!("{C}/orchestrator-instances/out-1"),
            None,
        ),
    ];
    for (method, path, body) in writes {
        let started = Instant::now();
        let (status, v) = api.call(method.clone(), &path, body).await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{method} {path} without a persister: {v}");
        assert!(
            took < Duration::from_secs(6),
            "{method} {path} took {took:?}"
        );
        let detail = v["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no detail: {v}"));
        assert!(detail.to_lowercase().contains("persister"), "{detail}");
    }

    // Reads go to the database directly and show that nothing changed.
    let (status, v) = api.get(&format!("{C}/organizations")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["total_items"], 1, "{v}");
    let (status, v) = api.get(&format!("{C}/orchestrators/out-1")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["is_independent"], false);
    let (status, v) = api
        .get(&format!("{I}/orchestrators/out-1/independence"))
        .await;
    assert_eq!(
        (status.as_u16(), &v["is_independent"]),
        (200, &json!(false)),
        "{v}"
    );
    let (status, v) = api.get(&format!("{I}/orchestrators/out-1/messages")).await;
    assert_eq!(
        (status.as_u16(), &v["total_count"]),
        (200, &json!(0)),
        "{v}"
    );
    // Health with the persister down (docs/api.md: healthy | degraded, persister).
    let (health_status, health) = api.get(&format!("{C}/health")).await;

    // A 503 means not written: a returning persister must not apply it late.
    let _persister = start_persister(env.persister_config()).await;
    // A write after the return is answered only once stored; a refused one left
    // on the bus would have been taken before it.
    let later = json!({"org_id": "org-later", "name": "Later"});
    let (status, v) = api
        .call(Method::POST, &format!("{C}/organizations"), Some(later))
        .await;
    assert_eq!(status, 200, "a write after the persister returned: {v}");
    let (status, v) = api.get(&format!("{C}/organizations/org-down")).await;
    assert_eq!(status, 404, "a write answered 503 was applied later: {v}");
    let messages: Option<i64> = env
        .scalar(
            "SELECT count(*) FROM orchestrator_messages WHERE orchestrator_id = $1",
            "out-1",
        )
        .await;
    assert_eq!(messages, Some(0));
    let retry = json!({"org_id": "org-down", "name": "Down"});
    let (status, v) = api
        .call(Method::POST, &format!("{C}/organizations"), Some(retry))
        .await;
    assert_eq!(status, 200, "the retry after the persister returned: {v}");
    // Checked last so that it does not hide the checks above.
    assert_eq!(health_status, 200, "{health}");
    assert_eq!(
        health["status"], "degraded",
        "controller health with the persister down: {health}"
    );
    assert!(!health["dependencies"]["persister"].is_null(), "{health}");
}
