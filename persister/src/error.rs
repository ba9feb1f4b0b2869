//! What can go wrong while persisting, sorted by what the consumer does about it.

/// A write that did not commit.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database could not be reached or the transaction broke off: retry later,
    /// the message is intact.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database refused this data (constraint, type): retrying cannot help.
    #[error("database refused the write: {0}")]
    Refused(#[source] sqlx::Error),
}

impl From<sqlx::Error> for WriteError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::Database(_) => Self::Refused(err),
            other => Self::Unavailable(other),
        }
    }
}

/// Failures that stop the persister from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid MOOLAI_SUBJECT_PREFIX: {0}")]
    Prefix(#[from] moolai_proto::id::IdError),
    #[error("cannot connect to PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Bus(#[from] moolai_kit::bus::BusError),
    #[error("cannot set up JetStream: {0}")]
    JetStream(#[source] async_nats::Error),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}
