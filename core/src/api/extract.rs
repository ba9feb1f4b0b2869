//! Request extractors: bodies and queries whose failures name the offending
//! field (422), a path id that must be a valid orchestrator id (anything else
//! cannot exist: 404), and the admin a bearer token (or `PUBLIC_READ_API`)
//! stands for.

use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use bytes::Bytes;
use moolai_proto::commands::Command;
use moolai_proto::OrchestratorId;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::api::error::{ApiError, FieldError};
use crate::api::AppState;
use crate::auth::session_use::Touch;

fn field_error(place: &str, path: &serde_path_to_error::Path, msg: String) -> ApiError {
    let mut loc = vec![place.to_owned()];
    loc.extend(
        path.to_string()
            .split('.')
            .filter(|s| !s.is_empty() && *s != "?")
            .map(str::to_owned),
    );
    ApiError::Invalid(vec![FieldError {
        loc,
        msg,
        kind: "value_error".to_owned(),
    }])
}

/// A JSON body; a wrong type or missing field is a 422 naming it.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if timed_out(&e) {
                ApiError::BodyTimeout
            } else if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(crate::api::MAX_BODY_BYTES)
            } else {
                ApiError::field("body", "", e.body_text())
            }
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(Body).map_err(|e| {
            let msg = e.inner().to_string();
            if e.inner().is_syntax() || e.inner().is_eof() {
                return ApiError::field("body", "", format!("body is not valid JSON: {msg}"));
            }
            // serde names a missing field only in its message; put it in `loc` too.
            let missing = msg
                .strip_prefix("missing field `")
                .and_then(|r| r.split('`').next());
            match missing {
                Some(name) => ApiError::field("body", name, msg.clone()),
                None => field_error("body", e.path(), msg),
            }
        })
    }
}

/// Query parameters; a wrong type or value is a 422 naming the parameter.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        // PostgreSQL refuses NUL in text, so a filter holding one would fail
        // as a 500 inside the query; no parameter has a use for it.
        if let Some((name, _)) = form_urlencoded_parse(query).find(|(_, v)| v.contains('\0')) {
            return Err(ApiError::field(
                "query",
                &name,
                "must not contain NUL characters",
            ));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de)
            .map(Params)
            .map_err(|e| {
                let msg = e.inner().to_string();
                let missing = msg
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next());
                match missing {
                    Some(name) => ApiError::field("query", name, msg.clone()),
                    None => field_error("query", e.path(), msg),
                }
            })
    }
}

/// Whether reading a body failed on the server's body deadline (`serve.rs`)
/// rather than on the client's bytes.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// The username of the static `DEV_BEARER_TOKEN`.
pub const DEV_TOKEN_USER: &str = "dev-token";

/// SHA-256 (hex) of a token: what the sessions table stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An authenticated admin (or the development token).
pub struct Admin {
    pub username: String,
    pub token_hash: String,
    /// May add and remove admins (never the development token).
    pub superadmin: bool,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::MissingToken)?;
        authenticate(state, token).await
    }
}

/// An admin for a stream: the token from the `Authorization` header or, for
/// `EventSource`, from `?access_token=`. `session` is the session's token hash,
/// so the stream can end with it; `None` for the development token.
pub struct StreamAdmin {
    pub session: Option<String>,
}

impl FromRequestParts<AppState> for StreamAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let admin = if parts.headers.contains_key(AUTHORIZATION) {
            Admin::from_request_parts(parts, state).await?
        } else {
            let token = parts
                .uri
                .query()
                .into_iter()
                .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
                .ok_or(ApiError::MissingToken)?;
            authenticate(state, &token).await?
        };
        let session = (state.auth.dev_token_hash.as_deref() != Some(admin.token_hash.as_str()))
            .then_some(admin.token_hash);
        Ok(StreamAdmin { session })
    }
}

/// Checks a token: the development token, or an open, unexpired session that
/// has not been idle too long (judged from the database after a restart).
pub(super) async fn authenticate(state: &AppState, token: &str) -> Result<Admin, ApiError> {
    let hash = token_hash(token);
    if state.auth.dev_token_hash.as_deref() == Some(hash.as_str()) {
        return Ok(Admin {
            username: DEV_TOKEN_USER.into(),
            token_hash: hash,
            superadmin: false,
        });
    }
    let session: Option<(String, bool, bool, f64)> = sqlx::query_as(
        "SELECT s.username, s.revoked_at IS NULL AND s.expires_at > now(), a.superadmin,
                EXTRACT(EPOCH FROM now() - COALESCE(s.last_used_at, s.created_at))::float8
           FROM sessions s JOIN admins a ON a.username = s.username
          WHERE s.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&state.pool)
    .await?;
    let Some((username, open, superadmin, stored_idle)) = session else {
        return Err(ApiError::InvalidToken);
    };
    if !open {
        return Err(ApiError::SessionEnded); // logged out or expired
    }
    let stored_idle = Duration::from_secs_f64(stored_idle.max(0.0));
    match state
        .sessions
        .touch_if_fresh(&hash, state.auth.session_idle, stored_idle)
    {
        Touch::Idle => {
            session_command(state, Command::RevokeSession { token_hash: hash });
            return Err(ApiError::SessionEnded);
        }
        Touch::Fresh { persist: true } => session_command(
            state,
            Command::TouchSession {
                token_hash: hash.clone(),
            },
        ),
        Touch::Fresh { persist: false } => {}
    }
    Ok(Admin {
        username,
        token_hash: hash,
        superadmin,
    })
}

