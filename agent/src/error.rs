//! Why a session with an edge could not be established, and when the edge said
//! to come back.

use std::time::Duration;

use crate::pacing::{hint_in_close, parse_retry_after};

/// Why a session could not be established.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("timed out: {0}")]
    Timeout(&'static str),
    #[error("expected handshake_ack first, got {0}")]
    UnexpectedFirstFrame(String),
    #[error("connection closed before the handshake_ack")]
    ClosedEarly,
    #[error("refused with close {code} {reason}")]
    Refused { code: u16, reason: String },
}

impl AgentError {
    /// When the edge said to come back: a 503 upgrade answer's `Retry-After`,
    /// or a 1013 close's `retry_after=N` (see [`crate::pacing::hint_in_close`]).
    pub fn retry_hint(&self) -> Option<Duration> {
        match self {
            Self::Ws(tokio_tungstenite::tungstenite::Error::Http(response))
                if response.status() == 503 =>
            {
                let value = response.headers().get("retry-after")?.to_str().ok()?;
                parse_retry_after(value)
            }
            Self::Refused { code, reason } => hint_in_close(*code, reason),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_edges_503_and_a_hinted_1013_say_when_to_come_back() {
        let busy = tokio_tungstenite::tungstenite::http::Response::builder()
            .status(503)
            .header("retry-after", "2")
            .body(None)
            .unwrap();
        let err = AgentError::Ws(tokio_tungstenite::tungstenite::Error::Http(Box::new(busy)));
        assert_eq!(err.retry_hint(), Some(Duration::from_secs(2)));
        let unauthorized = tokio_tungstenite::tungstenite::http::Response::builder()
            .status(401)
            .header("retry-after", "2")
            .body(None)
            .unwrap();
        let err = AgentError::Ws(tokio_tungstenite::tungstenite::Error::Http(Box::new(
            unauthorized,
        )));
        assert_eq!(err.retry_hint(), None);
        let closed = AgentError::Refused {
            code: 1013,
            reason: "try_again_later retry_after=3".into(),
        };
        assert_eq!(closed.retry_hint(), Some(Duration::from_secs(3)));
        assert_eq!(AgentError::ClosedEarly.retry_hint(), None);
    }
}
