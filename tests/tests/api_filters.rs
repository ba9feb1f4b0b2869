//! Server-side search and filters, organization deletion, and an organization's
//! `last_seen` following its instances' heartbeats.

use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_tests::api::{Api, C, I};
use moolai_tests::ws::{connect_as, send_json};
use moolai_tests::{wait_until, TestEnv};
use serde_json::{json, Value};

fn ids(v: &Value, key: &str) -> Vec<String> {
    v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn organizations_are_searched_and_filtered_on_the_server() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    for (id, name, location) in [
        ("f-alpha", "Alpha Corp", "berlin"),
        ("f-beta", "Beta Ltd", "paris"),
        ("f-gamma", "Gamma", "Berlin-2"),
    ] {
        let (s, v) = api
            .post(
                &format!("{I}/orchestrators/register"),
                json!({"organization_id": id, "name": name, "location": location}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let _sock = connect_as(&stack.edge.ws_url(), "f-beta", true).await;
    assert!(wait_until(Duration::from_secs(5), || async {
        env.status("f-beta").await.as_deref() == Some("active")
    })
    .await
    .is_some());

    let (s, v) = api.get(&format!("{C}/organizations?q=BERLIN")).await;
    assert_eq!(s, 200);
    let mut found = ids(&v, "organization_id");
    found.sort();
    assert_eq!(found, ["f-alpha", "f-gamma"]);
    assert_eq!(v["data"]["total_items"], 2);
    let (_, v) = api.get(&format!("{C}/organizations?status=active")).await;
    assert_eq!(ids(&v, "organization_id"), ["f-beta"]);
    let (s, v) = api.get(&format!("{C}/organizations?status=sleepy")).await;
    assert_eq!(s, 422, "{v}");
    let (_, v) = api
        .get(&format!("{C}/orchestrators?organization_id=f-gamma"))
        .await;
    assert_eq!(ids(&v, "orchestrator_id"), ["f-gamma"]);
    let (_, v) = api
        .get(&format!("{I}/activity?orchestrator_id=f-beta"))
        .await;
    let items = v["data"]["items"].as_array().unwrap();
    assert!(
        !items.is_empty()
            && items
                .iter()
                .all(|a| a["data"]["orchestrator_id"] == "f-beta"),
        "{v}"
    );
}

#[tokio::test]
async fn an_organization_is_deleted_only_without_orchestrators() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    let (s, _) = api
        .post(
            &format!("{C}/organizations"),
            json!({"org_id": "lonely", "name": "Lonely"}),
        )
        .await;
    assert_eq!(s, 200);
    api.post(
        &format!("{I}/orchestrators/register"),
        json!({"organization_id": "busy"}),
    )
    .await;
    let (s, v) = api.delete(&format!("{C}/organizations/busy")).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = api.delete(&format!("{C}/organizations/lonely")).await;
    assert_eq!(s, 200);
    let (s, _) = api.get(&format!("{C}/organizations/lonely")).await;
    assert_eq!(s, 404);
    let (s, _) = api.delete(&format!("{C}/organizations/lonely")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn an_organizations_last_seen_follows_its_heartbeats() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut sock = connect_as(&stack.edge.ws_url(), "org-ls", true).await;
    let org_seen = || async {
        env.scalar::<DateTime<Utc>>(
            "SELECT last_seen FROM organizations WHERE organization_id = $1",
            "org-ls",
        )
        .await
    };
    assert!(wait_until(Duration::from_secs(5), || async {
        org_seen().await.is_some()
    })
    .await
    .is_some());
    // The next beat is stamped at the edge after `before` was stored and read.
    let before = org_seen().await;
    send_json(&mut sock, &json!({"type": "i_am_alive"})).await;
    let moved = wait_until(Duration::from_secs(2), || async {
        org_seen().await > before
    })
    .await;
    assert!(
        moved.is_some(),
        "the organization's last_seen did not follow the heartbeat"
    );
}

async fn org_status(api: &Api, id: &str) -> String {
    let (s, v) = api.get(&format!("{C}/organizations/{id}")).await;
    assert_eq!(s, 200, "{v}");
    v["data"]["status"].as_str().expect("status").to_owned()
}

async fn listed_as(api: &Api, status: &str) -> Vec<String> {
    let (s, v) = api
        .get(&format!("{C}/organizations?status={status}&page_size=100"))
        .await;
    assert_eq!(s, 200, "{v}");
    ids(&v, "organization_id")
}

async fn becomes(env: &TestEnv, id: &str, status: &str) {
    let reached = wait_until(Duration::from_secs(10), || async {
        env.status(id).await.as_deref() == Some(status)
    })
    .await;
    assert!(reached.is_some(), "{id} never became {status}");
}

/// The dashboard shows an organization's badge above its instances' badges: the
/// organization's status is read from those instances, so the two agree whatever
/// order the persister's writes land in.
#[tokio::test]
async fn an_organizations_status_is_read_from_its_instances() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    for id in ["st-a", "st-b"] {
        let body = json!({"organization_id": "st-org", "orchestrator_id": id});
        let (s, v) = api.post(&format!("{I}/orchestrators/register"), body).await;
        assert_eq!(s, 200, "{v}");
    }
    assert_eq!(org_status(&api, "st-org").await, "inactive");
    let mut a = connect_as(&stack.edge.ws_url(), "st-a", true).await;
    let mut b = connect_as(&stack.edge.ws_url(), "st-b", true).await;
    becomes(&env, "st-a", "active").await;
    becomes(&env, "st-b", "active").await;
    assert_eq!(org_status(&api, "st-org").await, "active");

    // One instance goes; the other still holds its organization active (the
    // disconnect used to write the organization inactive regardless).
    a.close(None).await.unwrap();
    becomes(&env, "st-a", "inactive").await;
    assert_eq!(org_status(&api, "st-org").await, "active");
    assert!(listed_as(&api, "active").await.contains(&"st-org".into()));

    b.close(None).await.unwrap();
    becomes(&env, "st-b", "inactive").await;
    // What a heartbeat taken just before that disconnect writes a moment after it
    // (persister/src/org_seen.rs): the organization's own row says active again.
    sqlx::query(
        "UPDATE organizations SET status = 'active', last_seen = now() WHERE organization_id = 'st-org'",
    )
    .execute(&env.pool)
    .await
    .unwrap();
    assert_eq!(org_status(&api, "st-org").await, "inactive");
    assert!(!listed_as(&api, "active").await.contains(&"st-org".into()));
    assert!(listed_as(&api, "inactive").await.contains(&"st-org".into()));
}
