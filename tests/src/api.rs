//! A small REST client for the tests: `(status, JSON body)` per call.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::{Stack, TestEnv, ADMIN_PASSWORD};

/// Prefix of the controller endpoints.
pub const C: &str = "/api/v1/controller";
/// Prefix of the internal endpoints.
pub const I: &str = "/api/v1/internal";

/// How long one request may take unless a test asks for another limit.
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Api {
    base: String,
    token: Option<String>,
    client: Client,
}

impl Api {
    pub fn new(addr: SocketAddr, token: Option<&str>) -> Self {
        Self::with_timeout(addr, token, TIMEOUT)
    }

    /// Like [`Api::new`], with `timeout` per request instead of 20 s.
    pub fn with_timeout(addr: SocketAddr, token: Option<&str>, timeout: Duration) -> Self {
        let client = Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .expect("http client");
        Self {
            base: format!("http://{addr}"),
            token: token.map(str::to_owned),
            client,
        }
    }

    /// The bearer token this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Logs in as `admin` and returns a client carrying the session token.
    pub async fn admin(addr: SocketAddr) -> Self {
        Self::new(addr, Some(&admin_token(addr).await))
    }

    /// A request to `path` carrying the bearer token (if any), for tests that
    /// set their own headers or body, or read the response's headers.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// Sends `req`; the body as JSON, or as a JSON string when it is not JSON.
    pub async fn send(req: RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status();
        let text = resp.text().await.expect("HTTP body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::send(req).await
    }

    /// [`Api::call`] that must answer 200; returns the body.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method.clone(), path, body).await;
        assert_eq!(status, 200, "{method} {path}: {v}");
        v
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

/// `POST /auth/login` without a token; the answer as it is.
pub async fn login_as(addr: SocketAddr, username: &str, password: &str) -> (StatusCode, Value) {
    Api::new(addr, None)
        .post(
            &format!("{I}/auth/login"),
            json!({"username": username, "password": password}),
        )
        .await
}

/// Logs in as `admin` and returns the session token.
pub async fn admin_token(addr: SocketAddr) -> String {
    let (status, body) = login_as(addr, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "admin login: {body}");
    body["token"].as_str().expect("token").to_owned()
}

/// A fresh environment, the usual stack and a client logged in as `admin`.
pub async fn admin_stack() -> (TestEnv, Stack, Api) {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    (env, stack, api)
}

/// Registers `orchestrator` of `organization` (located in "lab"); must answer 200.
pub async fn register(api: &Api, orchestrator: &str, organization: &str) {
    let body = json!({"organization_id": organization, "orchestrator_id": orchestrator,
                      "name": format!("Name {orchestrator}"), "location": "lab"});
    let (status, v) = api.post(&format!("{I}/orchestrators/register"), body).await;
    assert_eq!(status, 200, "register {orchestrator}: {v}");
}
