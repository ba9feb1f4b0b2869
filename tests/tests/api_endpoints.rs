//! Every endpoint of docs/api.md that stores or reads rows: happy path, response
//! shape (envelope, pages, RFC 3339 timestamps) and each error status.
//! Connected orchestrators: api_fleet.rs; messages and logs: api_messages.rs.

use std::collections::BTreeSet;

use moolai_tests::api::{admin_stack, register, Api, C, I};
use moolai_tests::assertions::{assert_422, bad_ids, envelope, time};
use reqwest::Method;
use serde_json::{json, Value};

/// Checks the page keys and returns the items.
fn page(data: &Value, page: u64, size: u64, total: u64, pages: u64) -> Vec<Value> {
    let want = [
        ("page", page),
        ("page_size", size),
        ("total_items", total),
        ("total_pages", pages),
    ];
    for (key, value) in want {
        assert_eq!(data[key], value, "{key} in {data}");
    }
    assert_eq!(data["has_next"], page < pages, "has_next in {data}");
    assert_eq!(data["has_prev"], page > 1, "has_prev in {data}");
    data["items"].as_array().expect("items").clone()
}

// ---- tests ----

#[tokio::test]
async fn health_endpoints_report_the_service_and_its_dependencies() {
    let (_env, stack, api) = admin_stack().await;
    let (status, v) = Api::new(stack.core.addr, None).get("/health").await;
    assert_eq!(status, 200, "/health needs no token: {v}");
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["service"], "moolai-core");
    assert!(v["version"].is_string(), "{v}");
    assert_eq!(v["components"]["database"], "connected", "{v}");
    assert_eq!(v["components"]["nats"], "connected", "{v}");

    let (status, v) = api.get(&format!("{C}/health")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "healthy", "{v}");
    assert_eq!(v["service"], "controller");
    for dep in ["database", "nats", "persister"] {
        assert!(!v["dependencies"][dep].is_null(), "{dep} in {v}");
    }
    time(&v["timestamp"]);

    let (status, v) = api.get(&format!("{I}/health")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["connected_orchestrators"], 0, "{v}");
    assert!(v["status"].is_string() && !v["nats"].is_null() && !v["database"].is_null());
}

