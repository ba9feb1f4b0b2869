//! Settings of `moolai-edge`; `--help` is their reference.

use std::net::SocketAddr;

use clap::Parser;
use moolai_kit::secret_arg::SecretArg;

/// Terminates orchestrator WebSockets and relays them to and from the bus.
/// Stateless: run as many as the fleet needs, behind any balancer.
#[derive(Debug, Clone, Parser)]
#[command(name = "moolai-edge", version)]
pub struct Config {
    /// Bus, subject prefix, stream replicas, log format (`NATS_URL`, ...).
    #[command(flatten)]
    pub service: moolai_kit::flags::ServiceFlags,
    /// Address orchestrators connect to (`/ws` and `/`), also /healthz and /readyz.
    #[arg(long, env = "EDGE_LISTEN", default_value = "0.0.0.0:8766")]
    pub listen: SocketAddr,
    /// This edge's id, unique in the cluster ([A-Za-z0-9_-]); random when unset.
    #[arg(long, env = "EDGE_ID")]
    pub edge_id: Option<String>,
    /// Seconds a new connection has to send its handshake.
    #[arg(long, env = "HANDSHAKE_TIMEOUT_SEC", default_value_t = 15)]
    pub handshake_timeout_sec: u64,
    /// `HEADER_TIMEOUT_SEC`, `BODY_TIMEOUT_SEC` and the connection caps
    /// `HTTP_MAX_CONNECTIONS` (8192) and `HTTP_MAX_CONNECTIONS_PER_ADDRESS` (256).
    #[command(flatten)]
    pub http: moolai_kit::flags::HttpFlags<8192, 256>,
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`.
    #[command(flatten)]
    pub tls: moolai_kit::flags::TlsFlags,
    /// Seconds between `controller_heartbeat` frames.
    #[arg(long, env = "CONTROLLER_HEARTBEAT_SEC", default_value_t = 20)]
    pub controller_heartbeat_sec: u64,
    /// Seconds without any frame (heartbeat, ping) after which a socket is dropped
    /// as dead; above the slowest client interval (30 s) with room for two misses.
    #[arg(long, env = "IDLE_TIMEOUT_SEC", default_value_t = 100)]
    pub idle_timeout_sec: u64,
    /// Seconds over which a stopping edge closes its sockets (1012), so agents move
    /// to other edges gradually.
    #[arg(long, env = "EDGE_DRAIN_SEC", default_value_t = 10)]
    pub drain_sec: u64,
    /// Frames per second one connection may send before it is closed (1008).
    #[arg(long, env = "EDGE_MAX_FRAMES_PER_SEC", default_value_t = 50)]
    pub max_frames_per_sec: u32,
    /// Seconds without NATS after which the edge closes its sockets (1013), so agents
    /// move to an edge that can reach the bus.
    #[arg(long, env = "EDGE_BUS_LOST_SEC", default_value_t = 15)]
    pub bus_lost_sec: u64,
    /// Secret orchestrator tokens are signed with (shared with core). At least 32
    /// bytes; an empty value is refused, not taken as unset.
    #[arg(long, env = "ORCHESTRATOR_TOKEN_SECRET", hide_env_values = true,
          value_parser = SecretArg(moolai_proto::secret::signing_secret))]
    pub orchestrator_token_secret: Option<moolai_proto::secret::Secret>,
    /// Refuse (401) upgrades without a valid orchestrator token. On by default:
    /// the edge then needs ORCHESTRATOR_TOKEN_SECRET and will not start without
    /// it. `false` lets anyone connect as any orchestrator id (development only;
    /// warned at start).
    #[arg(long, env = "EDGE_REQUIRE_ORCHESTRATOR_TOKEN", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub require_orchestrator_token: bool,
    /// WebSockets one client address may hold open at once (IPv6: per /64);
    /// more are refused with 429. 0: no limit.
    #[arg(long, env = "EDGE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 100)]
    pub max_connections_per_address: u32,
    /// `message` frames one orchestrator may send per minute through this edge;
    /// over it a message is dropped and answered with an `error` frame
    /// (`quota_exceeded`). 0: no limit.
    #[arg(long, env = "EDGE_MAX_MESSAGES_PER_MIN", default_value_t = 120)]
    pub max_messages_per_min: u32,
    /// Bytes of `message` frames one orchestrator may send per minute through
    /// this edge (same answer as above). 0: no limit.
    #[arg(long, env = "EDGE_MAX_MESSAGE_BYTES_PER_MIN", default_value_t = 2 * 1024 * 1024)]
    pub max_message_bytes_per_min: u64,
    /// Handshakes one edge may have in progress at once (from the upgrade
    /// request until `handshake_ack` is sent or the attempt ends); an upgrade
    /// arriving at or over it is answered at once with 503 and `Retry-After`
    /// instead of queueing behind the others. 0: no bound.
    #[arg(long, env = "EDGE_MAX_PENDING_HANDSHAKES", default_value_t = 512)]
    pub max_pending_handshakes: u32,
    /// Connections the kernel may queue for this edge before it accepts them
    /// (capped by `net.core.somaxconn`). Past it a reconnect storm's
    /// connections are dropped before admission control can answer them, and
    /// their clients wait 1 s, then 3 s, to retransmit.
    #[arg(long, env = "EDGE_LISTEN_BACKLOG", default_value_t = 4096)]
    pub listen_backlog: u32,
    /// Seconds a refused client is told to wait before it tries again
    /// (`Retry-After` on a 503, `retry_after=N` in a 1013 close reason); the
    /// agent adds up to half of it again as jitter.
    #[arg(long, env = "EDGE_RETRY_AFTER_SEC", default_value_t = 1)]
    pub retry_after_sec: u32,
    /// Browser origins allowed to open a WebSocket here, comma-separated. An
    /// orchestrator sends no `Origin` header; a browser always does, so with the
    /// default (none) no web page can make a visitor's browser pose as one (403).
    #[arg(long, env = "EDGE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
}
