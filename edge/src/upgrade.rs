//! The WebSocket upgrade (RFC 6455 §4.2), done here rather than by axum's
//! `WebSocketUpgrade` so that the edge keeps hold of the connection under the
//! socket: after the frame decoder gives up on a peer's bytes (a frame over the
//! limit), a close still has to read and discard them (see [`crate::closing`]),
//! and axum's socket offers no way to reach them.

use std::future::Future;

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_util::task::TaskTracker;

/// An orchestrator's socket, over the upgraded HTTP connection.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Why a request to `/ws` is not a WebSocket upgrade; the same answers as axum's.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("Request method must be `GET`")]
    MethodNotGet,
    #[error("Connection header did not include 'upgrade'")]
    ConnectionHeader,
    #[error("`Upgrade` header did not include 'websocket'")]
    UpgradeHeader,
    #[error("`Sec-WebSocket-Version` header did not include '13'")]
    VersionHeader,
    #[error("`Sec-WebSocket-Key` header missing")]
    KeyMissing,
    #[error("WebSocket request couldn't be upgraded since no upgrade state was present")]
    NotUpgradable,
}

impl IntoResponse for UpgradeError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}

/// A valid upgrade request, not answered yet.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl Upgrade {
    /// Checks that `parts` asks for a WebSocket (HTTP/1.1; the edge serves no
    /// HTTP/2) and takes the connection's upgrade handle out of them.
    pub fn from_parts(parts: &mut Parts) -> Result<Self, UpgradeError> {
        if parts.method != Method::GET || parts.version > Version::HTTP_11 {
            return Err(UpgradeError::MethodNotGet);
        }
        if !header_contains(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(UpgradeError::ConnectionHeader);
        }
        if !header_is(&parts.headers, header::UPGRADE, "websocket") {
            return Err(UpgradeError::UpgradeHeader);
        }
        if !header_is(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return Err(UpgradeError::VersionHeader);
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or(UpgradeError::KeyMissing)?
            .clone();
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(UpgradeError::NotUpgradable)?;
        Ok(Self { key, on_upgrade })
    }

    /// Answers 101 and, once the connection is switched, runs `serve` on the
    /// socket in a task of its own, tracked in `tasks` so that shutdown waits for
    /// its goodbye.
    pub fn respond<F, Fut>(self, config: WebSocketConfig, tasks: &TaskTracker, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tasks.spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(err) => return tracing::debug!(%err, "upgrade did not complete"),
            };
            let io = TokioIo::new(upgraded);
            let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
            serve(socket).await;
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

fn header_is(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers
        .get(&key)
        .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// `Connection` is a list (`keep-alive, Upgrade`).
fn header_contains(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers
        .get(&key)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.to_ascii_lowercase().contains(value))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(build: axum::http::request::Builder) -> Parts {
        build.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_plain_get_is_not_an_upgrade() {
        let mut p = parts(Request::get("/ws"));
        assert!(matches!(
            Upgrade::from_parts(&mut p),
            Err(UpgradeError::ConnectionHeader)
        ));
    }

    #[test]
    fn an_upgrade_without_a_key_is_refused_before_anything_else() {
        let mut p = parts(
            Request::get("/ws")
                .header("connection", "keep-alive, Upgrade")
                .header("upgrade", "WebSocket")
                .header("sec-websocket-version", "13"),
        );
        let refused = Upgrade::from_parts(&mut p).err().unwrap();
        assert!(matches!(refused, UpgradeError::KeyMissing));
        assert_eq!(refused.into_response().status(), StatusCode::BAD_REQUEST);
    }
}
