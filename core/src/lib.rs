//! `moolai-core`: the fleet's brain. It follows handshakes and disconnects from the
//! events stream, decides heartbeats from its in-memory view, routes frames to the
//! edge that holds each socket, and serves HTTP (`/healthz`, `/readyz`; the REST API
//! and dashboard build on this). It reads PostgreSQL but never writes it.

pub mod activity;
pub mod api;
pub mod cluster_logs;
pub mod config;
pub mod edges;
pub mod error;
pub mod heartbeats;
pub mod live;
pub mod liveness;
pub mod persister_client;
pub mod push;
pub mod rates;
pub mod requests;
pub mod route;
pub mod sessions;
pub mod store;

use std::time::Duration;

use async_nats::jetstream;
use moolai_kit::{bus, health, serve};
use moolai_proto::Subjects;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use error::StartError;
use live::Live;
use sessions::Sessions;

/// How long stopping core waits for its tasks (consumers, sweeps, event
/// streams) once the HTTP server is down; compose.yaml's `stop_grace_period`
/// for core is above it.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// Runs core on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    moolai_kit::metrics::handle(); // record from the first event on
    let tls = serve::optional_tls(config.tls.cert.as_deref(), config.tls.key.as_deref())?;
    let subjects = Subjects::new(config.service.subject_prefix.clone())?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(3))
        .connect(config.database_url.expose())
        .await?;
    let (nats, js) = bus::connect_and_declare(&config.service, &subjects, "moolai-core").await?;

    let live = Live::default();
    let known = load_state(&pool, &live).await;
    tracing::info!(
        known,
        connected = live.connected(),
        "state rebuilt from the database"
    );

    let routes = route::Routes::new(nats.clone(), subjects.clone());
    let sessions = Sessions {
        live: live.clone(),
        pushes: push::Pushes::new(live.clone(), routes.clone(), pool.clone()),
        routes,
        pool: pool.clone(),
        feed: activity::Feed::default(),
    };
    let tasks = TaskTracker::new();
    spawn_bus_tasks(&config, &tasks, &nats, &js, &subjects, &sessions, &shutdown).await?;
    moolai_kit::logbuf::set_capacity(config.log_buffer_size);
    let logs = cluster_logs::collect(nats.clone(), subjects.clone(), shutdown.clone());
    tasks.spawn(log_exit("cluster logs", logs));
    let edges = edges::Edges::default();
    let presence = edges::listen(
        nats.clone(),
        subjects.clone(),
        edges.clone(),
        shutdown.clone(),
    );
    tasks.spawn(log_exit("edge presence", presence));

    let tokens = token_signing(&config, &js, &subjects, &pool).await?;
    let state = api_state(
        &config,
        &sessions,
        &nats,
        &subjects,
        edges.clone(),
        tokens,
        shutdown.clone(),
    );
    spawn_rates_and_liveness(&config, &tasks, &state, &sessions, edges, &shutdown);
    bootstrap_first_admin(&config, &tasks, &state, &pool, &shutdown).await;
    let app = api::router(state, &config.allowed_origins, &config.dashboard_dir).merge(
        health::router(health::nats_and_db(nats.clone(), pool.clone())),
    );
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %listener.local_addr()?, scheme, "core listening");
    let options = config.http.serve_options(tls);
    serve::serve(listener, app, shutdown.clone(), options).await;
    moolai_kit::telemetry::wait_for_tasks(&tasks, SHUTDOWN_DEADLINE).await;
    // Unsubscribe and flush before going: the server stops handing this process
    // events (e.g. on an outstanding pull) that another core should get.
    if let Err(err) = nats.drain().await {
        tracing::debug!(%err, "NATS drain at shutdown");
    }
    Ok(())
}

/// The dashboard's rates sampler and the liveness sweep.
fn spawn_rates_and_liveness(
    config: &Config,
    tasks: &TaskTracker,
    state: &api::AppState,
    sessions: &Sessions,
    edges: edges::Edges,
    shutdown: &CancellationToken,
) {
    let live = sessions.live.clone();
    let rates = state
        .rates
        .clone()
        .run(live.clone(), edges.clone(), shutdown.clone());
    tasks.spawn(rates);
    let sweeper = liveness::Sweeper {
        persister: state.persister.clone(),
        live,
        edges,
        feed: sessions.feed.clone(),
        ttl: Duration::from_secs(config.heartbeat_ttl_sec),
        every: Duration::from_millis(config.liveness_sweep_ms.max(50)),
    };
    tasks.spawn(sweeper.run(shutdown.clone()));
}

