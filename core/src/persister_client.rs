//! Core's side of the write path: every mutation is a request to the persister,
//! answered after its commit. No answer in [`WRITE_TIMEOUT`] is an error, never a
//! hang. Knows nothing of HTTP; the API maps [`PersistError`] to statuses.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use moolai_proto::commands::{AuditEntry, Command, Failure, Reply, Request};
use serde_json::Value;

/// Longest a write may take before the client is told the persister is unavailable.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a command was not committed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("persister unavailable: NATS is not connected")]
    Disconnected,
    #[error("persister unavailable: no answer within 5 s")]
    Timeout,
    #[error("persister unavailable: no persister is running")]
    NoPersister,
    #[error("persister unavailable: {0}")]
    Request(#[source] async_nats::RequestError),
    #[error("command not encodable: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("undecodable persister reply: {0}")]
    Decode(#[source] serde_json::Error),
    /// The persister answered and refused: `detail` is its own words, meant for
    /// the client (never a raw database message).
    #[error("{detail}")]
    Refused { failure: Failure, detail: String },
}

/// Sends write commands to the persisters' queue group.
#[derive(Clone)]
pub struct Persister {
    transport: Transport,
}

/// Where a [`Persister`]'s requests go: the persisters' queue group, or an
/// in-memory [`RecordedPersister`] (tests of the rules, without NATS).
#[derive(Clone)]
enum Transport {
    Nats {
        nats: async_nats::Client,
        subject: String,
    },
    Memory(RecordedPersister),
}

impl Persister {
    /// A client of the persisters listening on `subject`.
    pub fn new(nats: async_nats::Client, subject: String) -> Self {
        Self {
            transport: Transport::Nats { nats, subject },
        }
    }

    /// A client whose requests `recorded` keeps and answers.
    pub fn memory(recorded: RecordedPersister) -> Self {
        Self {
            transport: Transport::Memory(recorded),
        }
    }

    /// Runs `command`; `Ok(answer)` once it is committed.
    pub async fn run(&self, command: &Command) -> Result<Value, PersistError> {
        self.send(command, None).await
    }

    /// Runs `command` and writes `audit` in the same transaction: the entry is
    /// stored exactly when the change is.
    pub async fn run_audited(
        &self,
        command: &Command,
        audit: AuditEntry,
    ) -> Result<Value, PersistError> {
        self.send(command, Some(audit)).await
    }

    /// Whether a persister answers within a second.
    pub async fn is_up(&self) -> bool {
        let ping = self.run(&Command::Ping);
        matches!(
            tokio::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        )
    }

    async fn send(
        &self,
        command: &Command,
        audit: Option<AuditEntry>,
    ) -> Result<Value, PersistError> {
        let request = Request {
            command: command.clone(),
            audit,
        };
        let reply = match &self.transport {
            Transport::Nats { nats, subject } => ask(nats, subject, &request).await?,
            Transport::Memory(recorded) => recorded.answer(request),
        };
        match reply {
            Reply::Done { data } => Ok(data),
            Reply::Failed { failure, detail } => Err(PersistError::Refused { failure, detail }),
        }
    }
}

/// The one trip over the bus: `request` to the persisters, their raw reply.
async fn ask(
    nats: &async_nats::Client,
    subject: &str,
    request: &Request,
) -> Result<Reply, PersistError> {
    if let async_nats::connection::State::Disconnected = nats.connection_state() {
        return Err(PersistError::Disconnected);
    }
    let payload = Bytes::from(serde_json::to_vec(request).map_err(PersistError::Encode)?);
    let asked = nats.request(subject.to_owned(), payload);
    let msg = match tokio::time::timeout(WRITE_TIMEOUT, asked).await {
        Err(_) => return Err(PersistError::Timeout),
        Ok(Err(err)) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
            return Err(PersistError::NoPersister);
        }
        Ok(Err(err)) => return Err(PersistError::Request(err)),
        Ok(Ok(msg)) => msg,
    };
    serde_json::from_slice::<Reply>(&msg.payload).map_err(PersistError::Decode)
}

/// How a [`RecordedPersister`] persister answers a request.
type Answer = dyn Fn(&Request) -> Reply + Send + Sync;

/// An in-memory persister: keeps every request and answers each with its
/// `answer` (by default `Done` with `null`), at once. For tests of the rules.
#[derive(Clone)]
pub struct RecordedPersister {
    requests: Arc<Mutex<Vec<Request>>>,
    answer: Arc<Answer>,
    changed: Arc<tokio::sync::Notify>,
}

impl Default for RecordedPersister {
    fn default() -> Self {
        Self::answering(|_| Reply::Done { data: Value::Null })
    }
}

impl RecordedPersister {
    /// A persister answering with `answer`.
    pub fn answering(answer: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        Self {
            requests: Arc::default(),
            answer: Arc::new(answer),
            changed: Arc::default(),
        }
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests lock").clone()
    }

    /// Waits until at least `n` requests were received; all of them then.
    pub async fn wait_for(&self, n: usize) -> Vec<Request> {
        loop {
            let changed = self.changed.notified();
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            changed.await;
        }
    }

    fn answer(&self, request: Request) -> Reply {
        let reply = (self.answer)(&request);
        self.requests.lock().expect("requests lock").push(request);
        self.changed.notify_waiters();
        reply
    }
}
