//! `moolai-persister`: the only writer to PostgreSQL.
//!
//! It applies `migrations/` at start, then runs two durable pull consumers — one on
//! the events stream (handshakes, disconnects, snapshots, messages from edges), one
//! on the writes stream (heartbeat batches from core) — and serves `/healthz` and
//! `/readyz`. See `docs/architecture.md` for why each event class travels as it does.

pub mod admins_sql;
pub mod bounds;
pub mod commands;
pub mod commands_sql;
pub mod config;
pub mod config_sql;
pub mod consume;
pub mod enrollment_sql;
pub mod error;
pub mod org_seen;
mod outcome;
pub mod queued_sql;
pub mod sinks;
pub mod writes;

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use moolai_kit::{bus, health};
use moolai_proto::subjects::{
    PERSISTER_EVENTS_CONSUMER, PERSISTER_QUEUE, PERSISTER_WRITES_CONSUMER,
};
use moolai_proto::Subjects;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
use consume::DeadLetters;
/// Why the persister could not start (the kit's, shared by every service).
pub use moolai_kit::StartError;
use org_seen::OrgSeen;
use sinks::{EventSink, HeartbeatSink};

/// Migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// How long a stopping persister waits for its consumers and command handlers
/// to finish the batch or transaction they are in; what is not acked by then is
/// redelivered. compose.yaml's `stop_grace_period` for it is above this.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// How long a message may stay unacknowledged before JetStream redelivers it.
const ACK_WAIT: Duration = Duration::from_secs(30);

/// Connects to PostgreSQL. A short acquire timeout makes an outage visible in
/// seconds instead of the pool's default 30.
pub async fn connect_db(url: &str, max: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
}

/// Runs the persister on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    moolai_kit::metrics::handle(); // record from the first event on
    let subjects = Subjects::new(config.service.subject_prefix.clone())?;
    let pool = connect_db(
        config.database_url.expose(),
        config.database_max_connections,
    )
    .await?;
    MIGRATOR.run(&pool).await?;
    let filled = config_sql::fill_missing_hashes(&pool).await?;
    if filled > 0 {
        tracing::info!(organizations = filled, "configuration hashes filled in");
    }
    let (nats, js) =
        bus::connect_and_declare(&config.service, &subjects, "moolai-persister").await?;

    let tasks = TaskTracker::new();
    let events = durable(&js, &subjects.events_stream(), PERSISTER_EVENTS_CONSUMER).await?;
    let writes = durable(&js, &subjects.writes_stream(), PERSISTER_WRITES_CONSUMER).await?;
    let dead = |stream: &str| DeadLetters {
        js: js.clone(),
        subject: subjects.dead_letter(stream),
    };
    tasks.spawn(consume::run(
        events,
        EventSink { pool: pool.clone() },
        config.batch,
        dead("events"),
        shutdown.clone(),
    ));
    let orgs = OrgSeen::default();
    tasks.spawn(orgs.clone().run(pool.clone(), shutdown.clone()));
    tasks.spawn(consume::run(
        writes,
        HeartbeatSink {
            pool: pool.clone(),
            orgs,
        },
        config.batch,
        dead("writes"),
        shutdown.clone(),
    ));
    let commands = nats
        .queue_subscribe(subjects.persist_commands(), PERSISTER_QUEUE.to_owned())
        .await
        .map_err(|e| StartError::JetStream(e.into()))?;
    tasks.spawn(commands::serve(
        nats.clone(),
        commands,
        pool.clone(),
        bounds::Bounds {
            session_ttl: Duration::from_secs(config.session_ttl_sec),
        },
        tasks.clone(),
        shutdown.clone(),
    ));

    let app = health::router(health::nats_and_db(nats, pool.clone()));
    tracing::info!(addr = %listener.local_addr()?, "persister listening");
    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    server.await?;
    moolai_kit::telemetry::wait_for_tasks(&tasks, SHUTDOWN_DEADLINE).await;
    pool.close().await;
    Ok(())
}

async fn durable(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
) -> Result<jetstream::consumer::PullConsumer, StartError> {
    let stream = js
        .get_stream(stream)
        .await
        .map_err(|e| StartError::JetStream(e.into()))?;
    stream
        .get_or_create_consumer(
            name,
            pull::Config {
                durable_name: Some(name.to_owned()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                // Unlimited deliveries: a long database outage must not drop messages;
                // poison messages are caught by decoding and refusals instead.
                max_deliver: -1,
                max_ack_pending: 20_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| StartError::JetStream(e.into()))
}
