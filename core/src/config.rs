//! Settings of `moolai-core`; `--help` is their reference.

use std::net::SocketAddr;

use clap::Parser;
use moolai_kit::secret_arg::SecretArg;
use moolai_proto::secret::{self, Secret};

/// Applies the fleet's rules (independence, liveness, supersede), keeps the live
/// view, serves the REST API and routes frames to the edge holding each socket.
#[derive(Debug, Clone, Parser)]
#[command(name = "moolai-core", version)]
pub struct Config {
    /// Bus, subject prefix, stream replicas, log format (`NATS_URL`, ...).
    #[command(flatten)]
    pub service: moolai_kit::flags::ServiceFlags,
    /// PostgreSQL URL; core only reads, the persister writes.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Secret,
    /// Address of the REST API, dashboard, /healthz and /readyz.
    #[arg(long, env = "CORE_LISTEN", default_value = "0.0.0.0:8765")]
    pub listen: SocketAddr,
    /// This replica's name among the core replicas (`GET /controller/cores`,
    /// its presence subject); made up at start when unset. Replicas need no
    /// other setting to share the work: start any number with the same ones.
    #[arg(long, env = "CORE_ID")]
    pub core_id: Option<moolai_proto::CoreId>,
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`.
    #[command(flatten)]
    pub tls: moolai_kit::flags::TlsFlags,
    /// `HEADER_TIMEOUT_SEC`, `BODY_TIMEOUT_SEC` and the connection caps
    /// `HTTP_MAX_CONNECTIONS` (1024) and `HTTP_MAX_CONNECTIONS_PER_ADDRESS` (128).
    #[command(flatten)]
    pub http: moolai_kit::flags::HttpFlags<1024, 128>,
    /// Seconds without a processed heartbeat after which an orchestrator is stale,
    /// for orchestrators that do not announce their interval (the first version's
    /// client); those that do are stale after 3 of their own intervals.
    #[arg(long, env = "HEARTBEAT_TTL_SEC", default_value_t = 120)]
    pub heartbeat_ttl_sec: u64,
    /// Milliseconds between liveness sweeps. An orchestrator that announces its
    /// heartbeat interval is inactive after 3 of them; the sweep period adds to
    /// that, so keep it under half the shortest interval in the fleet.
    #[arg(long, env = "LIVENESS_SWEEP_MS", default_value_t = 2000)]
    pub liveness_sweep_ms: u64,
    /// How often accepted heartbeats are flushed to the persister, in milliseconds.
    #[arg(long, env = "HEARTBEAT_FLUSH_MS", default_value_t = 200)]
    pub heartbeat_flush_ms: u64,
    /// A static bearer token the REST API also accepts (development and scripts);
    /// unset means no static token exists. At least 16 characters; an empty value
    /// is refused, not taken as unset.
    #[arg(long, env = "DEV_BEARER_TOKEN", hide_env_values = true, value_parser = SecretArg(secret::static_token))]
    pub dev_bearer_token: Option<Secret>,
    /// Secret for signing orchestrator tokens (shared with the edges); unset: no
    /// tokens are issued. At least 32 bytes; an empty value is refused.
    #[arg(long, env = "ORCHESTRATOR_TOKEN_SECRET", hide_env_values = true, value_parser = SecretArg(secret::signing_secret))]
    pub orchestrator_token_secret: Option<Secret>,
    /// Username of the first superadmin, created at start if no admin exists.
    #[arg(long, env = "ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,
    /// Password of `ADMIN_USERNAME`, applied at every start: a changed value
    /// replaces the stored password and ends that admin's sessions. At least 12
    /// characters; an empty value is refused. When unset and no admin exists, one
    /// is generated and printed on core's terminal only (never logged); without
    /// a terminal, no admin is created and core says so.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true, value_parser = SecretArg(secret::password))]
    pub admin_password: Option<Secret>,
    /// Let read-only `/api/v1/controller` endpoints answer without a token.
    #[arg(long, env = "PUBLIC_READ_API", default_value_t = false)]
    pub public_read_api: bool,
    /// Origins allowed by CORS, comma-separated (none by default).
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Absolute lifetime of a login session, in seconds.
    #[arg(long, env = "SESSION_TTL_SEC", default_value_t = 28_800)]
    pub session_ttl_sec: u64,
    /// A session unused for this many seconds expires.
    #[arg(long, env = "SESSION_IDLE_SEC", default_value_t = 1_800)]
    pub session_idle_sec: u64,
    /// argon2 hashes (logins, password changes) run at once, each on a hashing
    /// thread of its own holding 19 MiB for good: core's hashing memory is this
    /// times 19 MiB. More logins get 429 at once.
    #[arg(long, env = "LOGIN_HASH_SLOTS", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub login_hash_slots: u16,
    /// Of `LOGIN_HASH_SLOTS`, how many only known clients may use (an address
    /// a login succeeded from in the last 30 days, or a caller with a valid
    /// session), so that a flood of strangers cannot lock the admins out.
    #[arg(long, env = "LOGIN_KNOWN_SLOTS", default_value_t = 1)]
    pub login_known_slots: u16,
    /// Directory of the built dashboard, served at `/`.
    #[arg(long, env = "DASHBOARD_DIR", default_value = "frontend/dist")]
    pub dashboard_dir: std::path::PathBuf,
    /// Seconds an orchestrator that reports `config_status` has to answer a
    /// configuration before it is sent again (then twice as long each time, 5
    /// times at most).
    #[arg(long, env = "CONFIG_STATUS_WITHIN_SEC", default_value_t = 10)]
    pub config_status_within_sec: u64,
    /// Log records of the whole cluster kept for the logs API.
    #[arg(long, env = "LOG_BUFFER_SIZE", default_value_t = 1000)]
    pub log_buffer_size: usize,
}
