//! The first frame of a connection: read within the handshake timeout and
//! checked against the spec's rules, with the close code and reason of each
//! refusal.

use std::borrow::Cow;

use futures::StreamExt;
use moolai_proto::frames::{parse_client_frame, ClientFrame, FrameError, HandshakeData};
use moolai_proto::{close, OrchestratorId};
use tokio_tungstenite::tungstenite::Message;

use crate::closing;
use crate::limits::FrameRate;
use crate::upgrade::Socket;

/// The outcome of waiting for the first frame.
pub enum Handshake {
    Valid(OrchestratorId, HandshakeData),
    Refused(u16, Cow<'static, str>),
    Gone,
}

impl Handshake {
    fn refused(code: u16, reason: &'static str) -> Self {
        Self::Refused(code, Cow::Borrowed(reason))
    }
}

pub async fn read_handshake(socket: &mut Socket, rate: &mut FrameRate) -> Handshake {
    loop {
        let read = socket.next().await;
        if let Some(over) = rate.note() {
            return Handshake::refused(close::POLICY, over.reason());
        }
        match read {
            Some(Err(err)) if closing::too_big(&err).is_some() => {
                return Handshake::refused(close::TOO_BIG, "message_too_big")
            }
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Handshake::Gone,
            Some(Ok(Message::Text(text))) => return check_handshake(text.as_str()),
            Some(Ok(Message::Binary(_))) => {
                return Handshake::refused(close::POLICY, "handshake_error")
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
        }
    }
}

/// The spec's answers to a bad first frame (`first-version-observed.md` §1.2), plus
/// `invalid_orchestrator_id` for ids that could not be used as a subject token.
fn check_handshake(text: &str) -> Handshake {
    let data = match parse_client_frame(text) {
        Ok(ClientFrame::Handshake { data }) => data,
        Ok(_) | Err(FrameError::MissingType | FrameError::UnknownType(_)) => {
            return Handshake::refused(close::POLICY, "invalid_handshake")
        }
        Err(FrameError::NotJson(_) | FrameError::Malformed { .. }) => {
            return Handshake::refused(close::POLICY, "handshake_error")
        }
    };
    let Some(data) = data else {
        return Handshake::refused(close::POLICY, "missing_orchestrator_id");
    };
    let Some(raw_id) = data.orchestrator_id.clone() else {
        return Handshake::refused(close::POLICY, "missing_orchestrator_id");
    };
    let Ok(id) = OrchestratorId::parse(raw_id) else {
        return Handshake::refused(close::POLICY, "invalid_orchestrator_id");
    };
    // Refused before the ack: acknowledged, it would only be dead-lettered by
    // the persister, and the orchestrator would never learn why.
    match data.check_metadata() {
        Ok(()) => Handshake::Valid(id, data),
        Err(err) => Handshake::Refused(close::POLICY, format!("invalid_metadata: {err}").into()),
    }
}
