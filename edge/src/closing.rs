//! How the edge ends a socket it decided to end: the WebSocket closing handshake
//! (RFC 6455 §7), completed.
//!
//! Sending a close frame and dropping the socket is not enough. If the peer's
//! bytes still sit unread in the kernel when the socket is dropped — a client that
//! pipelined a 100 KiB frame behind its handshake, or kept sending after an
//! invalid one — the kernel answers with a TCP reset, and a reset makes the
//! peer's kernel throw away what its program has not read yet: our close frame
//! with it. The client then sees "connection reset" instead of 1009. So after the
//! close frame the edge reads and discards until the peer's own close frame or
//! end of stream, within [`DRAIN_TIME`] and [`DRAIN_BYTES`] so that a peer cannot
//! keep the task (or its buffers) busy. Frames are read while the decoder can;
//! after it failed (a frame over the limit is refused at its header, before its
//! body) the bytes are read raw, and a peer that then waits for us to hang up
//! first, as RFC 6455 says it should, gets the end of the stream after
//! [`DRAIN_TIME`].

use futures::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio::time::{timeout, timeout_at, Duration, Instant};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};

use crate::upgrade::Socket;

/// How long a goodbye (the close frame) may take to be written.
const CLOSE_WRITE: Duration = Duration::from_secs(1);
/// How long the edge waits for the peer's close frame after sending its own.
pub const DRAIN_TIME: Duration = Duration::from_secs(1);
/// How much the edge reads and throws away while waiting for it.
pub const DRAIN_BYTES: usize = 1024 * 1024;

/// How the wait for the peer's side of the closing handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// The peer answered with its close frame: the handshake is complete.
    PeerClosed,
    /// The stream ended (or was already gone).
    Ended,
    /// The peer neither answered nor hung up within [`DRAIN_TIME`].
    TimedOut,
    /// The peer sent more than [`DRAIN_BYTES`] meanwhile.
    TooMuch,
}

/// Closes `socket` with `code` and `reason`, then drains it (see the module doc).
pub async fn close(socket: &mut Socket, code: u16, reason: &str) -> Drained {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    // The peer may be gone already, or not reading: there may be nobody left to
    // tell, and we do not wait long to find out.
    match timeout(CLOSE_WRITE, socket.send(Message::Close(Some(frame)))).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Drained::Ended,
        Err(_) => return Drained::TimedOut,
    }
    let drained = drain(socket, Instant::now() + DRAIN_TIME).await;
    tracing::debug!(code, reason, ?drained, "closing handshake");
    drained
}

/// After the peer closed first: one more read sends the close reply the socket
/// queued, and sees the end of the stream.
pub async fn complete_peer_close(socket: &mut Socket) {
    let _ = timeout(CLOSE_WRITE, socket.next()).await;
}

/// Reads frames until the peer's close; once the decoder has given up (after a
/// read error the socket yields nothing more), reads raw bytes until end of stream.
async fn drain(socket: &mut Socket, deadline: Instant) -> Drained {
    let mut budget = DRAIN_BYTES;
    while !futures::stream::FusedStream::is_terminated(socket) {
        let size = match timeout_at(deadline, socket.next()).await {
            Err(_) => return Drained::TimedOut,
            Ok(None) => return Drained::Ended,
            Ok(Some(Ok(Message::Close(_)))) => return Drained::PeerClosed,
            Ok(Some(Ok(msg))) => msg.len(),
            Ok(Some(Err(_))) => 0,
        };
        budget = match budget.checked_sub(size) {
            Some(left) => left,
            None => return Drained::TooMuch,
        };
    }
    let mut chunk = [0u8; 4096];
    loop {
        match timeout_at(deadline, socket.get_mut().read(&mut chunk)).await {
            Err(_) => return Drained::TimedOut,
            Ok(Ok(0) | Err(_)) => return Drained::Ended,
            Ok(Ok(n)) => {
                budget = match budget.checked_sub(n) {
                    Some(left) => left,
                    None => return Drained::TooMuch,
                }
            }
        }
    }
}

/// The size of a frame or message the socket refused as too big, if that is
/// what `err` says.
pub fn too_big(err: &Error) -> Option<usize> {
    match err {
        Error::Capacity(CapacityError::MessageTooLong { size, .. }) => Some(*size),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::error::CapacityError;
    use tokio_tungstenite::tungstenite::Error;

    use super::too_big;

    #[test]
    fn a_frame_over_the_limit_is_told_from_other_read_errors() {
        let err = Error::Capacity(CapacityError::MessageTooLong {
            size: 102_400,
            max_size: 65_536,
        });
        assert_eq!(too_big(&err), Some(102_400));
        assert_eq!(too_big(&Error::ConnectionClosed), None);
    }
}
