//! Request extractors whose failures name the offending field (422), and a path
//! id that must be a valid orchestrator id (anything else cannot exist: 404).

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use moolai_proto::OrchestratorId;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

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
