//! Test harness: every role of the controller started in process against a real
//! nats-server (`NATS_URL`) and a real PostgreSQL (`TEST_DATABASE_URL`), with a
//! fresh database and a fresh subject prefix per test so tests run in parallel.

pub mod api;
pub mod assertions;
pub mod barrier;
pub mod faults;
pub mod http;
pub mod load;
pub mod netns;
pub mod procfs;
pub mod stacks;
mod teardown;
pub mod tokens;
pub mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Password of the `admin` superadmin every test stack starts with.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Where the services and the test's own assertions find NATS and PostgreSQL.
pub struct TestEnv {
    pub prefix: String,
    pub nats_url: String,
    pub db_url: String,
    pub pool: PgPool,
}

fn nats_url() -> String {
    std::env::var("NATS_URL")
        .expect("NATS_URL must point at a nats-server 2.10+ (scripts/test.sh starts one)")
}

/// The NATS users of the shipped nats.conf: one per role, and the read-only one.
pub const NATS_ROLES: [&str; 4] = ["core", "edge", "persister", "monitor"];

/// The password of a role's NATS user: `MOOLAI_NATS_<ROLE>_PASSWORD` as
/// scripts/test.sh exports it (the variable nats.conf reads), else one made up
/// once per test process, which the private servers of [`faults`] and
/// [`netns`] are started with too. A server that asks for no credentials
/// ignores them.
pub fn nats_password(role: &str) -> String {
    static MADE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    std::env::var(nats_password_var(role)).unwrap_or_else(|_| {
        let made = MADE.get_or_init(|| uuid::Uuid::new_v4().simple().to_string());
        format!("p{made}{role}")
    })
}

/// A file at the root of the repository (nats.conf, ...).
pub fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

/// The environment variable nats.conf reads a role's password from.
pub fn nats_password_var(role: &str) -> String {
    format!("MOOLAI_NATS_{}_PASSWORD", role.to_uppercase())
}

/// Every role's password variable, for a nats-server started with nats.conf.
pub fn nats_server_env() -> Vec<(String, String)> {
    NATS_ROLES
        .iter()
        .map(|role| (nats_password_var(role), nats_password(role)))
        .collect()
}

fn admin_db_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect("TEST_DATABASE_URL must point at a PostgreSQL role that may CREATE DATABASE")
}

