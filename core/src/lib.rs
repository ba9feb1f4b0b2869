//! `moolai-core`: the fleet's brain. It follows handshakes and disconnects from the
//! events stream, decides heartbeats from its in-memory view, routes frames to the
//! edge that holds each socket, and serves HTTP (`/healthz`, `/readyz`; the REST API
//! and dashboard build on this). It reads PostgreSQL but never writes it.

pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod error;
pub mod fleet;
pub mod persister_client;
pub mod push;
pub mod rollout;
pub mod store;
#[cfg(test)]
mod testing;

use std::time::Duration;

use async_nats::jetstream;
use moolai_kit::{bus, health, serve};
use moolai_proto::Subjects;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use cluster::{duties, edges, replica};
pub use config::Config;
pub use error::StartError;
use fleet::live::Live;
use fleet::sessions::Sessions;
use fleet::{activity, heartbeats, liveness, sessions};
use push::{reconcile, requests, route};

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

    let tasks = TaskTracker::new();
    let live = live_view(&pool, &js, &nats, &subjects, &tasks, &shutdown).await;
    let routes = route::Routes::new(nats.clone(), subjects.clone());
    let pushes = push::ordered::Pushes::new(live.clone(), routes.clone(), pool.clone());
    match pushes.load().await {
        Ok(n) => tracing::info!(organizations = n, "desired configurations loaded"),
        // Read on first use instead; the resync fills the rest.
        Err(err) => {
            tracing::error!(%err, "desired configurations not loaded; reading them as needed")
        }
    }
    let sessions = Sessions {
        live: live.clone(),
        pushes,
        routes,
        pool: pool.clone(),
        feed: activity::Feed::default(),
    };
    spawn_bus_tasks(&config, &tasks, &nats, &js, &subjects, &sessions, &shutdown).await?;
    moolai_kit::logbuf::set_capacity(config.log_buffer_size);
    let logs = cluster::logs::collect(nats.clone(), subjects.clone(), shutdown.clone());
    tasks.spawn(log_exit("cluster logs", logs));
    let tokens = token_signing(&config, &js, &subjects).await?;
    let replica = replica::Replica::start(&config, &js, &subjects, &listener).await?;
    let state = api_state(
        &config,
        &sessions,
        &nats,
        &subjects,
        tokens,
        &replica,
        shutdown.clone(),
    );
    let presence = edges::listen(
        nats.clone(),
        subjects.clone(),
        state.edges.clone(),
        shutdown.clone(),
    );
    tasks.spawn(log_exit("edge presence", presence));
    spawn_rates_and_liveness(
        &config,
        &tasks,
        &state,
        &sessions,
        &replica.duties,
        &shutdown,
    );
    replica
        .spawn(
            &config,
            &tasks,
            &state.shared(),
            &nats,
            &subjects,
            &shutdown,
        )
        .await;
    let ready = replica::readiness(&nats, &pool, &replica.duties);
    let app = api::router(state, &config.allowed_origins, &config.dashboard_dir)
        .merge(health::router(ready));
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

/// The dashboard's rates sampler, the liveness sweep, and the configuration
/// duties (rollouts, resends).
fn spawn_rates_and_liveness(
    config: &Config,
    tasks: &TaskTracker,
    state: &api::AppState,
    sessions: &Sessions,
    duties: &duties::Duties,
    shutdown: &CancellationToken,
) {
    let live = sessions.live.clone();
    let edges = state.edges.clone();
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
        duties: duties.clone(),
    };
    tasks.spawn(sweeper.run(shutdown.clone()));
    let conductor = rollout::conductor::Conductor {
        pool: sessions.pool.clone(),
        persister: state.persister.clone(),
        live: sessions.live.clone(),
        pushes: sessions.pushes.clone(),
        feed: sessions.feed.clone(),
        duties: duties.clone(),
        changes: state.changes.clone(),
    };
    tasks.spawn(conductor.run(shutdown.clone()));
    let reconciler = reconcile::Reconciler {
        pool: sessions.pool.clone(),
        live: sessions.live.clone(),
        pushes: sessions.pushes.clone(),
        duties: duties.clone(),
        within: Duration::from_secs(config.config_status_within_sec.max(1)),
    };
    tasks.spawn(reconciler.run(shutdown.clone()));
}

