//! Why a service (core, edge, persister) could not start.

use moolai_proto::id::IdError;

use crate::bus::BusError;
use crate::serve::TlsError;

/// Why a service could not start. Each message says what failed and leaves the
/// cause to [`std::error::Error::source`], so that a chain printer (`{:#}` of
/// an `anyhow::Error`, as the binaries print it) shows every cause once:
/// `edge failed: cannot connect to NATS: connection refused`.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid MOOLAI_SUBJECT_PREFIX")]
    Prefix(#[from] IdError),
    /// Another configured id, named by its setting (e.g. `EDGE_ID`).
    #[error("invalid {0}")]
    Id(&'static str, #[source] IdError),
    /// Settings that cannot work together; the message says why and what to do.
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot connect to NATS")]
    Nats(#[from] async_nats::ConnectError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("cannot set up JetStream")]
    JetStream(#[source] async_nats::Error),
    #[cfg(feature = "postgres")]
    #[error("cannot connect to PostgreSQL")]
    Database(#[from] sqlx::Error),
    #[cfg(feature = "postgres")]
    #[error("cannot apply migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot listen")]
    Listen(#[from] std::io::Error),
    #[error("cannot set up TLS")]
    Tls(#[from] TlsError),
}

#[cfg(test)]
mod tests {
    use std::error::Error;
    use std::path::PathBuf;

    use super::*;

    /// Every message of the chain, outermost first.
    fn chain(err: &(dyn Error + 'static)) -> Vec<String> {
        let mut messages = vec![err.to_string()];
        let mut next = err.source();
        while let Some(cause) = next {
            messages.push(cause.to_string());
            next = cause.source();
        }
        messages
    }

    #[test]
    fn a_chain_names_each_cause_once() {
        let io = || std::io::Error::other("address in use");
        let cases = [
            StartError::Listen(io()),
            StartError::Prefix(IdError::Empty),
            StartError::Id("EDGE_ID", IdError::TooLong),
            StartError::JetStream(io().into()),
            StartError::Bus(BusError::JetStream(io().into())),
            StartError::Tls(TlsError::Config(
                tokio_rustls::rustls::Error::NoCertificatesPresented,
            )),
            StartError::Tls(TlsError::Empty(PathBuf::from("cert.pem"))),
        ];
        for err in cases {
            let messages = chain(&err);
            for (i, message) in messages.iter().enumerate() {
                for cause in &messages[i + 1..] {
                    assert!(
                        !message.contains(cause.as_str()),
                        "{message:?} repeats its cause {cause:?}"
                    );
                }
            }
        }
        assert_eq!(
            chain(&StartError::Listen(io())),
            ["cannot listen", "address in use"]
        );
        assert_eq!(
            StartError::Id("EDGE_ID", IdError::Empty).to_string(),
            "invalid EDGE_ID"
        );
    }
}