/// Creates `ADMIN_USERNAME` (or applies a changed `ADMIN_PASSWORD`). Waits a
/// little so a fresh stack accepts its admin's first login; if the persister is
/// not up yet, finishes in the background.
async fn bootstrap_first_admin(
    config: &Config,
    tasks: &TaskTracker,
    state: &api::AppState,
    pool: &PgPool,
    shutdown: &CancellationToken,
) {
    let bootstrap = api::auth::bootstrap_admin(
        pool.clone(),
        state.persister.clone(),
        config.admin_username.clone(),
        config
            .admin_password
            .as_ref()
            .map(|p| p.expose().to_owned()),
    );
    let mut bootstrap = Box::pin(bootstrap);
    if tokio::time::timeout(Duration::from_secs(10), &mut bootstrap)
        .await
        .is_err()
    {
        tracing::warn!("first admin not created yet (persister unavailable?); still trying");
        let stop = shutdown.clone();
        tasks.spawn(async move {
            tokio::select! {
                _ = bootstrap => {},
                _ = stop.cancelled() => {},
            }
        });
    }
}

/// Loads rules and open connections; core still starts with an empty view if the
/// database is down (the persister will catch up and heartbeats refill the view).
async fn load_state(pool: &PgPool, live: &Live) -> usize {
    match store::load(pool, live).await {
        Ok(n) => n,
        Err(err) => {
            tracing::error!(%err, "could not load state from the database; starting empty");
            0
        }
    }
}

async fn spawn_bus_tasks(
    config: &Config,
    tasks: &TaskTracker,
    nats: &async_nats::Client,
    js: &jetstream::Context,
    subjects: &Subjects,
    sessions: &Sessions,
    shutdown: &CancellationToken,
) -> Result<(), StartError> {
    let events = sessions::consumer(js, subjects)
        .await
        .map_err(StartError::JetStream)?;
    let pending = heartbeats::Pending::default();
    {
        let (sessions, tasks2, shutdown) = (sessions.clone(), tasks.clone(), shutdown.clone());
        tasks.spawn(async move { sessions::run(sessions, events, &tasks2, shutdown).await });
    }
    let receive = heartbeats::receive(
        nats.clone(),
        subjects.clone(),
        sessions.live.clone(),
        pending.clone(),
        sessions.feed.clone(),
        shutdown.clone(),
    );
    tasks.spawn(log_exit("heartbeats", receive));
    tasks.spawn(heartbeats::flush_loop(
        js.clone(),
        subjects.clone(),
        pending,
        Duration::from_millis(config.heartbeat_flush_ms),
        shutdown.clone(),
    ));
    let requests = requests::serve(
        nats.clone(),
        subjects.clone(),
        sessions.clone(),
        tasks.clone(),
        shutdown.clone(),
    );
    tasks.spawn(log_exit("provisioning requests", requests));
    Ok(())
}

fn api_state(
    config: &Config,
    sessions: &Sessions,
    nats: &async_nats::Client,
    subjects: &Subjects,
    edges: edges::Edges,
    tokens: Option<api::tokens::Tokens>,
    shutdown: CancellationToken,
) -> api::AppState {
    api::AppState {
        pool: sessions.pool.clone(),
        nats: nats.clone(),
        live: sessions.live.clone(),
        routes: sessions.routes.clone(),
        pushes: sessions.pushes.clone(),
        feed: sessions.feed.clone(),
        persister: persister_client::Persister {
            nats: nats.clone(),
            subject: subjects.persist_commands(),
        },
        edges,
        auth: std::sync::Arc::new(api::extract::AuthSettings {
            dev_token_hash: config
                .dev_bearer_token
                .as_ref()
                .map(|t| api::extract::token_hash(t.expose())),
            public_read: config.public_read_api,
            session_ttl: Duration::from_secs(config.session_ttl_sec),
            session_idle: Duration::from_secs(config.session_idle_sec),
        }),
        guard: api::auth::LoginGuard::default(),
        sessions: api::auth::SessionUse::default(),
        tokens,
        rates: rates::Rates::default(),
        shutdown,
    }
}

/// With `ORCHESTRATOR_TOKEN_SECRET`, opens the generations bucket and brings it up to
/// date with the database.
async fn token_signing(
    config: &Config,
    js: &jetstream::Context,
    subjects: &Subjects,
    pool: &PgPool,
) -> Result<Option<api::tokens::Tokens>, StartError> {
    let Some(secret) = &config.orchestrator_token_secret else {
        return Ok(None);
    };
    let kv = bus::token_store(js, subjects, config.service.stream_replicas)
        .await
        .map_err(StartError::JetStream)?;
    match api::tokens::sync(pool, &kv).await {
        Ok(n) => tracing::info!(orchestrators = n, "token generations published"),
        Err(err) => tracing::warn!(%err, "token generations not synced from the database"),
    }
    Ok(Some(api::tokens::Tokens {
        secret: secret.expose().as_bytes().to_vec(),
        kv,
    }))
}

async fn log_exit(
    what: &'static str,
    task: impl std::future::Future<Output = Result<(), async_nats::Error>>,
) {
    if let Err(err) = task.await {
        tracing::error!(%err, "{what} task stopped");
    }
}
