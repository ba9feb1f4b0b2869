//! Settings of `moolai-persister`; `--help` is their reference.

use std::net::SocketAddr;

use clap::Parser;
use moolai_proto::secret::Secret;

/// The only writer to PostgreSQL: consumes events and write batches from JetStream
/// and acknowledges each message only after its transaction commits.
#[derive(Debug, Clone, Parser)]
#[command(name = "moolai-persister", version)]
pub struct Config {
    /// Bus, subject prefix, stream replicas, log format (`NATS_URL`, ...).
    #[command(flatten)]
    pub service: moolai_kit::flags::ServiceFlags,
    /// PostgreSQL connection URL (migrations are applied at start).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Secret,
    /// Address of /healthz and /readyz.
    #[arg(long, env = "PERSISTER_LISTEN", default_value = "0.0.0.0:8767")]
    pub listen: SocketAddr,
    /// Most messages written in one transaction.
    #[arg(long, env = "PERSISTER_BATCH", default_value_t = 2000)]
    pub batch: usize,
    /// Longest login session a `create_session` command may ask for, in seconds:
    /// the same variable (and default) as core's, so one environment sets both.
    #[arg(long, env = "SESSION_TTL_SEC", default_value_t = 28_800)]
    pub session_ttl_sec: u64,
    /// Database connections in the pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 4)]
    pub database_max_connections: u32,
}
