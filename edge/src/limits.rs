//! Per-connection limits: how many bad frames, and how many frames at all, a
//! socket may send before the edge closes it.

use std::collections::VecDeque;
use std::time::Duration;

use moolai_proto::frames::FrameError;
use tokio::time::Instant;

use crate::connection::{close, End};

/// More bad frames than this within [`BAD_FRAME_WINDOW`] closes the socket.
pub const MAX_BAD_FRAMES: usize = 20;
const BAD_FRAME_WINDOW: Duration = Duration::from_secs(60);

/// Bad frames in the last minute; a sliding window over the last few instants.
#[derive(Default)]
pub struct BadFrames {
    seen: VecDeque<Instant>,
}

impl BadFrames {
    /// Logs a bad frame and ends the connection once there are too many.
    pub fn count(&mut self, err: FrameError) -> Option<End> {
        tracing::warn!(%err, "[C-OCS] Invalid frame received");
        let now = Instant::now();
        self.seen.push_back(now);
        while self
            .seen
            .front()
            .is_some_and(|t| now.duration_since(*t) > BAD_FRAME_WINDOW)
        {
            self.seen.pop_front();
        }
        (self.seen.len() > MAX_BAD_FRAMES)
            .then(|| End::Close(close::POLICY, "too_many_bad_frames".into()))
    }
}

/// Frames per second a connection may send; an orchestrator needs one every 10-30 s,
/// so anything near this is a bug or an attack, and it must not starve the others.
#[derive(Debug)]
pub struct FrameRate {
    max_per_sec: u32,
    window: Instant,
    count: u32,
}

impl FrameRate {
    pub fn new(max_per_sec: u32) -> Self {
        Self {
            max_per_sec,
            window: Instant::now(),
            count: 0,
        }
    }

    /// `Some(End)` once the connection sent more than its share this second.
    pub fn note(&mut self) -> Option<End> {
        let now = Instant::now();
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.count = 0;
        }
        self.count += 1;
        (self.count > self.max_per_sec).then(|| {
            tracing::warn!(
                max = self.max_per_sec,
                "frame flood; closing the connection"
            );
            End::Close(close::POLICY, "rate_limited".into())
        })
    }
}