/// Ends an idle session, or records a session's use, in the database so that
/// it holds across a core restart. Best effort, off the request: this core's
/// memory already decided.
fn session_command(state: &AppState, command: Command) {
    let persister = state.persister.clone();
    tokio::spawn(async move {
        if let Err(err) = persister.run(&command).await {
            tracing::warn!(%err, "session use or idle expiry not stored");
        }
    });
}

/// Access to the read-only endpoints of the overview, organizations and
/// orchestrators: with `PUBLIC_READ_API=true` a request without a token gets in
/// as `anonymous`, and those handlers then leave internal fields out
/// (`read::public_view`); a token, when given, is checked as everywhere else.
pub struct Reader {
    pub anonymous: bool,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.auth.public_read && !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(Reader { anonymous: true });
        }
        Admin::from_request_parts(parts, state)
            .await
            .map(|_| Reader { anonymous: false })
    }
}

/// Settings the extractors need.
pub struct AuthSettings {
    pub dev_token_hash: Option<String>,
    pub public_read: bool,
    pub session_ttl: Duration,
    pub session_idle: Duration,
}

/// `{id}` in a path, as an orchestrator (or organization) id.
pub struct Id(pub OrchestratorId);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::NotFound(e.body_text()))?;
        OrchestratorId::parse(raw.clone())
            .map(Id)
            .map_err(|_| ApiError::NotFound(format!("{raw} not found")))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::{to_bytes, Body as HttpBody};
    use axum::http::{Request, StatusCode};
    use axum::routing::{get, post};
    use axum::Router;
    use serde::Deserialize;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;

    #[derive(Deserialize)]
    struct Item {
        name: String,
        #[serde(default)]
        tags: Vec<u32>,
    }

    #[derive(Deserialize)]
    struct Query {
        page: u32,
        q: Option<String>,
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/items",
                post(|Body(item): Body<Item>| async move {
                    format!("{} {:?}", item.name, item.tags)
                }),
            )
            .route(
                "/list",
                get(|Params(q): Params<Query>| async move {
                    format!("{} {}", q.page, q.q.unwrap_or_default())
                }),
            )
            .route(
                "/orgs/{id}",
                get(|Id(id): Id| async move { id.to_string() }),
            )
    }

    async fn call(request: Request<HttpBody>) -> (StatusCode, String) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn post_body(body: &str) -> (StatusCode, String) {
        let request = Request::post("/items")
            .header("content-type", "application/json")
            .body(HttpBody::from(body.to_owned()))
            .unwrap();
        call(request).await
    }

    async fn get_uri(uri: &str) -> (StatusCode, String) {
        call(Request::get(uri).body(HttpBody::empty()).unwrap()).await
    }

    /// The `loc` of the one field a 422 names.
    fn loc(body: &str) -> Value {
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["detail"].as_array().map(Vec::len), Some(1), "{body}");
        body["detail"][0]["loc"].clone()
    }

    #[tokio::test]
    async fn a_good_body_reaches_the_handler() {
        let (status, text) = post_body(r#"{"name": "a", "tags": [1, 2]}"#).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "a [1, 2]"));
    }

    #[tokio::test]
    async fn a_body_missing_a_field_names_it() {
        let (status, text) = post_body(r#"{"tags": []}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(loc(&text), json!(["body", "name"]));
    }

    #[tokio::test]
    async fn a_wrong_type_deep_in_a_body_names_its_path() {
        let (status, text) = post_body(r#"{"name": "a", "tags": [1, "x"]}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(loc(&text), json!(["body", "tags[1]"]));
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_says_so() {
        let (status, text) = post_body(r#"{"name": "#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = serde_json::from_str(&text).unwrap();
        let msg = body["detail"][0]["msg"].as_str().unwrap();
        assert!(msg.starts_with("body is not valid JSON"), "{msg}");
    }

    #[tokio::test]
    async fn query_parameters_are_parsed_and_their_errors_name_them() {
        let (status, text) = get_uri("/list?page=2&q=abc").await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "2 abc"));
        let (status, text) = get_uri("/list?page=two").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(loc(&text), json!(["query", "page"]));
        let (status, text) = get_uri("/list?q=abc").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(loc(&text), json!(["query", "page"]));
    }

    #[tokio::test]
    async fn a_nul_in_a_query_parameter_is_refused_before_the_database() {
        let (status, text) = get_uri("/list?page=1&q=a%00b").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(loc(&text), json!(["query", "q"]));
    }

    #[tokio::test]
    async fn a_path_id_that_cannot_be_an_orchestrator_is_not_found() {
        let (status, text) = get_uri("/orgs/org-1").await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "org-1"));
        let bad = "a".repeat(1000);
        let (status, text) = get_uri(&format!("/orgs/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(text.contains("not found"), "{text}");
        let (status, _) = get_uri("/orgs/a.b").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
