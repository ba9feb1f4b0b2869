//! The newest log records of this process, kept in memory for the logs API
//! (the first version kept 2,000 in a ring buffer; so do we).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Records kept.
pub const CAPACITY: usize = 2000;

/// One log record.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub message: String,
    pub source: String,
}

/// A std mutex: held only to push or copy, never across an await.
fn buffer() -> &'static Mutex<VecDeque<LogEntry>> {
    static BUFFER: OnceLock<Mutex<VecDeque<LogEntry>>> = OnceLock::new();
    BUFFER.get_or_init(|| Mutex::new(VecDeque::with_capacity(CAPACITY)))
}

/// The tracing layer that fills the buffer (info and above).
pub struct BufferLayer;

impl<S: Subscriber> Layer<S> for BufferLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() > Level::INFO {
            return;
        }
        let mut text = MessageText::default();
        event.record(&mut text);
        let entry = LogEntry {
            timestamp: Utc::now(),
            level: level_name(event.metadata().level()).to_owned(),
            message: text.0,
            source: event.metadata().target().to_owned(),
        };
        let mut buf = buffer().lock().expect("log buffer lock");
        if buf.len() == CAPACITY {
            buf.pop_front();
        }
        buf.push_back(entry);
    }
}

/// Python's level names, which the spec's filters use.
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

#[derive(Default)]
struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }
}

/// Newest first: records whose message or source contains `q` (any case) and whose
/// level is `level` (when given), at most `limit`.
pub fn recent(q: Option<&str>, level: Option<&str>, limit: usize) -> Vec<LogEntry> {
    let q = q.map(str::to_lowercase);
    let buf = buffer().lock().expect("log buffer lock");
    buf.iter()
        .rev()
        .filter(|e| level.is_none_or(|l| e.level.eq_ignore_ascii_case(l)))
        .filter(|e| {
            q.as_deref().is_none_or(|q| {
                e.message.to_lowercase().contains(q) || e.source.to_lowercase().contains(q)
            })
        })
        .take(limit)
        .cloned()
        .collect()
}
