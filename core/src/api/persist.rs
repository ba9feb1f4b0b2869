//! Core's side of the write path: every mutation is a request to the persister,
//! answered after its commit. No answer in [`WRITE_TIMEOUT`] is a 503, never a hang.

use std::time::Duration;

use bytes::Bytes;
use moolai_proto::commands::{Command, Failure, Reply};
use serde_json::Value;

use super::error::ApiError;

/// Longest a write may take before the client is told the persister is unavailable.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends write commands to the persisters' queue group.
#[derive(Clone)]
pub struct Persister {
    pub nats: async_nats::Client,
    pub subject: String,
}

impl Persister {
    /// Runs `command`; `Ok(data)` once it is committed.
    pub async fn run(&self, command: &Command) -> Result<Value, ApiError> {
        if let async_nats::connection::State::Disconnected = self.nats.connection_state() {
            return Err(ApiError::Unavailable(
                "persister unavailable: NATS is not connected".into(),
            ));
        }
        let payload = Bytes::from(
            serde_json::to_vec(command).map_err(|e| ApiError::Internal(e.to_string()))?,
        );
        let request = self.nats.request(self.subject.clone(), payload);
        let msg = match tokio::time::timeout(WRITE_TIMEOUT, request).await {
            Err(_) => return Err(unavailable("no answer within 5 s")),
            Ok(Err(err)) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                return Err(unavailable("no persister is running"));
            }
            Ok(Err(err)) => return Err(unavailable(&err.to_string())),
            Ok(Ok(msg)) => msg,
        };
        match serde_json::from_slice::<Reply>(&msg.payload) {
            Ok(Reply::Done { data }) => Ok(data),
            Ok(Reply::Failed { failure, detail }) => Err(match failure {
                Failure::NotFound => ApiError::NotFound(detail),
                Failure::Conflict => ApiError::Conflict(detail),
                Failure::Invalid => ApiError::field("body", "", detail),
                Failure::Unavailable => unavailable(&detail),
            }),
            Err(err) => Err(ApiError::Internal(format!(
                "undecodable persister reply: {err}"
            ))),
        }
    }
}

impl Persister {
    /// Whether a persister answers within a second.
    pub async fn is_up(&self) -> bool {
        let ping = self.run(&Command::Ping);
        matches!(
            tokio::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        )
    }
}

fn unavailable(why: &str) -> ApiError {
    ApiError::Unavailable(format!("persister unavailable: {why}"))
}
