//! A small REST client for the tests: `(status, JSON body)` per call.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::ADMIN_PASSWORD;

/// Prefix of the controller endpoints.
pub const C: &str = "/api/v1/controller";
/// Prefix of the internal endpoints.
pub const I: &str = "/api/v1/internal";

pub struct Api {
    base: String,
    token: Option<String>,
    client: Client,
}

impl Api {
    pub fn new(addr: SocketAddr, token: Option<&str>) -> Self {
        let client = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("http client");
        Self {
            base: format!("http://{addr}"),
            token: token.map(str::to_owned),
            client,
        }
    }

    /// Logs in as `admin` and returns a client carrying the session token.
    pub async fn admin(addr: SocketAddr) -> Self {
        let (status, body) = Self::new(addr, None)
            .post(
                &format!("{I}/auth/login"),
                json!({"username": "admin", "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "admin login: {body}");
        Self::new(addr, body["token"].as_str())
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status();
        let text = resp.text().await.expect("HTTP body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }
}
