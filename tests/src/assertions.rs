//! Checks of the REST API's response shapes shared by the API tests.

use chrono::{DateTime, FixedOffset, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;

/// Parses an RFC 3339 timestamp, panicking on anything else.
pub fn time(v: &Value) -> DateTime<FixedOffset> {
    let text = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
}

/// Checks the controller envelope and returns `data`.
pub fn envelope(v: &Value) -> &Value {
    assert_eq!(v["success"], true, "{v}");
    assert!(v["message"].is_string(), "no message in {v}");
    let at = time(&v["timestamp"]).with_timezone(&Utc);
    assert!(
        (Utc::now() - at).num_seconds().abs() < 30,
        "envelope timestamp is not now: {v}"
    );
    v.get("data").unwrap_or_else(|| panic!("no data in {v}"))
}

/// The call answers 422 with a `detail` entry whose `loc` names `field`.
pub async fn assert_422(api: &Api, method: Method, path: &str, body: Option<Value>, field: &str) {
    let (status, v) = api.call(method, path, body.clone()).await;
    assert_eq!(status, 422, "{path} {body:?}: {v}");
    assert!(
        names_field(&v, field),
        "422 for {path} does not name `{field}` in loc: {v}"
    );
}

/// Whether some `detail` entry of a 422 body has `field` in its `loc`.
pub fn names_field(v: &Value, field: &str) -> bool {
    v["detail"].as_array().is_some_and(|d| {
        d.iter().any(|e| {
            e["loc"]
                .as_array()
                .is_some_and(|l| l.contains(&json!(field)))
        })
    })
}

/// Ids that break `^[A-Za-z0-9_-]{1,128}$`: the contract answers 404 for them.
pub fn bad_ids() -> Vec<String> {
    vec!["a.b".into(), "a%20b".into(), "x".repeat(129)]
}
