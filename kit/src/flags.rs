//! Command-line flags every service shares, flattened into each binary's
//! `Config` (`#[command(flatten)]`), so that one environment reads the same
//! in core, edge and persister and `--help` documents them once.

use std::path::PathBuf;
use std::time::Duration;

use moolai_proto::secret::Secret;
use tokio_rustls::TlsAcceptor;

use crate::serve::ServeOptions;

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

/// How every role reaches NATS: the same flags in core, edge and persister.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsConfig {
    /// NATS server(s), comma-separated; `tls://host:port` connects with TLS.
    #[arg(
        long = "nats-url",
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4333"
    )]
    pub url: String,
    /// NATS user of this role (`core`, `edge` or `persister` in the shipped
    /// nats.conf). Unset: connect without credentials (a server that asks none).
    #[arg(
        id = "nats_user",
        value_name = "USER",
        long = "nats-user",
        env = "NATS_USER",
        requires = "nats_password"
    )]
    pub user: Option<String>,
    /// Password of `NATS_USER`.
    #[arg(
        id = "nats_password",
        value_name = "PASSWORD",
        long = "nats-password",
        env = "NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    pub password: Option<Secret>,
    /// PEM file of the CA that signed the NATS server's certificate (for a
    /// private CA; implies TLS).
    #[arg(long = "nats-ca-file", env = "NATS_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

impl NatsConfig {
    /// A server that asks for no credentials (tests, a developer's own broker).
    pub fn anonymous(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            user: None,
            password: None,
            ca_file: None,
        }
    }

    /// The same server as `user` with `password`.
    pub fn with_user(mut self, user: &str, password: &str) -> Self {
        self.user = Some(user.to_owned());
        self.password = Some(Secret::from(password.to_owned()));
        self
    }

    /// The prefix of this connection's reply subjects: `_INBOX.<user>`, so the
    /// server can let each user subscribe to its own replies only (no user can
    /// read or forge another's, e.g. the persister's answers to core).
    pub fn inbox_prefix(&self) -> String {
        match self.user.as_deref() {
            Some(user) if moolai_proto::id::validate_id(user).is_ok() => format!("_INBOX.{user}"),
            _ => "_INBOX".to_owned(),
        }
    }
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

/// The HTTP server's bounds. The connection caps' defaults are each binary's
/// (`MAX_CONNECTIONS`, `MAX_PER_ADDRESS`): an edge holds far more clients than
/// core does.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpFlags<const MAX_CONNECTIONS: usize, const MAX_PER_ADDRESS: usize> {
    /// Seconds a client has to send its HTTP request headers (slowloris defence).
    #[arg(long, env = "HEADER_TIMEOUT_SEC", default_value_t = 10)]
    pub header_timeout_sec: u64,
    /// Seconds a client has to send a request's whole body once its headers are
    /// in; a slower one gets 408 and is closed (a trickled body is a slowloris too).
    #[arg(long, env = "BODY_TIMEOUT_SEC", default_value_t = 20)]
    pub body_timeout_sec: u64,
    /// Connections still speaking HTTP at once, from all clients together; more
    /// are closed on accept. An open event stream counts until it ends; a
    /// WebSocket stops counting once upgraded.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = MAX_CONNECTIONS)]
    pub http_max_connections: usize,
    /// The same, per client IP address. 0 (for either): no limit.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = MAX_PER_ADDRESS)]
    pub http_max_connections_per_address: usize,
}

impl<const A: usize, const B: usize> HttpFlags<A, B> {
    /// How [`crate::serve::serve`] bounds each connection, serving `tls` if set.
    pub fn serve_options(&self, tls: Option<TlsAcceptor>) -> ServeOptions {
        ServeOptions {
            header_timeout: Duration::from_secs(self.header_timeout_sec),
            body_timeout: Duration::from_secs(self.body_timeout_sec),
            max_connections: self.http_max_connections,
            max_connections_per_address: self.http_max_connections_per_address,
            tls,
        }
    }
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

    #[derive(Debug, Parser)]
    struct Edge {
        #[command(flatten)]
        http: HttpFlags<8192, 256>,
    }

    #[test]
    fn each_binary_keeps_its_own_connection_caps() {
        let edge = Edge::try_parse_from(["moolai-x"]).unwrap();
        let options = edge.http.serve_options(None);
        assert_eq!(options.max_connections, 8192);
        assert_eq!(options.max_connections_per_address, 256);
        assert_eq!(options.header_timeout, Duration::from_secs(10));
        assert_eq!(options.body_timeout, Duration::from_secs(20));
    }
}
