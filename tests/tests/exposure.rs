//! What core shows to whom: the dashboard's security headers and no source maps,
//! and with `PUBLIC_READ_API=true` only the fleet's public state to a reader
//! without a token (no logs, no audit, no internals).

use std::path::PathBuf;
use std::time::Duration;

use moolai_tests::api::{Api, C, I};
use moolai_tests::stacks::persister_and_core;
use moolai_tests::ws::connect_as;
use moolai_tests::{start_core, start_edge, start_persister, wait_until, TestEnv};
use reqwest::Method;

/// A built dashboard in miniature: an index, a script and its source map.
fn dashboard_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("moolai-dashboard-{tag}"));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        r#"<!doctype html><script type="module" src="/assets/app.js"></script>"#,
    )
    .unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log('hi')").unwrap();
    std::fs::write(
        dir.join("assets/app.js.map"),
        r#"{"sources":["secret.tsx"]}"#,
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn dashboard_answers_carry_csp_frame_and_sniffing_headers_and_no_source_map() {
    let env = TestEnv::new().await;
    let mut config = env.core_config();
    config.dashboard_dir = dashboard_dir(&env.prefix);
    // With a persister, core does not wait 10 s at start to store its admin.
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(config).await;
    let api = Api::new(core.addr, None);
    for path in ["/", "/assets/app.js", "/organizations/some-org"] {
        let resp = api.request(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: CSP `{csp}` lacks {directive}"
            );
        }
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
    // The map exists on disk, and is not served.
    let (status, _) = api.get("/assets/app.js.map").await;
    assert_eq!(status, 404);
    // API answers are not sniffed or framed either.
    let resp = api.request(Method::GET, "/health").send().await.unwrap();
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn public_read_shows_the_fleet_but_not_logs_audit_or_internals() {
    let env = TestEnv::new().await;
    let (_persister, core) = persister_and_core(&env, |c| c.public_read_api = true).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    let _sock = connect_as(&edge.ws_url(), "org-public", true).await;
    let anonymous = Api::new(core.addr, None);
    let admin = Api::admin(core.addr).await;
    let listed = wait_until(Duration::from_secs(10), || async {
        admin.get(&format!("{C}/orchestrators")).await.1["data"]["items"][0]["connected"] == true
    })
    .await;
    assert!(
        listed.is_some(),
        "the orchestrator never showed as connected"
    );

    // An admin sees the internals...
    let (_, full) = admin.get(&format!("{C}/orchestrators/org-public")).await;
    assert_eq!(full["data"]["metadata"]["hostname"], "test", "{full}");
    assert_eq!(full["data"]["edge_id"], "edge-1", "{full}");
    // ...a reader without a token the public state only.
    let internal = [
        "metadata",
        "features",
        "edge_id",
        "internal_url",
        "container_id",
        "image_name",
        "o_config_snapshot",
        "settings",
        "policies",
    ];
    for path in [
        format!("{C}/orchestrators/org-public"),
        format!("{C}/organizations/org-public"),
        format!("{C}/orchestrators/live/org-public"),
    ] {
        let (status, body) = anonymous.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body["data"]["name"].is_string(), "{path}: {body}");
        for field in internal {
            assert!(
                body["data"].get(field).is_none(),
                "{path} shows {field}: {body}"
            );
        }
    }
    let (_, orgs) = anonymous.get(&format!("{C}/organizations")).await;
    let org = &orgs["data"]["items"][0];
    assert_eq!(org["organization_id"], "org-public", "{orgs}");
    assert!(org.get("metadata").is_none(), "{orgs}");
    let (_, list) = anonymous.get(&format!("{C}/orchestrators")).await;
    let item = &list["data"]["items"][0];
    assert_eq!(item["connected"], true, "{list}");
    assert!(
        item.get("metadata").is_none() && item.get("edge_id").is_none(),
        "{list}"
    );
    let (_, live) = anonymous.get(&format!("{C}/orchestrators/live")).await;
    let one = &live["data"]["orchestrators"]["org-public"];
    assert!(one.is_object() && one.get("metadata").is_none(), "{live}");
    let (status, overview) = anonymous.get(&format!("{C}/overview")).await;
    assert_eq!(status, 200);
    assert!(overview["data"]["edges_up"].is_number(), "{overview}");
    assert!(overview["data"].get("edges").is_none(), "{overview}");

    // The cluster's logs, its audit and the edges' addresses need a token.
    for path in [
        format!("{C}/logs"),
        format!("{C}/edges"),
        format!("{I}/logs"),
        format!("{I}/audit"),
    ] {
        let (status, body) = anonymous.get(&path).await;
        assert_eq!(status, 401, "{path} without a token: {body}");
        let (status, body) = admin.get(&path).await;
        assert_eq!(status, 200, "{path} as admin: {body}");
    }
}