#[tokio::test]
async fn organizations_are_created_once_listed_by_page_and_fetched_by_id() {
    let (_env, _stack, api) = admin_stack().await;
    let path = format!("{C}/organizations");
    for n in 1..=3 {
        let body = json!({"org_id": format!("org-p{n}"), "name": format!("Org {n}"),
            "location": "eu", "features": {"cache": {"enabled": n == 1}}, "metadata": {"tier": n}});
        let (status, v) = api.post(&path, body).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(envelope(&v)["organization_id"], format!("org-p{n}"));
    }
    let (status, v) = api
        .post(&path, json!({"org_id": "org-p1", "name": "Again"}))
        .await;
    assert_eq!(status, 409, "duplicate organization: {v}");
    assert!(v["detail"].is_string(), "{v}");

    let (status, v) = api.get(&format!("{path}?page=1&page_size=2")).await;
    assert_eq!(status, 200, "{v}");
    let first = page(envelope(&v), 1, 2, 3, 2);
    let (_, v) = api.get(&format!("{path}?page=2&page_size=2")).await;
    let second = page(envelope(&v), 2, 2, 3, 2);
    assert_eq!((first.len(), second.len()), (2, 1));
    let ids: BTreeSet<String> = first
        .iter()
        .chain(&second)
        .map(|o| o["organization_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["org-p1", "org-p2", "org-p3"].map(String::from).into());
    let (_, v) = api.get(&path).await;
    assert_eq!(
        page(envelope(&v), 1, 10, 3, 1).len(),
        3,
        "defaults page=1, page_size=10"
    );

    let (status, v) = api.get(&format!("{path}/org-p1")).await;
    assert_eq!(status, 200, "{v}");
    let org = envelope(&v);
    for key in [
        "organization_id",
        "name",
        "location",
        "status",
        "is_active",
        "is_independent",
        "features",
        "settings",
        "policies",
        "metadata",
        "last_seen",
        "created_at",
        "updated_at",
    ] {
        assert!(org.get(key).is_some(), "{key} missing in {org}");
    }
    assert_eq!(
        (&org["name"], &org["location"]),
        (&json!("Org 1"), &json!("eu"))
    );
    assert_eq!(org["features"], json!({"cache": {"enabled": true}}));
    assert_eq!(org["metadata"], json!({"tier": 1}));
    assert_eq!(org["is_independent"], false);
    assert!(time(&org["created_at"]) <= time(&org["updated_at"]));

    assert_eq!(api.get(&format!("{path}/org-nope")).await.0, 404);
    for bad in bad_ids() {
        let (status, v) = api.get(&format!("{path}/{bad}")).await;
        assert_eq!(status, 404, "invalid id {bad}: {v}");
    }
    assert_422(
        &api,
        Method::POST,
        &path,
        Some(json!({"org_id": "org-x"})),
        "name",
    )
    .await;
    assert_422(
        &api,
        Method::POST,
        &path,
        Some(json!({"name": "X"})),
        "org_id",
    )
    .await;
}

#[tokio::test]
async fn page_queries_out_of_range_are_422_naming_the_parameter() {
    let (_env, _stack, api) = admin_stack().await;
    for list in ["organizations", "orchestrators"] {
        for (query, field) in [
            ("page_size=0", "page_size"),
            ("page_size=501", "page_size"),
            ("page_size=ten", "page_size"),
            ("page=abc", "page"),
            ("page=0", "page"),
        ] {
            assert_422(
                &api,
                Method::GET,
                &format!("{C}/{list}?{query}"),
                None,
                field,
            )
            .await;
        }
        let (status, v) = api.get(&format!("{C}/{list}?page=1&page_size=500")).await;
        assert_eq!(status, 200, "page_size=500 is allowed: {v}");
        assert_eq!(envelope(&v)["page_size"], 500);
        assert_eq!(v["data"]["total_items"], 0);
    }
    // The envelope's timestamp is the time of the answer, not of the start.
    // Its fractions of a second tell two answers apart.
    let (_, a) = api.get(&format!("{C}/organizations")).await;
    let (_, b) = api.get(&format!("{C}/organizations")).await;
    assert!(time(&b["timestamp"]) > time(&a["timestamp"]), "{a} / {b}");
}

#[tokio::test]
async fn register_lists_an_inactive_instance_without_its_secrets() {
    let (_env, _stack, api) = admin_stack().await;
    let path = format!("{I}/orchestrators/register");
    let (status, v) = api
        .post(&path, json!({
            "organization_id": "reg-1", "orchestrator_id": "reg-1", "name": "Reg One",
            "location": "eu-west", "internal_url": "http://reg-1:8000",
            "database_url": "postgresql://u:dbpw-SECRET@db/reg", "redis_url": "redis://:redispw-SECRET@redis",
            "container_id": "abc123", "image_name": "moolai/orchestrator:1",
            "environment_variables": {"API_KEY": "envpw-SECRET"},
            "features": {"cache": {"enabled": true}}, "monitoring": true}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(
        v["message"],
        "Orchestrator instance registered (inactive until connection)"
    );
    assert_eq!(
        (&v["orchestrator_id"], &v["organization_id"]),
        (&json!("reg-1"), &json!("reg-1"))
    );

    let (status, list) = api.get(&format!("{C}/orchestrators")).await;
    assert_eq!(status, 200, "{list}");
    let items = page(envelope(&list), 1, 10, 1, 1);
    assert_eq!(items[0]["orchestrator_id"], "reg-1");
    assert_eq!(items[0]["status"], "inactive", "{}", items[0]);
    assert_eq!(items[0]["connected"], false, "{}", items[0]);
    // Only a connected orchestrator has a keepalive field.
    assert!(items[0].get("last_keepalive").is_none(), "{}", items[0]);
    let (status, one) = api.get(&format!("{C}/orchestrators/reg-1")).await;
    assert_eq!(status, 200, "{one}");
    let inst = envelope(&one);
    assert_eq!(inst["location"], "eu-west");
    assert_eq!(inst["internal_url"], "http://reg-1:8000");
    assert_eq!(inst["is_independent"], false);
    assert!(inst.get("edge_id").is_some(), "edge_id missing: {inst}");
    time(&inst["created_at"]);
    for marker in ["dbpw", "redispw", "envpw"] {
        for (what, body) in [("list", &list), ("one", &one)] {
            assert!(
                !body.to_string().contains(marker),
                "{marker} leaks in {what}: {body}"
            );
        }
    }
    let (status, org) = api.get(&format!("{C}/organizations/reg-1")).await;
    assert_eq!(status, 200, "register creates the organization: {org}");
    assert_eq!(envelope(&org)["name"], "Reg One");

    // orchestrator_id defaults to organization_id.
    let (status, v) = api.post(&path, json!({"organization_id": "reg-2"})).await;
    assert_eq!(
        (status.as_u16(), &v["orchestrator_id"]),
        (200, &json!("reg-2")),
        "{v}"
    );
    assert_eq!(api.get(&format!("{C}/orchestrators/reg-2")).await.0, 200);
    assert_422(
        &api,
        Method::POST,
        &path,
        Some(json!({"name": "No Org"})),
        "organization_id",
    )
    .await;
    assert_eq!(api.get(&format!("{C}/orchestrators/nope")).await.0, 404);
    for bad in bad_ids() {
        let (status, v) = api.get(&format!("{C}/orchestrators/{bad}")).await;
        assert_eq!(status, 404, "invalid id {bad}: {v}");
    }
}

#[tokio::test]
async fn orchestrator_instances_are_created_inactive_once_and_deleted_with_their_organization() {
    let (env, _stack, api) = admin_stack().await;
    let path = format!("{C}/orchestrator-instances");
    let body = json!({"org_id": "inst-1", "name": "Instance 1", "location": "us", "features": {"f": true}});
    let (status, v) = api.post(&path, body.clone()).await;
    assert_eq!(status, 200, "{v}");
    let inst = envelope(&v);
    assert_eq!(
        (&inst["orchestrator_id"], &inst["status"]),
        (&json!("inst-1"), &json!("inactive"))
    );
    let (status, v) = api.post(&path, body).await;
    assert_eq!(status, 409, "duplicate instance: {v}");
    assert_422(
        &api,
        Method::POST,
        &path,
        Some(json!({"name": "no id"})),
        "org_id",
    )
    .await;

    let (status, v) = api.get(&format!("{C}/orchestrators/inst-1")).await;
    assert_eq!(status, 200, "{v}");
    let one = envelope(&v);
    assert_eq!(
        (&one["status"], &one["connected"]),
        (&json!("inactive"), &json!(false))
    );
    let (status, v) = api.delete(&format!("{path}/inst-1")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["success"], true);
    assert!(v["message"].is_string());
    assert_eq!(api.get(&format!("{C}/orchestrators/inst-1")).await.0, 404);
    assert_eq!(api.get(&format!("{C}/organizations/inst-1")).await.0, 404);
    assert_eq!(
        api.delete(&format!("{path}/inst-1")).await.0,
        404,
        "second delete"
    );
    for bad in bad_ids() {
        assert_eq!(api.delete(&format!("{path}/{bad}")).await.0, 404, "{bad}");
    }

    // The organization stays while another instance uses it.
    register(&api, "org-s", "org-s").await;
    register(&api, "org-s-2", "org-s").await;
    assert_eq!(api.delete(&format!("{path}/org-s-2")).await.0, 200);
    let (status, v) = api.get(&format!("{C}/organizations/org-s")).await;
    assert_eq!(
        status, 200,
        "organization deleted though org-s still uses it: {v}"
    );
    assert_eq!(api.delete(&format!("{path}/org-s")).await.0, 200);
    assert_eq!(api.get(&format!("{C}/organizations/org-s")).await.0, 404);
    let left: Option<i64> = env
        .scalar(
            "SELECT count(*) FROM orchestrator_instances WHERE organization_id = $1",
            "org-s",
        )
        .await;
    assert_eq!(left, Some(0));
}

/// The table of docs/api.md, as OpenAPI paths.
const TABLE: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/api/v1/controller/health"),
    ("get", "/api/v1/controller/overview"),
    ("get", "/api/v1/controller/organizations"),
    ("post", "/api/v1/controller/organizations"),
    ("get", "/api/v1/controller/organizations/{id}"),
    ("put", "/api/v1/controller/organizations/{id}/features"),
    ("get", "/api/v1/controller/orchestrators"),
    ("get", "/api/v1/controller/orchestrators/{id}"),
    ("get", "/api/v1/controller/orchestrators/live"),
    ("get", "/api/v1/controller/orchestrators/live/{id}"),
    ("post", "/api/v1/controller/orchestrator-instances"),
    ("delete", "/api/v1/controller/orchestrator-instances/{id}"),
    ("get", "/api/v1/controller/logs"),
    ("get", "/api/v1/controller/config"),
    ("get", "/api/v1/controller/orchestrators/{id}/config"),
    (
        "get",
        "/api/v1/controller/orchestrators/{id}/config/revisions",
    ),
    (
        "post",
        "/api/v1/controller/orchestrators/{id}/config/rollback",
    ),
    ("get", "/api/v1/controller/rollouts"),
    ("post", "/api/v1/controller/rollouts"),
    ("get", "/api/v1/controller/rollouts/{id}"),
    ("post", "/api/v1/controller/rollouts/{id}/{action}"),
    ("post", "/api/v1/internal/orchestrators/register"),
    ("put", "/api/v1/internal/orchestrators/{id}/independence"),
    ("get", "/api/v1/internal/orchestrators/{id}/independence"),
    ("post", "/api/v1/internal/orchestrators/{id}/messages"),
    ("get", "/api/v1/internal/orchestrators/{id}/messages"),
    ("put", "/api/v1/internal/messages/{id}/status"),
    ("get", "/api/v1/internal/messages"),
    ("delete", "/api/v1/internal/orchestrators/{id}/deregister"),
    ("post", "/api/v1/internal/orchestrators/{id}/send"),
    ("get", "/api/v1/internal/orchestrators/{id}/sends"),
    ("get", "/api/v1/internal/logs"),
    ("get", "/api/v1/internal/health"),
    ("post", "/api/v1/internal/auth/login"),
    ("post", "/api/v1/internal/auth/logout"),
];

/// `/a/{org_id}/b` → `/a/{}/b`: parameter names may differ from the table's.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push_str("{}");
            }
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn openapi_documents_every_path_of_the_table_and_docs_is_html() {
    let (_env, stack, _api) = admin_stack().await;
    let anonymous = Api::new(stack.core.addr, None);
    let (status, v) = anonymous.get("/openapi.json").await;
    assert_eq!(status, 200, "{v}");
    let version = v["openapi"]
        .as_str()
        .unwrap_or_else(|| panic!("not an OpenAPI document: {v}"));
    assert!(version.starts_with("3."), "openapi {version}");
    let paths = v["paths"].as_object().expect("paths");
    let documented: std::collections::BTreeMap<String, &Value> =
        paths.iter().map(|(p, ops)| (shape(p), ops)).collect();
    let mut missing = Vec::new();
    for (method, path) in TABLE {
        if documented
            .get(&shape(path))
            .is_none_or(|ops| ops.get(*method).is_none())
        {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");

    let resp = anonymous
        .request(Method::GET, "/docs")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        kind.as_deref().is_some_and(|k| k.starts_with("text/html")),
        "{kind:?}"
    );
    let html = resp.text().await.unwrap().to_lowercase();
    assert!(html.contains("<html"), "{html}");
}