/// The live view: loaded from the database, then kept by this replica's own
/// view of the events stream from shortly before the load on.
async fn live_view(
    pool: &PgPool,
    js: &jetstream::Context,
    nats: &async_nats::Client,
    subjects: &Subjects,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Live {
    let live = Live::default();
    let loaded_at = chrono::Utc::now();
    let known = load_state(pool, &live).await;
    tracing::info!(
        known,
        connected = live.connected(),
        "state rebuilt from the database"
    );
    tasks.spawn(sessions::follow(
        js.clone(),
        nats.clone(),
        subjects.clone(),
        live.clone(),
        loaded_at,
        shutdown.clone(),
    ));
    live
}

/// Loads rules and open connections; core still starts with an empty view if the
/// database is down (the persister will catch up and heartbeats refill the view).
async fn load_state(pool: &PgPool, live: &Live) -> usize {
    match store::fleet::load(pool, live).await {
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
    tokens: Option<auth::orchestrator_tokens::Tokens>,
    replica: &replica::Replica,
    shutdown: CancellationToken,
) -> api::AppState {
    let guard = api::auth::LoginGuard::new(auth::login_guard::Limits {
        concurrent_hashes: config.login_hash_slots.into(),
        known_slots: config.login_known_slots.into(),
        ..Default::default()
    });
    api::AppState {
        pool: sessions.pool.clone(),
        nats: nats.clone(),
        live: sessions.live.clone(),
        routes: sessions.routes.clone(),
        pushes: sessions.pushes.clone(),
        feed: sessions.feed.clone(),
        persister: persister_client::Persister::new(nats.clone(), subjects.persist_commands()),
        edges: edges::Edges::default(),
        auth: std::sync::Arc::new(api::extract::AuthSettings {
            dev_token_hash: config
                .dev_bearer_token
                .as_ref()
                .map(|t| api::extract::token_hash(t.expose())),
            public_read: config.public_read_api,
            session_ttl: Duration::from_secs(config.session_ttl_sec),
            session_idle: Duration::from_secs(config.session_idle_sec),
        }),
        guard: guard.clone(),
        passwords: api::auth::Passwords::new(guard.concurrent_hashes()),
        sessions: api::auth::SessionUse::default(),
        tokens,
        rates: fleet::rates::Rates::default(),
        changes: cluster::changes::Changes::new(sessions.live.clone(), sessions.pushes.clone()),
        cores: replica.cores.clone(),
        core_id: replica.id.clone(),
        shutdown,
    }
}

/// With `ORCHESTRATOR_TOKEN_SECRET`, opens the generations bucket (the duty
/// holder brings it up to date with the database: `singletons`).
async fn token_signing(
    config: &Config,
    js: &jetstream::Context,
    subjects: &Subjects,
) -> Result<Option<auth::orchestrator_tokens::Tokens>, StartError> {
    let Some(secret) = &config.orchestrator_token_secret else {
        return Ok(None);
    };
    let kv = bus::token_store(js, subjects, config.service.stream_replicas)
        .await
        .map_err(StartError::JetStream)?;
    Ok(Some(auth::orchestrator_tokens::Tokens {
        secret: secret.expose().as_bytes().to_vec(),
        kv,
    }))
}

/// Runs `work` until it ends or `shutdown` comes.
pub(crate) async fn until_cancelled(
    work: impl std::future::Future<Output = ()>,
    shutdown: CancellationToken,
) {
    tokio::select! {
        _ = work => {},
        _ = shutdown.cancelled() => {},
    }
}

pub(crate) async fn log_exit(
    what: &'static str,
    task: impl std::future::Future<Output = Result<(), async_nats::Error>>,
) {
    if let Err(err) = task.await {
        tracing::error!(%err, "{what} task stopped");
    }
}
