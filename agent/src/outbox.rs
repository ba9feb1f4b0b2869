//! Messages an orchestrator sends up to the controller (`message` frames, as the
//! first version's orchestrator sends its recommendation and monitoring
//! messages), given with `--send-message` or as lines on stdin
//! (`--messages-from-stdin`). They wait in the outbox until a session is open,
//! so one given while the agent is still connecting, or between two edges, is
//! sent as soon as it can be.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use moolai_proto::frames::{ClientFrame, MessageType, OrchestratorMessage};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// Why a message given by the user is not one the controller takes.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("not a message object: {0} (want {{\"message_type\", \"content\", \"metadata\"?}})")]
    Json(#[from] serde_json::Error),
    #[error("{0:?} has no type: write `recommendation:<text>` or `monitoring:<text>`")]
    NoType(String),
    #[error("unknown message type {0:?}: recommendation or monitoring")]
    UnknownType(String),
    #[error("the message has no content")]
    Empty,
}

/// Reads one message as the user writes it: `recommendation:<text>`,
/// `monitoring:<text>`, or the frame's `data` as JSON (`{"message_type":
/// "monitoring", "content": "…", "metadata": {…}}`) when it needs metadata.
pub fn parse_message(text: &str) -> Result<OrchestratorMessage, MessageError> {
    let text = text.trim();
    let message = if text.starts_with('{') {
        serde_json::from_str::<OrchestratorMessage>(text)?
    } else {
        let (kind, content) = text
            .split_once(':')
            .ok_or_else(|| MessageError::NoType(text.to_owned()))?;
        OrchestratorMessage {
            message_type: message_type(kind.trim())?,
            content: content.trim().to_owned(),
            metadata: json!({}),
        }
    };
    if message.content.trim().is_empty() {
        return Err(MessageError::Empty);
    }
    Ok(message)
}

fn message_type(kind: &str) -> Result<MessageType, MessageError> {
    serde_json::from_value(Value::String(kind.to_owned()))
        .map_err(|_| MessageError::UnknownType(kind.to_owned()))
}

/// The frame that carries `message` to the controller.
pub fn frame(message: &OrchestratorMessage) -> String {
    ClientFrame::Message {
        data: message.clone(),
    }
    .to_json()
}

/// Messages waiting to be sent, shared by the orchestrator and whoever feeds it.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    queue: Mutex<VecDeque<OrchestratorMessage>>,
    added: Notify,
}

impl Outbox {
    /// An outbox holding `messages`, in order.
    pub fn with(messages: Vec<OrchestratorMessage>) -> Self {
        let outbox = Self::default();
        messages.into_iter().for_each(|m| outbox.push(m));
        outbox
    }

    pub fn push(&self, message: OrchestratorMessage) {
        self.queue().push_back(message);
        self.inner.added.notify_one();
    }

    /// Puts back a message whose send failed, first in line for the next session.
    pub fn put_back(&self, message: OrchestratorMessage) {
        self.queue().push_front(message);
        self.inner.added.notify_one();
    }

    /// The next message, once there is one. Cancel-safe: a message is taken in
    /// the same poll that returns it.
    pub async fn next(&self) -> OrchestratorMessage {
        loop {
            if let Some(message) = self.queue().pop_front() {
                return message;
            }
            self.inner.added.notified().await;
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<OrchestratorMessage>> {
        self.inner.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds the outbox from `input`, one message a line, until it ends; a line
    /// that is not a message is said and skipped, so one typo does not end the
    /// feed. Blank lines are ignored. Blocking: run it on a thread of its own
    /// (for stdin a plain thread, which a tokio runtime would wait for at exit
    /// until the user pressed Enter).
    pub fn feed_lines(&self, input: impl std::io::BufRead) {
        for line in input.lines().map_while(Result::ok) {
            if line.trim().is_empty() {
                continue;
            }
            match parse_message(&line) {
                Ok(message) => self.push(message),
                Err(err) => tracing::warn!("[O-CCS] message not sent: {err}"),
            }
        }
        tracing::info!("[O-CCS] stdin ended; no more messages will be read from it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_written_as_type_colon_text_or_as_json() {
        let short = parse_message("recommendation: enable caching").unwrap();
        assert_eq!(short.message_type, MessageType::Recommendation);
        assert_eq!(short.content, "enable caching");
        let full = parse_message(
            r#"{"message_type": "monitoring", "content": "RAM 85%", "metadata": {"severity": "high"}}"#,
        )
        .unwrap();
        assert_eq!(full.metadata["severity"], "high");
        // Only the first colon separates: the text may hold more.
        assert_eq!(
            parse_message("monitoring:p99 at 12:00 UTC")
                .unwrap()
                .content,
            "p99 at 12:00 UTC"
        );
        assert!(matches!(
            parse_message("caching"),
            Err(MessageError::NoType(_))
        ));
        assert!(matches!(
            parse_message("notice:hi"),
            Err(MessageError::UnknownType(_))
        ));
        assert!(matches!(
            parse_message("monitoring:  "),
            Err(MessageError::Empty)
        ));
    }

    #[tokio::test]
    async fn lines_feed_the_outbox_in_order_and_a_failed_send_goes_first_again() {
        let outbox = Outbox::default();
        let input = b"recommendation:one\n\nbad line\nmonitoring:two\n";
        outbox.feed_lines(&input[..]);
        let first = outbox.next().await;
        assert_eq!(first.content, "one");
        outbox.put_back(first);
        assert_eq!(outbox.next().await.content, "one");
        assert_eq!(outbox.next().await.content, "two");
    }
}
