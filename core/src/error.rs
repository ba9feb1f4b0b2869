//! Failures that stop core from starting.

/// Why core could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid MOOLAI_SUBJECT_PREFIX: {0}")]
    Prefix(#[from] moolai_proto::id::IdError),
    #[error("cannot connect to PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Bus(#[from] moolai_kit::bus::BusError),
    #[error("cannot set up JetStream: {0}")]
    JetStream(#[source] async_nats::Error),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] moolai_kit::serve::TlsError),
}
