//! Command-line flags every service shares, flattened into each binary's
//! `Config` (`#[command(flatten)]`), so that one environment reads the same
//! in core, edge and persister and `--help` documents them once.

use std::path::PathBuf;

use crate::bus::NatsConfig;

/// Where the bus is, the names used on it, and how logs are printed.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceFlags {
    /// NATS server, credentials and TLS (`NATS_URL`, `NATS_USER`, ...).
    #[command(flatten)]
    pub nats: NatsConfig,
    /// First token of every subject, stream and consumer name.
    #[arg(long, env = "MOOLAI_SUBJECT_PREFIX", default_value = "moolai")]
    pub subject_prefix: String,
    /// Replicas of each JetStream stream (3 on a NATS cluster).
    #[arg(long, env = "STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,
    /// Log as JSON lines.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

/// TLS of a service's HTTP listener; both or neither.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsFlags {
    /// PEM certificate chain: serve TLS (`https://`, and `wss://` on an edge) with it.
    #[arg(
        id = "tls_cert",
        long = "tls-cert",
        env = "TLS_CERT_FILE",
        requires = "tls_key"
    )]
    pub cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(
        id = "tls_key",
        long = "tls-key",
        env = "TLS_KEY_FILE",
        requires = "tls_cert"
    )]
    pub key: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// A binary's `Config` in miniature: the shared flags flattened in.
    #[derive(Debug, Parser)]
    struct Binary {
        #[command(flatten)]
        service: ServiceFlags,
        #[command(flatten)]
        tls: TlsFlags,
    }

    #[test]
    fn the_shared_flags_parse_as_each_binary_reads_them() {
        let parsed = Binary::try_parse_from([
            "moolai-x",
            "--subject-prefix",
            "stack2",
            "--stream-replicas",
            "3",
            "--log-json",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ])
        .unwrap();
        assert_eq!(parsed.service.subject_prefix, "stack2");
        assert_eq!(parsed.service.stream_replicas, 3);
        assert!(parsed.service.log_json);
        assert_eq!(parsed.tls.cert, Some(PathBuf::from("cert.pem")));
        assert_eq!(parsed.tls.key, Some(PathBuf::from("key.pem")));
    }

    #[test]
    fn a_certificate_without_its_key_is_refused_at_parse_time() {
        let err = Binary::try_parse_from(["moolai-x", "--tls-cert", "cert.pem"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
