//! Every way a request can fail, and the one place that turns each into HTTP.
//! A 5xx keeps the error that caused it; that chain is logged once, where the
//! response is made, and a 500's is never shown to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use moolai_proto::commands::Failure;
use serde::Serialize;
use serde_json::json;

use crate::persister_client::PersistError;

/// One invalid field, as the first version's 422 bodies listed them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where: `["body", "status"]`, `["query", "page_size"]`.
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// How to get a token: the end of the 401/403 bodies, since a client that has
/// none cannot learn it from the status alone.
pub const GET_A_TOKEN: &str = "Get a token with POST /api/v1/internal/auth/login, \
or use the one scripts/stack.sh printed (.data/dev-token)";

/// Any error, boxed, as the source of a [`Cause`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What stopped a request with a 5xx: what was being done (`context`), the
/// error that stopped it (`error`), or both.
#[derive(Debug)]
pub struct Cause {
    context: Option<String>,
    error: Option<BoxError>,
}

impl Cause {
    /// `context`, caused by `error`.
    pub fn new(context: impl Into<String>, error: impl Into<BoxError>) -> Self {
        Self {
            context: Some(context.into()),
            error: Some(error.into()),
        }
    }

    /// `error` alone, as itself.
    pub fn of(error: impl Into<BoxError>) -> Self {
        Self {
            context: None,
            error: Some(error.into()),
        }
    }

    /// What a client is told of a 503: the context and the error's own text
    /// (`"database unavailable: pool timed out"`).
    fn detail(&self) -> String {
        match (&self.context, &self.error) {
            (Some(context), Some(error)) => format!("{context}: {error}"),
            (Some(context), None) => context.clone(),
            (None, Some(error)) => error.to_string(),
            (None, None) => String::new(),
        }
    }

    /// The whole chain, for the log: the detail, then each deeper source.
    fn chain(&self) -> String {
        let mut text = self.detail();
        let mut next = self.error.as_deref().and_then(|e| e.source());
        while let Some(error) = next {
            text.push_str(": ");
            text.push_str(&error.to_string());
            next = error.source();
        }
        text
    }
}

/// A context alone.
impl From<String> for Cause {
    fn from(context: String) -> Self {
        Self {
            context: Some(context),
            error: None,
        }
    }
}

impl From<&str> for Cause {
    fn from(context: &str) -> Self {
        context.to_owned().into()
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.context, &self.error) {
            (Some(context), _) => f.write_str(context),
            (None, Some(error)) => error.fmt(f),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let error = self.error.as_deref()?;
        let error: &(dyn std::error::Error + 'static) = error;
        if self.context.is_some() {
            Some(error)
        } else {
            error.source()
        }
    }
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Both texts start as the first version's did.
    #[error(
        "Missing bearer token: send `Authorization: Bearer <token>`. {}",
        GET_A_TOKEN
    )]
    MissingToken,
    #[error("Invalid token. {}", GET_A_TOKEN)]
    InvalidToken,
    /// A token that was a session once, now logged out or expired: 401 (RFC 6750
    /// `invalid_token`) so clients know to log in again; a token that never was
    /// one stays 403 as in the first version.
    #[error("Session ended (logged out or expired); log in again")]
    SessionEnded,
    #[error("Invalid credentials")]
    BadCredentials,
    #[error("Too many failed logins; try again in {0} s")]
    TooManyLogins(u64),
    /// Every password-hashing slot is busy (each takes 19 MiB): 429, retry in 1 s.
    #[error("Too many logins in progress; try again in a second")]
    LoginBusy,
    /// Authenticated, but not allowed to do this (e.g. manage admins).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// A dependency is away: 503, the cause's detail shown.
    #[error(transparent)]
    Unavailable(Cause),
    /// A body over [`crate::api::MAX_BODY_BYTES`]: refused before it could reach
    /// the bus, whose payload limit it would pass.
    #[error("Request body too large: at most {0} bytes")]
    TooLarge(usize),
    /// The client did not send its whole body within `BODY_TIMEOUT_SEC`.
    #[error("Request body not received in time")]
    BodyTimeout,
    /// Refused by the enrollment endpoint for its credential (none, unknown,
    /// revoked, expired, used up): 401 with the enrollment realm. Its holder
    /// learns why: they have the secret already, and the operator needs to know.
    #[error("{0}")]
    EnrollmentRefused(String),
    /// A bug or a broken invariant: 500, the cause only logged.
    #[error(transparent)]
    Internal(Cause),
}

