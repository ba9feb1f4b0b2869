//! Test harness: every role of the controller started in process against a real
//! nats-server (`NATS_URL`) and a real PostgreSQL (`TEST_DATABASE_URL`), with a
//! fresh database and a fresh subject prefix per test so tests run in parallel.

pub mod api;
pub mod assertions;
pub mod barrier;
mod configs;
pub mod faults;
pub mod floods;
pub mod http;
pub mod load;
mod nats_auth;
pub mod netns;
mod processes;
pub mod procfs;
mod roles;
pub mod stacks;
mod teardown;
pub mod tokens;
pub mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

pub use nats_auth::{nats_password, nats_password_var, nats_server_env, NATS_ROLES};
pub use processes::{core_process, edge_process, free_port, persister_process, workspace_bin};
pub use roles::{
    launch, stack_on_private_broker, start_core, start_edge, start_edge_on, start_one_core,
    start_persister, test_cores, wait_ready, Running, Stack,
};

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

/// A file at the root of the repository (nats.conf, ...).
pub fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
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
    pub fn nats(&self, role: &str) -> moolai_kit::flags::NatsConfig {
        moolai_kit::flags::NatsConfig::anonymous(self.nats_url.clone())
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
