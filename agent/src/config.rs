//! Settings of `moolai-agent`, named as the first version's Python client names them.

use std::path::PathBuf;

use clap::Parser;
use moolai_proto::frames::OrchestratorMessage;

use crate::outbox::parse_message;

/// An orchestrator client for the Moolai Controller, and its load generator
/// (`--count N` runs N orchestrators and prints figures).
#[derive(Debug, Clone, Parser)]
#[command(name = "moolai-agent", version)]
pub struct Config {
    /// Orchestrator id; with `--count`, the prefix of `<id>-0 .. <id>-(N-1)`.
    #[arg(long = "id", env = "ORCHESTRATOR_ID", default_value = "orch-001")]
    pub orchestrator_id: String,
    /// Edge URL(s), comma-separated; the agent fails over between them.
    #[arg(
        long = "url",
        env = "CONTROLLER_WS_URL",
        default_value = "ws://127.0.0.1:8766/ws",
        value_delimiter = ','
    )]
    pub urls: Vec<String>,
    /// Seconds between `i_am_alive` frames.
    #[arg(
        long = "interval",
        env = "HEARTBEAT_INTERVAL_SEC",
        default_value_t = 10.0
    )]
    pub heartbeat_interval_sec: f64,
    /// Where the received configuration is kept (single-orchestrator mode).
    #[arg(long = "state-file", env = "ORCHESTRATOR_CONFIG_FILE")]
    pub state_file: Option<PathBuf>,
    /// Display name announced in the handshake.
    #[arg(long, env = "ORCHESTRATOR_NAME")]
    pub name: Option<String>,
    /// Location announced in the handshake.
    #[arg(long, env = "ORCHESTRATOR_LOCATION", default_value = "unknown")]
    pub location: String,
    /// Orchestrator token issued by the controller (needed where edges require one).
    #[arg(long, env = "ORCHESTRATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Enrollment token an admin created (`me1.…`): used once, when the agent has
    /// no orchestrator token yet (neither `--token` nor one kept in the state
    /// file), to register this id with core and obtain its token.
    #[arg(long, env = "ORCHESTRATOR_ENROLLMENT_TOKEN", hide_env_values = true)]
    pub enrollment_token: Option<String>,
    /// Core's API base URL, where `--enrollment-token` is sent
    /// (`POST <url>/api/v1/enroll`).
    #[arg(
        long,
        env = "CONTROLLER_API_URL",
        default_value = "http://127.0.0.1:8765"
    )]
    pub api_url: String,
    /// PEM file of the CA that signed the edges' certificates, for `wss://` URLs
    /// under a private CA (otherwise the system's roots are trusted).
    #[arg(long, env = "CONTROLLER_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Fault injection: leave out every Nth heartbeat (0: none), to test that
    /// liveness does not flap on a lossy link.
    #[arg(long, default_value_t = 0, hide = true)]
    pub drop_heartbeat_every: u32,
    /// Fail to apply a configuration naming any of these features or settings
    /// (comma-separated): answers `config_status` `failed`, for tests and demos.
    #[arg(
        long = "fail-config-key",
        env = "AGENT_FAIL_CONFIG_KEYS",
        value_delimiter = ','
    )]
    pub fail_config_keys: Vec<String>,
    /// Local addresses to connect from, comma-separated (load mode spreads its
    /// connections over them: one address has ~28,000 ephemeral ports).
    #[arg(long, env = "AGENT_SOURCE_IPS", value_delimiter = ',')]
    pub source_ips: Vec<std::net::IpAddr>,
    /// Write the final figures as JSON to this file (for the benchmark harness).
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// Start on the first `--url` instead of a random one (failures still
    /// rotate through the others).
    #[arg(long, env = "AGENT_START_AT_FIRST_URL")]
    pub start_at_first: bool,
    /// After an administrator deregistered this orchestrator (close 4001), keep
    /// trying, a minute apart and then up to 15 minutes, instead of stopping
    /// with exit code 3.
    #[arg(long, env = "AGENT_RETRY_DEREGISTERED")]
    pub retry_deregistered: bool,
    /// A message to send to the controller once connected (repeatable):
    /// `recommendation:<text>`, `monitoring:<text>`, or JSON
    /// `{"message_type", "content", "metadata"}`. Single-orchestrator mode.
    #[arg(long = "send-message", env = "AGENT_SEND_MESSAGE", value_parser = parse_message)]
    pub send_messages: Vec<OrchestratorMessage>,
    /// Read messages to send from stdin, one a line, in the form of
    /// `--send-message`. Single-orchestrator mode.
    #[arg(long, env = "AGENT_MESSAGES_FROM_STDIN")]
    pub messages_from_stdin: bool,
    /// Run this many orchestrators (load generator mode).
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Connections opened per second in load mode (0: as fast as possible).
    #[arg(long, default_value_t = 500)]
    pub connect_rate: u32,
    /// Stop after this many seconds (0: run until SIGINT/SIGTERM).
    #[arg(long, default_value_t = 0)]
    pub duration_sec: u64,
}

/// Settings that cannot work together.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("CONTROLLER_WS_URL names no edge")]
    NoUrl,
    #[error("--send-message and --messages-from-stdin need a single orchestrator (--count 1)")]
    MessagesInLoadMode,
}

impl Config {
    /// Refuses settings that cannot work together.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.urls.is_empty() {
            return Err(ConfigError::NoUrl);
        }
        let messages = !self.send_messages.is_empty() || self.messages_from_stdin;
        if messages && self.count != 1 {
            return Err(ConfigError::MessagesInLoadMode);
        }
        Ok(())
    }

    /// `WEBSOCKET_KEEPALIVE_INTERVAL` is the first version's name for the interval.
    pub fn apply_legacy_env(&mut self) {
        if std::env::var_os("HEARTBEAT_INTERVAL_SEC").is_none() {
            if let Some(v) = std::env::var("WEBSOCKET_KEEPALIVE_INTERVAL")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                self.heartbeat_interval_sec = v;
            }
        }
    }
}