impl ApiError {
    /// A 422 for one field.
    pub fn field(place: &str, name: &str, msg: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError {
            loc: vec![place.to_owned(), name.to_owned()],
            msg: msg.into(),
            kind: "value_error".to_owned(),
        }])
    }

    /// A 500: `context`, caused by `error`.
    pub fn internal(context: impl Into<String>, error: impl Into<BoxError>) -> Self {
        Self::Internal(Cause::new(context, error))
    }

    /// A 503 telling `"{context}: {error}"`.
    pub fn unavailable(context: impl Into<String>, error: impl Into<BoxError>) -> Self {
        Self::Unavailable(Cause::new(context, error))
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::BadCredentials
            | Self::SessionEnded
            | Self::EnrollmentRefused(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidToken | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyLogins(_) | Self::LoginBusy => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Reads that fail because the database is away are 503; anything else is a bug.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::Database(_)
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnDecode { .. } => Self::Internal(Cause::of(err)),
            other => Self::unavailable("database unavailable", other),
        }
    }
}

impl From<crate::auth::passwords::HashFailed> for ApiError {
    fn from(err: crate::auth::passwords::HashFailed) -> Self {
        Self::internal("password hashing", err)
    }
}

/// A write the persister did not commit: its refusals keep their meaning (404,
/// 409, 422); everything else about reaching it is 503.
impl From<PersistError> for ApiError {
    fn from(err: PersistError) -> Self {
        match err {
            PersistError::Refused { failure, detail } => match failure {
                Failure::NotFound => Self::NotFound(detail),
                Failure::Conflict => Self::Conflict(detail),
                Failure::Invalid => Self::field("body", "", detail),
                Failure::Unavailable => {
                    Self::Unavailable(format!("persister unavailable: {detail}").into())
                }
            },
            PersistError::Encode(_) | PersistError::Decode(_) => Self::Internal(Cause::of(err)),
            PersistError::Disconnected
            | PersistError::Timeout
            | PersistError::NoPersister
            | PersistError::Request(_) => Self::Unavailable(Cause::of(err)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Invalid(fields) => json!({ "detail": fields }),
            Self::Internal(cause) => {
                tracing::error!(cause = cause.chain(), "request failed");
                json!({ "success": false, "detail": "Internal server error" })
            }
            Self::Unavailable(cause) => {
                tracing::warn!(
                    cause = cause.chain(),
                    "request refused: dependency unavailable"
                );
                json!({ "detail": cause.detail() })
            }
            other => json!({ "detail": other.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        match self {
            Self::TooManyLogins(secs) => {
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Self::LoginBusy => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::SessionEnded => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            Self::EnrollmentRefused(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="enrollment""#),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use serde_json::Value;

    use super::*;

    /// The status, one header and the JSON body a client would see.
    async fn seen(
        err: ApiError,
        header: header::HeaderName,
    ) -> (StatusCode, Option<String>, Value) {
        let response = err.into_response();
        let status = response.status();
        let value = response
            .headers()
            .get(header)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, value, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn each_error_has_its_status_and_its_text_as_detail() {
        let cases = [
            (ApiError::MissingToken, 401, "Missing bearer token"),
            (ApiError::InvalidToken, 403, "Invalid token."),
            (ApiError::SessionEnded, 401, "Session ended"),
            (ApiError::BadCredentials, 401, "Invalid credentials"),
            (ApiError::TooManyLogins(7), 429, "try again in 7 s"),
            (ApiError::LoginBusy, 429, "Too many logins in progress"),
            (
                ApiError::Forbidden("admins only".into()),
                403,
                "admins only",
            ),
            (ApiError::NotFound("x not found".into()), 404, "x not found"),
            (ApiError::Conflict("taken".into()), 409, "taken"),
            (ApiError::Unavailable("nats down".into()), 503, "nats down"),
            (ApiError::BodyTimeout, 408, "not received in time"),
            (
                ApiError::EnrollmentRefused("not an enrollment token".into()),
                401,
                "not an enrollment token",
            ),
        ];
        for (err, status, detail) in cases {
            let name = format!("{err:?}");
            let (got, _, body) = seen(err, header::RETRY_AFTER).await;
            assert_eq!(got.as_u16(), status, "{name}");
            let text = body["detail"].as_str().unwrap_or_default();
            assert!(text.contains(detail), "{name}: {body}");
        }
    }

    #[tokio::test]
    async fn the_token_errors_say_how_to_get_a_token() {
        for err in [ApiError::MissingToken, ApiError::InvalidToken] {
            let (_, _, body) = seen(err, header::RETRY_AFTER).await;
            assert!(body["detail"].as_str().unwrap().ends_with(GET_A_TOKEN));
        }
    }

    #[tokio::test]
    async fn an_internal_error_hides_its_cause() {
        let (status, _, body) = seen(
            ApiError::Internal("password column leaked".into()),
            header::RETRY_AFTER,
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            json!({"success": false, "detail": "Internal server error"})
        );
    }

    #[tokio::test]
    async fn a_5xx_keeps_its_source_and_tells_a_503_as_before() {
        let cause = std::io::Error::other("connection reset");
        let err = ApiError::unavailable("NATS unavailable", cause);
        let source = std::error::Error::source(&err).expect("the cause is kept");
        assert_eq!(source.to_string(), "connection reset");
        let (status, _, body) = seen(err, header::RETRY_AFTER).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            json!({"detail": "NATS unavailable: connection reset"})
        );

        let away = ApiError::from(sqlx::Error::PoolTimedOut);
        let ApiError::Unavailable(cause) = &away else {
            panic!("{away:?}")
        };
        assert_eq!(
            cause.detail(),
            format!("database unavailable: {}", sqlx::Error::PoolTimedOut)
        );

        let row = serde_json::from_str::<u8>("-1").unwrap_err();
        let err = ApiError::internal("unexpected row", row);
        let ApiError::Internal(cause) = &err else {
            panic!("{err:?}")
        };
        assert!(cause.chain().starts_with("unexpected row: "), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn a_refused_enrollment_names_its_realm() {
        let (_, challenge, _) = seen(
            ApiError::EnrollmentRefused("revoked".into()),
            header::WWW_AUTHENTICATE,
        )
        .await;
        assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="enrollment""#));
    }

    #[tokio::test]
    async fn an_invalid_request_lists_its_fields() {
        let (status, _, body) = seen(
            ApiError::field("query", "page_size", "must be between 1 and 500"),
            header::RETRY_AFTER,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body,
            json!({"detail": [{
                "loc": ["query", "page_size"],
                "msg": "must be between 1 and 500",
                "type": "value_error",
            }]})
        );
    }

    #[tokio::test]
    async fn refusals_say_when_to_retry_and_an_ended_session_says_why() {
        let (_, retry, _) = seen(ApiError::TooManyLogins(42), header::RETRY_AFTER).await;
        assert_eq!(retry.as_deref(), Some("42"));
        let (_, retry, _) = seen(ApiError::LoginBusy, header::RETRY_AFTER).await;
        assert_eq!(retry.as_deref(), Some("1"));
        let (_, challenge, _) = seen(ApiError::SessionEnded, header::WWW_AUTHENTICATE).await;
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
        let (_, none, _) = seen(ApiError::BadCredentials, header::WWW_AUTHENTICATE).await;
        assert_eq!(none, None, "only an ended session carries the challenge");
    }

    #[test]
    fn a_database_that_is_away_is_unavailable_and_anything_else_a_bug() {
        let away = ApiError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(away.status(), StatusCode::SERVICE_UNAVAILABLE);
        let decode = ApiError::from(sqlx::Error::Decode("bad bytes".into()));
        assert_eq!(decode.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