/// Replaces the database name (the path) of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let cut = base.rfind('/').expect("database URL has a path");
    let mut out = format!("{}/{}", &base[..cut], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestEnv {
    /// A fresh database (schema applied) and a fresh prefix.
    pub async fn new() -> Self {
        moolai_kit::telemetry::init_test_tracing();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let prefix = format!("t{tag}");
        let admin = admin_db_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("connect to TEST_DATABASE_URL");
        // The name is built from a random hex tag only.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE moolai_{prefix}"
        )))
        .execute(&mut conn)
        .await
        .expect("create test database");
        let db_url = with_database(&admin, &format!("moolai_{prefix}"));
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&db_url)
            .await
            .expect("connect test db");
        moolai_persister::MIGRATOR
            .run(&pool)
            .await
            .expect("migrations apply");
        let env = Self {
            prefix,
            nats_url: nats_url(),
            db_url,
            pool,
        };
        env.provision_bus().await;
        env
    }

    /// How `role` (a user of nats.conf) reaches this test's NATS.
    pub fn nats(&self, role: &str) -> moolai_kit::bus::NatsConfig {
        moolai_kit::bus::NatsConfig::anonymous(self.nats_url.clone())
            .with_user(role, &nats_password(role))
    }

    /// A client of this test's NATS as `role`, connected (the roles' own
    /// connect returns at once and connects in the background).
    pub async fn bus_client(&self, role: &str) -> async_nats::Client {
        let client = moolai_kit::bus::connect(&self.nats(role), &format!("test as {role}"))
            .await
            .expect("connect to NATS");
        let connected = wait_until(Duration::from_secs(10), || {
            let state = client.connection_state();
            async move { state == async_nats::connection::State::Connected }
        })
        .await;
        assert!(connected.is_some(), "{role} could not log in to NATS");
        client
    }

    /// The variables that give a role process its NATS credentials.
    pub fn nats_vars(&self, role: &str) -> [(&'static str, String); 3] {
        [
            ("NATS_URL", self.nats_url.clone()),
            ("NATS_USER", role.to_owned()),
            ("NATS_PASSWORD", nats_password(role)),
        ]
    }

    /// Declares this prefix's streams and token bucket, as core and the
    /// persister do at start, so a test may start an edge alone (an edge may
    /// not create them; it waits). Call again after pointing `nats_url` at
    /// another server.
    pub async fn provision_bus(&self) {
        let js = async_nats::jetstream::new(self.bus_client("core").await);
        let subjects = moolai_proto::Subjects::new(self.prefix.clone()).unwrap();
        moolai_kit::bus::ensure_streams(&js, &subjects, 1)
            .await
            .expect("declare the streams");
    }

    /// The flags every role shares: `role`'s NATS login and this test's prefix.
    fn service_args(&self, role: &str) -> Vec<String> {
        [
            "--nats-url",
            &self.nats_url,
            "--nats-user",
            role,
            "--nats-password",
            &nats_password(role),
            "--subject-prefix",
            &self.prefix,
            "--stream-replicas",
            "1",
            "--listen",
            "127.0.0.1:0",
        ]
        .map(str::to_owned)
        .into()
    }

    pub fn persister_config(&self) -> moolai_persister::Config {
        let mut args = self.service_args("persister");
        args.extend(flag_pairs(&[
            ("--database-url", self.db_url.as_str()),
            ("--batch", "2000"),
            ("--session-ttl-sec", "28800"),
            ("--database-max-connections", "2"),
        ]));
        parse_config("moolai-persister", args)
    }

    pub fn core_config(&self) -> moolai_core::Config {
        let mut args = self.service_args("core");
        args.extend(flag_pairs(&[
            ("--database-url", self.db_url.as_str()),
            ("--heartbeat-ttl-sec", "120"),
            ("--liveness-sweep-ms", "250"),
            ("--header-timeout-sec", "10"),
            ("--body-timeout-sec", "10"),
            // Tests open thousands of connections from 127.0.0.1; tests of
            // the caps set their own.
            ("--http-max-connections", "100000"),
            ("--http-max-connections-per-address", "100000"),
            ("--heartbeat-flush-ms", "100"),
            ("--admin-username", "admin"),
            ("--admin-password", ADMIN_PASSWORD),
            ("--session-ttl-sec", "3600"),
            ("--session-idle-sec", "1800"),
            ("--log-buffer-size", "1000"),
            ("--dashboard-dir", "frontend/dist"),
        ]));
        parse_config("moolai-core", args)
    }

    pub fn edge_config(&self, edge_id: &str) -> moolai_edge::Config {
        let mut args = self.service_args("edge");
        args.extend(flag_pairs(&[
            ("--edge-id", edge_id),
            ("--handshake-timeout-sec", "15"),
            ("--controller-heartbeat-sec", "20"),
            ("--idle-timeout-sec", "100"),
            ("--header-timeout-sec", "10"),
            ("--body-timeout-sec", "10"),
            // Tests open thousands of connections from 127.0.0.1; tests of
            // the caps set their own.
            ("--http-max-connections", "100000"),
            ("--http-max-connections-per-address", "100000"),
            ("--drain-sec", "10"),
            ("--max-frames-per-sec", "50"),
            ("--bus-lost-sec", "15"),
            // Explicit opt-outs (the binary's defaults are on): most tests
            // speak raw WebSockets as made-up ids, many from one address,
            // some at load. The tests of these limits turn them on.
            ("--require-orchestrator-token", "false"),
            ("--max-connections-per-address", "0"),
            ("--max-messages-per-min", "0"),
            ("--max-message-bytes-per-min", "0"),
        ]));
        parse_config("moolai-edge", args)
    }

    /// Runs a SQL query returning one scalar (bound to `$1 = id`), for assertions.
    pub async fn scalar<T>(&self, sql: &'static str, id: &str) -> Option<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        // No row and a NULL column both read as `None`.
        sqlx::query_scalar::<_, Option<T>>(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .expect("query")
            .flatten()
    }

    /// The `status` of an orchestrator's instance row.
    pub async fn status(&self, id: &str) -> Option<String> {
        self.scalar(
            "SELECT status FROM orchestrator_instances WHERE orchestrator_id = $1",
            id,
        )
        .await
    }

    /// Whether the instance row of `id` reads `active` within `limit`.
    pub async fn becomes_active(&self, id: &str, limit: Duration) -> bool {
        wait_until(limit, || async {
            self.status(id).await.as_deref() == Some("active")
        })
        .await
        .is_some()
    }
}

/// A role running in this process.
pub struct Running {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<()>,
}

impl Running {
    /// Graceful stop: cancel and wait.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.handle).await;
    }

    /// The WebSocket URL of an edge.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

async fn start<F, Fut, E>(run: F) -> Running
where
    F: FnOnce(TcpListener, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let running = launch(run).await;
    wait_ready(running.addr).await;
    running
}

/// Starts a role without waiting for it to be ready (e.g. one serving TLS,
/// which [`wait_ready`]'s plain HTTP cannot ask).
pub async fn launch<F, Fut, E>(run: F) -> Running
where
    F: FnOnce(TcpListener, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let fut = run(listener, shutdown.clone());
    let handle = tokio::spawn(async move {
        if let Err(err) = fut.await {
            panic!("role failed: {err}");
        }
    });
    Running {
        addr,
        shutdown,
        handle,
    }
}

/// Waits until `/readyz` answers 200.
pub async fn wait_ready(addr: SocketAddr) {
    wait_until(Duration::from_secs(20), || async move {
        matches!(http::get(addr, "/readyz").await, Ok((200, _)))
    })
    .await
    .unwrap_or_else(|| panic!("{addr} never became ready"));
}

pub async fn start_persister(config: moolai_persister::Config) -> Running {
    start(|l, s| moolai_persister::run(config, l, s)).await
}

pub async fn start_core(config: moolai_core::Config) -> Running {
    start(|l, s| moolai_core::run(config, l, s)).await
}

pub async fn start_edge(config: moolai_edge::Config) -> Running {
    start(|l, s| moolai_edge::run(config, l, s)).await
}

/// An edge on a port chosen beforehand (e.g. one agents were already given).
pub async fn start_edge_on(config: moolai_edge::Config, port: u16) -> Running {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let shutdown = CancellationToken::new();
    let fut = moolai_edge::run(config, listener, shutdown.clone());
    let handle = tokio::spawn(async move {
        if let Err(err) = fut.await {
            panic!("edge failed: {err}");
        }
    });
    let running = Running {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        shutdown,
        handle,
    };
    wait_ready(running.addr).await;
    running
}

/// Persister, core and one edge.
pub struct Stack {
    pub persister: Running,
    pub core: Running,
    pub edge: Running,
}

impl TestEnv {
    /// The usual stack with default settings and an edge called `edge-1`.
    pub async fn stack(&self) -> Stack {
        let persister = start_persister(self.persister_config()).await;
        let core = start_core(self.core_config()).await;
        let edge = start_edge(self.edge_config("edge-1")).await;
        Stack {
            persister,
            core,
            edge,
        }
    }
}

/// Polls `check` until it is true or `limit` passes; `Some(elapsed)` on success.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The `host:port` of a PostgreSQL URL, for a proxy in front of it.
pub fn db_addr(url: &str) -> SocketAddr {
    let host_port = url
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("host:port in URL");
    host_port
        .replace("localhost", "127.0.0.1")
        .parse()
        .expect("numeric host:port in TEST_DATABASE_URL")
}

/// A free loopback port (for roles run as separate processes).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `moolai-edge` as a process (so it can be killed) and waits until ready.
pub async fn edge_process(env: &TestEnv, id: &str, port: u16) -> tokio::process::Child {
    let listen = format!("127.0.0.1:{port}");
    role_process(
        env,
        "moolai-edge",
        port,
        &[
            ("EDGE_ID", id),
            ("EDGE_LISTEN", &listen),
            // As `edge_config`: the tests' raw sockets carry no tokens.
            ("EDGE_REQUIRE_ORCHESTRATOR_TOKEN", "false"),
            ("EDGE_MAX_CONNECTIONS_PER_ADDRESS", "0"),
            // As `edge_config`: thousands of agents from 127.0.0.1 at once.
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("HTTP_MAX_CONNECTIONS_PER_ADDRESS", "0"),
            ("EDGE_MAX_MESSAGES_PER_MIN", "0"),
            ("EDGE_MAX_MESSAGE_BYTES_PER_MIN", "0"),
        ],
    )
    .await
}

/// Starts `moolai-persister` as a process (so it can be `kill -9`ed) on `port`
/// and waits until it is ready.
pub async fn persister_process(env: &TestEnv, port: u16) -> tokio::process::Child {
    let listen = format!("127.0.0.1:{port}");
    let vars = [
        ("DATABASE_URL", env.db_url.as_str()),
        ("PERSISTER_LISTEN", &listen),
    ];
    role_process(env, "moolai-persister", port, &vars).await
}

/// A workspace binary as a process on this test's NATS and prefix, with `vars`
/// set, ready on `port`.
async fn role_process(
    env: &TestEnv,
    bin: &str,
    port: u16,
    vars: &[(&str, &str)],
) -> tokio::process::Child {
    let role = bin.trim_start_matches("moolai-");
    let child = tokio::process::Command::new(workspace_bin(bin))
        .envs(env.nats_vars(role))
        .env("MOOLAI_SUBJECT_PREFIX", &env.prefix)
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    wait_ready(([127, 0, 0, 1], port).into()).await;
    child
}

/// A stack on a private nats-server the test may kill and restart; `None` when
/// no nats-server binary was provided.
pub async fn stack_on_private_broker() -> Option<(faults::NatsServer, TestEnv, Stack)> {
    let Some(nats) = faults::NatsServer::start().await else {
        eprintln!("NATS_SERVER_BIN not set; skipping (scripts/test.sh sets it)");
        return None;
    };
    let mut env = TestEnv::new().await;
    env.nats_url = nats.url();
    let stack = env.stack().await;
    Some((nats, env, stack))
}

/// A binary of this workspace, built next to the test executable.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// `--flag value` pairs as arguments.
fn flag_pairs(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(flag, value)| [(*flag).to_owned(), (*value).to_owned()])
        .collect()
}

/// A role's `Config` as its binary would parse these flags; settings left out
/// keep the binary's defaults. The variables of the test's own environment
/// (`NATS_URL`, `ORCHESTRATOR_TOKEN_SECRET`, ...) are not read: every role of a
/// test is configured by the test alone.
fn parse_config<C: clap::Parser>(binary: &str, args: Vec<String>) -> C {
    let command = C::command().mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(std::iter::once(binary.to_owned()).chain(args))
        .unwrap_or_else(|err| panic!("{binary} refused the test's flags: {err}"));
    C::from_arg_matches(&matches).unwrap_or_else(|err| panic!("{binary}: {err}"))
}
