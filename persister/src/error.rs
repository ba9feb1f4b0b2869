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
        match &err {
            // A deadlock or a serialization failure says nothing about the data:
            // the same write succeeds when tried again (found at 40,000
            // heartbeats/s: heartbeat batches dead-lettered after a deadlock).
            sqlx::Error::Database(db) if is_transient(db.code().as_deref()) => {
                Self::Unavailable(err)
            }
            sqlx::Error::Database(_) => Self::Refused(err),
            _ => Self::Unavailable(err),
        }
    }
}

/// SQLSTATEs of a transaction that lost to another one, not of bad data:
/// `40P01` deadlock detected, `40001` serialization failure.
fn is_transient(code: Option<&str>) -> bool {
    matches!(code, Some("40P01" | "40001"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lost_race_is_retried_and_bad_data_is_refused() {
        assert!(super::is_transient(Some("40P01")));
        assert!(super::is_transient(Some("40001")));
        assert!(
            !super::is_transient(Some("23505")),
            "a unique violation is the data's"
        );
        assert!(!super::is_transient(None));
    }
}
