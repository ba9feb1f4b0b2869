//! Log records kept in memory for the logs API, and forwarded on the bus so that
//! core can serve the whole cluster's log in one place (`{p}.logs.<service>`).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Records kept unless [`set_capacity`] says otherwise (`LOG_BUFFER_SIZE` in core).
pub const DEFAULT_CAPACITY: usize = 1000;
/// Largest buffer allowed.
pub const MAX_CAPACITY: usize = 100_000;

static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_CAPACITY);
static SERVICE: OnceLock<String> = OnceLock::new();
static FORWARD: OnceLock<mpsc::Sender<LogEntry>> = OnceLock::new();

/// One log record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LogEntry {
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub message: String,
    /// The record's other fields as the printed log writes them after the message
    /// (`code=1008 reason="token_mismatch"` for a refused handshake): often the
    /// why of the line. Empty when it has none.
    #[serde(default)]
    pub fields: String,
    /// The service that logged it: `core`, `persister` or an edge id.
    pub source: String,
    /// The module that logged it.
    pub target: String,
}

/// A std mutex: held only to push or copy, never across an await.
fn buffer() -> &'static Mutex<VecDeque<LogEntry>> {
    static BUFFER: OnceLock<Mutex<VecDeque<LogEntry>>> = OnceLock::new();
    BUFFER.get_or_init(|| Mutex::new(VecDeque::new()))
}

/// Names this process in its records (once, at start).
pub fn set_service(name: &str) {
    let _ = SERVICE.set(name.to_owned());
}

/// The name given by [`set_service`], or `local`.
pub fn service() -> &'static str {
    SERVICE.get().map(String::as_str).unwrap_or("local")
}

/// Sets how many records are kept.
pub fn set_capacity(n: usize) {
    CAPACITY.store(n.clamp(1, MAX_CAPACITY), Ordering::Relaxed);
}

/// How many records are kept.
pub fn capacity() -> usize {
    CAPACITY.load(Ordering::Relaxed)
}

/// From now on, this process's records are also sent to `tx` (dropped if it is full:
/// logging must never wait on the bus).
pub fn forward_into(tx: mpsc::Sender<LogEntry>) {
    let _ = FORWARD.set(tx);
}

/// Adds a record (this process's own, or one received from another service).
pub fn push(entry: LogEntry) {
    let cap = capacity();
    let mut buf = buffer().lock().expect("log buffer lock");
    while buf.len() >= cap {
        buf.pop_front();
    }
    buf.push_back(entry);
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
        let target = event.metadata().target();
        let entry = LogEntry {
            timestamp: Utc::now(),
            level: level_name(event.metadata().level()).to_owned(),
            message: text.message,
            fields: text.fields,
            source: service().to_owned(),
            target: target.to_owned(),
        };
        // The bus client's own records are not sent over the bus: no feedback loop.
        if let Some(tx) = FORWARD.get().filter(|_| !target.starts_with("async_nats")) {
            let _ = tx.try_send(entry.clone());
        }
        push(entry);
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

/// The message, and the event's other fields as `key=value` the way the printed
/// log writes them.
#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl MessageText {
    fn field(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // Fields tracing-log adds for records of the `log` crate, which
        // tracing-subscriber's printer leaves out too.
        if field.name().starts_with("log.") {
            return;
        }
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let name = field.name();
        let _ = write!(
            self.fields,
            "{}={value:?}",
            name.strip_prefix("r#").unwrap_or(name)
        );
    }
}

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.field(field, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            // Quoted, as the printer does: a reason with spaces stays one value.
            self.field(field, &value);
        }
    }
}

/// What to select from the buffer.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    /// Substring of message, fields, source or target, any case.
    pub q: Option<&'a str>,
    pub level: Option<&'a str>,
    pub source: Option<&'a str>,
    pub limit: usize,
}

/// Newest first (by timestamp: records from other services arrive a little late).
pub fn recent(filter: &Filter<'_>) -> Vec<LogEntry> {
    let q = filter.q.map(str::to_lowercase);
    let matches = |e: &LogEntry| {
        filter.level.is_none_or(|l| e.level.eq_ignore_ascii_case(l))
            && filter.source.is_none_or(|s| e.source == s)
            && q.as_deref().is_none_or(|q| {
                [&e.message, &e.fields, &e.source, &e.target]
                    .iter()
                    .any(|f| f.to_lowercase().contains(q))
            })
    };
    let mut out: Vec<LogEntry> = {
        let buf = buffer().lock().expect("log buffer lock");
        buf.iter().filter(|e| matches(e)).cloned().collect()
    };
    out.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    out.truncate(filter.limit);
    out
}
