//! The message and log endpoints of docs/api.md: unique ids, filters, status
//! updates, response shapes and each error status.

use moolai_tests::api::{admin_stack, register, C, I};
use moolai_tests::assertions::{assert_422, bad_ids, envelope, time};
use reqwest::Method;
use serde_json::{json, Value};

// ---- tests ----

#[tokio::test]
async fn messages_get_unique_ids_filters_and_status_updates() {
    let (_env, _stack, api) = admin_stack().await;
    register(&api, "msg-o", "msg-o").await;
    let path = format!("{I}/orchestrators/msg-o/messages");
    let mut ids = Vec::new();
    for (kind, text) in [
        ("recommendation", "Enable caching"),
        ("monitoring", "Memory at 85%"),
    ] {
        let body = json!({"message_type": kind, "content": text, "metadata": {"severity": "high"}});
        let (status, v) = api.post(&path, body).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            (&v["success"], &v["message"]),
            (&json!(true), &json!("Message created successfully"))
        );
        assert_eq!(
            (&v["orchestrator_id"], &v["message_type"]),
            (&json!("msg-o"), &json!(kind))
        );
        assert_eq!(v["status"], "pending");
        let id = v["message_id"].as_str().expect("message_id").to_owned();
        assert!(id.starts_with("msg_msg-o_"), "{id}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "two messages in one second share an id");

    let (status, v) = api.get(&path).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["success"], &v["orchestrator_id"], &v["total_count"]),
        (&json!(true), &json!("msg-o"), &json!(2))
    );
    let messages = v["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    let rec = messages
        .iter()
        .find(|m| m["id"] == ids[0].as_str())
        .expect("first message listed");
    assert_eq!(
        (&rec["content"], &rec["metadata"]),
        (&json!("Enable caching"), &json!({"severity": "high"}))
    );
    assert_eq!(
        (&rec["status"], &rec["source"]),
        (&json!("pending"), &json!("controller"))
    );
    assert_eq!(
        (&rec["orchestrator_id"], &rec["message_type"]),
        (&json!("msg-o"), &json!("recommendation"))
    );
    assert!(time(&rec["created_at"]) <= time(&rec["updated_at"]));
    let listed = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, v) = api.get(&format!("{path}?message_type=monitoring")).await;
    assert_eq!(listed(&v), vec![ids[1].clone()]);

    let (status, v) = api
        .put(
            &format!("{I}/messages/{}/status", ids[0]),
            json!({"status": "accepted"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["success"], &v["status"], &v["orchestrator_id"]),
        (&json!(true), &json!("accepted"), &json!("msg-o"))
    );
    assert_eq!(v["message_id"], ids[0].as_str());
    let (status, v) = api.get(&format!("{I}/messages?status=accepted")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (listed(&v), &v["total_count"]),
        (vec![ids[0].clone()], &json!(1))
    );
    let (_, v) = api.get(&format!("{I}/messages?status=pending")).await;
    assert_eq!(listed(&v), vec![ids[1].clone()]);
    let (_, v) = api
        .get(&format!(
            "{path}?status=accepted&message_type=recommendation"
        ))
        .await;
    assert_eq!(listed(&v), vec![ids[0].clone()]);
    let (_, v) = api.get(&format!("{I}/messages?limit=1")).await;
    assert_eq!(listed(&v).len(), 1, "limit=1: {v}");
    let (_, v) = api.get(&format!("{I}/messages")).await;
    assert_eq!(
        (&v["success"], &v["total_count"]),
        (&json!(true), &json!(2)),
        "{v}"
    );

    let status_path = format!("{I}/messages/{}/status", ids[0]);
    assert_422(
        &api,
        Method::PUT,
        &status_path,
        Some(json!({"status": "maybe"})),
        "status",
    )
    .await;
    let gossip = json!({"message_type": "gossip", "content": "x"});
    assert_422(&api, Method::POST, &path, Some(gossip), "message_type").await;
    let no_content = json!({"message_type": "monitoring"});
    assert_422(&api, Method::POST, &path, Some(no_content), "content").await;
    assert_422(
        &api,
        Method::GET,
        &format!("{I}/messages?status=maybe"),
        None,
        "status",
    )
    .await;
    assert_422(
        &api,
        Method::GET,
        &format!("{path}?message_type=gossip"),
        None,
        "message_type",
    )
    .await;
    for limit in ["0", "1001", "many"] {
        assert_422(
            &api,
            Method::GET,
            &format!("{I}/messages?limit={limit}"),
            None,
            "limit",
        )
        .await;
    }
    let (status, v) = api
        .put(
            &format!("{I}/messages/msg_nope_1/status"),
            json!({"status": "accepted"}),
        )
        .await;
    assert_eq!(status, 404, "unknown message: {v}");
    let (status, v) = api
        .post(
            &format!("{I}/orchestrators/nope/messages"),
            json!({"message_type": "monitoring", "content": "x"}),
        )
        .await;
    assert_eq!(status, 404, "message for an unknown orchestrator: {v}");
    for bad in bad_ids() {
        let (status, v) = api
            .put(
                &format!("{I}/messages/{bad}/status"),
                json!({"status": "accepted"}),
            )
            .await;
        assert_eq!(status, 404, "invalid message id {bad}: {v}");
    }
}

#[tokio::test]
async fn logs_answer_in_both_shapes_and_filter() {
    let (_env, _stack, api) = admin_stack().await;
    register(&api, "log-1", "log-1").await;
    let check_items = |data: &Value, limit: usize| -> Vec<Value> {
        assert!(data["total"].is_u64(), "total in {data}");
        let items = data["items"].as_array().expect("items").clone();
        assert!(
            items.len() <= limit,
            "limit {limit} ignored: {} items",
            items.len()
        );
        for item in &items {
            time(&item["timestamp"]);
            for key in ["level", "message", "source"] {
                assert!(item[key].is_string(), "{key} in {item}");
            }
        }
        items
    };
    let (status, v) = api.get(&format!("{C}/logs?limit=5")).await;
    assert_eq!(status, 200, "{v}");
    check_items(envelope(&v), 5);
    let (status, v) = api.get(&format!("{I}/logs?limit=50")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["success"], true);
    let items = check_items(&v["data"], 50);
    let times: Vec<_> = items.iter().map(|i| time(&i["timestamp"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {times:?}"
    );
    let (_, v) = api.get(&format!("{I}/logs?level=ERROR")).await;
    for item in check_items(&v["data"], 1000) {
        assert_eq!(
            item["level"].as_str().unwrap().to_uppercase(),
            "ERROR",
            "{item}"
        );
    }
    let (_, v) = api.get(&format!("{I}/logs?q=zq-no-such-text-qz")).await;
    assert_eq!(check_items(&v["data"], 0).len(), 0);
}
