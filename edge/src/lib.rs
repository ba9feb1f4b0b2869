//! `moolai-edge`: terminates orchestrator WebSockets and relays them to the bus.
//!
//! An edge keeps no state that outlives its sockets: everything it learns goes to
//! NATS (see [`publish`]), and everything it sends comes from core through its own
//! command subject (see [`commands`]). Run as many as the fleet needs.

pub mod admission;
pub mod bus_watch;
pub mod closing;
pub mod commands;
pub mod config;
pub mod connection;
pub mod handshake;
pub mod heartbeats;
pub mod limits;
pub mod presence;
pub mod publish;
pub mod registry;
pub mod stall;
pub mod token_watch;
pub mod tokens;
pub mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use moolai_kit::{bus, health, serve, telemetry};
use moolai_proto::{EdgeId, Subjects};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
/// Why an edge could not start (the kit's, shared by every service).
pub use moolai_kit::StartError;
use publish::Bus;
use registry::Registry;

/// Per-connection buffers, set explicitly: tungstenite's default 128 KiB read
/// buffer is allocated and zeroed per socket (134 KiB per idle connection). This is
/// only the chunk each read fills — larger frames are assembled beyond it — so 1 KiB
/// (a heartbeat is ~80 bytes) costs a few more reads for a rare big frame and saves
/// 3 KiB on every idle socket (measured: 14.2 → 11.7 KiB per connection).
pub const READ_BUFFER: usize = 1024;
/// Frames are written straight through instead of gathering 128 KiB first.
pub const WRITE_BUFFER: usize = 0;
/// A peer that stops reading may make us buffer this much before writes fail.
pub const MAX_WRITE_BUFFER: usize = 256 * 1024;
/// Largest frame or message accepted; bigger ones close the socket with 1009.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Everything a connection task needs; cheap to clone.
#[derive(Clone)]
pub struct Edge {
    pub id: EdgeId,
    pub config: Arc<Config>,
    pub registry: Registry,
    pub bus: Bus,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
    pub counters: Arc<presence::Counters>,
    /// Set when orchestrator tokens are configured.
    pub tokens: Option<tokens::TokenCheck>,
    /// Where socket loops hand their heartbeats (see [`heartbeats`]).
    pub heartbeats: heartbeats::Heartbeats,
    /// Whether NATS answers (see [`bus_watch`]).
    pub bus_health: bus_watch::BusHealth,
    /// Sockets open per client address (`EDGE_MAX_CONNECTIONS_PER_ADDRESS`).
    pub per_address: limits::PerAddress,
    /// `message` traffic per orchestrator (`EDGE_MAX_MESSAGES_PER_MIN`, …).
    pub quotas: limits::MessageQuotas,
    /// Handshakes in progress (`EDGE_MAX_PENDING_HANDSHAKES`; see [`admission`]).
    pub backlog: admission::Backlog,
    /// Whether this edge was just stalled (see [`stall`]).
    pub clock: stall::Clock,
}

/// Runs an edge on `listener` until `shutdown`; then closes every socket (1012
/// `server_draining`, each at its own moment within `EDGE_DRAIN_SEC`) and waits
/// for their disconnect events to be stored.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    moolai_kit::metrics::handle(); // record from the first event on
    check_token_settings(&config)?;
    let tls = serve::optional_tls(config.tls.cert.as_deref(), config.tls.key.as_deref())?;
    let subjects = Subjects::new(config.service.subject_prefix.clone())?;
    let id = match &config.edge_id {
        Some(raw) => EdgeId::parse(raw.clone()),
        None => EdgeId::parse(format!(
            "edge-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )),
    }
    .map_err(|e| StartError::Id("EDGE_ID", e))?;
    let nats = bus::connect(&config.service.nats, &format!("moolai-edge {id}")).await?;
    // Durable writes (a handshake waits for one) on a connection of their own:
    // on the shared one, with the fleet's heartbeats flowing, a write's ack
    // took 1.5 s p50 while another client's took 1–3 ms (docs/benchmarks.md).
    let durable = bus::connect(&config.service.nats, &format!("moolai-edge {id} durable")).await?;
    let js = jetstream::new(durable.clone());
    // Core and the persister declare the streams; an edge may not (nats.conf).
    if !bus::wait_for_bus(&js, &subjects, config.service.stream_replicas, &shutdown).await {
        return Ok(()); // stopped before the bus was there: nothing to drain
    }
    let tasks = TaskTracker::new();
    let tokens = token_check(&config, &js, &subjects, &tasks, &shutdown).await?;
    let bus = Bus {
        nats,
        durable,
        js,
        subjects: subjects.clone(),
    };
    let per_address = limits::PerAddress::new(config.max_connections_per_address);
    let quotas = limits::MessageQuotas::new(
        config.max_messages_per_min,
        config.max_message_bytes_per_min,
    );
    let backlog = admission::Backlog::new(config.max_pending_handshakes, config.retry_after_sec);
    let edge = Edge {
        backlog,
        id: id.clone(),
        config: Arc::new(config),
        registry: Registry::default(),
        heartbeats: heartbeats::Heartbeats::start(bus.clone(), id.clone(), &tasks),
        bus,
        tasks: tasks.clone(),
        shutdown: shutdown.clone(),
        counters: Arc::default(),
        tokens,
        bus_health: bus_watch::BusHealth::default(),
        per_address,
        quotas,
        clock: stall::Clock::default(),
    };
    let address = listener.local_addr()?;
    spawn_background(&edge, address);
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    tracing::info!(edge_id = %id, addr = %address, scheme, "edge listening");
    let options = edge.config.http.serve_options(tls);
    let deadline = shutdown_deadline(&edge.config);
    serve::serve(listener, app(edge), shutdown, options).await;
    telemetry::wait_for_tasks(&tasks, deadline).await;
    Ok(())
}

/// The edge's own tasks, beside its sockets: core's commands, the drain at
/// shutdown, presence, the bus probe, the quota pruner and the stall clock.
fn spawn_background(edge: &Edge, address: std::net::SocketAddr) {
    let listen = commands::listen(
        edge.bus.nats.clone(),
        edge.bus.subjects.edge_commands(&edge.id),
        edge.registry.clone(),
        edge.shutdown.clone(),
    );
    edge.tasks.spawn(async move {
        if let Err(err) = listen.await {
            tracing::error!(%err, "command listener stopped");
        }
    });
    // Stopping: every socket hears it through its own inbox and closes at its
    // moment of the drain (a shared token in every socket loop cost a mutex per
    // frame).
    let (registry, stopping) = (edge.registry.clone(), edge.shutdown.clone());
    edge.tasks.spawn(async move {
        stopping.cancelled().await;
        registry.drain_all();
    });
    edge.tasks.spawn(presence::announce(
        edge.clone(),
        address.to_string(),
        edge.counters.clone(),
        edge.shutdown.clone(),
    ));
    edge.tasks
        .spawn(bus_watch::watch(edge.clone(), edge.shutdown.clone()));
    edge.tasks
        .spawn(edge.quotas.clone().prune(edge.shutdown.clone()));
    edge.tasks.spawn(
        edge.clock
            .clone()
            .run(edge.registry.clone(), edge.shutdown.clone()),
    );
}

/// How long a stopping edge waits for its tasks: the drain (each socket closes
/// at its own moment within `EDGE_DRAIN_SEC`), then that socket's disconnect
/// event, retried through a bus outage for up to
/// [`connection::DISCONNECT_RETRY`] while its closing handshake runs alongside,
/// and a few seconds to spare. compose.yaml's `stop_grace_period` for the edges
/// is above it with the default drain.
fn shutdown_deadline(config: &Config) -> Duration {
    Duration::from_secs(config.drain_sec) + connection::DISCONNECT_RETRY + Duration::from_secs(5)
}

/// Tokens are required unless switched off explicitly (issue 12: an edge open to
/// anonymous orchestrators let anyone take over any id). Checked before anything
/// connects, so the edge says why it cannot start even without NATS.
fn check_token_settings(config: &Config) -> Result<(), StartError> {
    if !config.require_orchestrator_token {
        tracing::warn!(
            "EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false: any client that reaches this edge may \
             connect as any orchestrator id, displace it and receive what is sent to it; \
             for a private development machine only"
        );
        return Ok(());
    }
    if config.orchestrator_token_secret.is_none() {
        return Err(StartError::Config(
            "orchestrator tokens are required (EDGE_REQUIRE_ORCHESTRATOR_TOKEN defaults to true) \
             but ORCHESTRATOR_TOKEN_SECRET is not set: give this edge the secret core signs \
             tokens with, or set EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false to accept anonymous \
             orchestrators (development only)"
                .into(),
        ));
    }
    Ok(())
}

/// With `ORCHESTRATOR_TOKEN_SECRET`, starts following token generations.
async fn token_check(
    config: &Config,
    js: &jetstream::Context,
    subjects: &Subjects,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Option<tokens::TokenCheck>, StartError> {
    let Some(secret) = &config.orchestrator_token_secret else {
        return Ok(None);
    };
    let kv = bus::token_store(js, subjects, config.service.stream_replicas)
        .await
        .map_err(StartError::JetStream)?;
    let check = tokens::TokenCheck::new(secret.expose());
    tasks.spawn(check.clone().watch(kv, js.client(), shutdown.clone()));
    Ok(Some(check))
}

/// The request's `Origin` if it is one a browser sent from a page not on
/// `EDGE_ALLOWED_ORIGINS`; `None` for orchestrators, which send none.
fn foreign_origin(config: &Config, parts: &Parts) -> Option<String> {
    let origin = parts.headers.get(axum::http::header::ORIGIN)?;
    let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    let allowed = config
        .allowed_origins
        .iter()
        .any(|a| a.trim().eq_ignore_ascii_case(&origin));
    (!allowed).then_some(origin)
}

/// The edge's HTTP surface: the WebSocket on `/ws` and `/`, and health.
pub fn app(edge: Edge) -> Router {
    let (nats, bus_health) = (edge.bus.nats.clone(), edge.bus_health.clone());
    let tokens = edge.tokens.clone();
    let ready = Arc::new(move || {
        let (nats, bus_health, tokens) = (nats.clone(), bus_health.clone(), tokens.clone());
        Box::pin(async move {
            health::nats_ready(&nats)?;
            if !bus_health.reachable() {
                return Err("nats: no answer to pings".to_owned());
            }
            if tokens.is_some_and(|t| !t.loaded()) {
                return Err("token generations: not loaded yet".to_owned());
            }
            Ok(())
        }) as _
    });
    Router::new()
        .route("/ws", get(upgrade))
        .route("/", get(upgrade))
        .with_state(Arc::new(edge))
        .merge(health::router(ready))
}

async fn upgrade(State(edge): State<Arc<Edge>>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let ws = match upgrade::Upgrade::from_parts(&mut parts) {
        Ok(ws) => ws,
        Err(refusal) => return refusal.into_response(),
    };
    if let Some(origin) = foreign_origin(&edge.config, &parts) {
        tracing::warn!(origin, "upgrade refused: origin not allowed");
        let body = serde_json::json!({"detail": format!("origin not allowed: {origin}")});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let verified = match (&edge.tokens, edge.config.require_orchestrator_token) {
        (Some(check), true) if !check.loaded() => {
            // Judging now would refuse every token issued before this start.
            tracing::warn!("upgrade refused: token generations not loaded yet");
            return not_loaded_yet(edge.config.retry_after_sec);
        }
        (Some(check), true) => match check.check(&parts) {
            Ok(id) => Some(id),
            Err(refusal) => {
                tracing::warn!(%refusal, "upgrade refused");
                let body = serde_json::json!({"detail": refusal.to_string()});
                return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
            }
        },
        _ => None,
    };
    // After the token (a few µs of HMAC), so that a client without one cannot
    // hold places in the backlog; before anything that allocates per socket.
    // How long the connection waited for this handler (a storm's upgrades queue
    // for the edge's threads before any bound applies).
    if let Some(accepted) = parts.extensions.get::<moolai_kit::serve::AcceptedAt>() {
        metrics::histogram!("moolai_edge_accept_to_handshake_seconds")
            .record(accepted.0.elapsed().as_secs_f64());
    }
    let entered = match &verified {
        Some(id) => edge.backlog.enter_for(id),
        None => edge.backlog.enter().map_err(admission::Refused::Busy),
    };
    let pending = match entered {
        Ok(pending) => pending,
        Err(refused) => {
            tracing::debug!(%refused, "upgrade refused: handshake backlog");
            return refused.into_response();
        }
    };
    let slot = match address_slot(&edge, &parts) {
        Ok(slot) => slot,
        Err(refusal) => {
            tracing::warn!(%refusal, "upgrade refused");
            let body = serde_json::json!({"detail": refusal.to_string()});
            return (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        }
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let tasks = edge.tasks.clone();
    ws.respond(config, &tasks, move |socket| async move {
        // The slot is given back when the connection ends.
        let _slot = slot;
        connection::serve(socket, edge, verified, pending).await
    })
}

/// 503 while the edge is still loading token generations: a retry soon succeeds.
fn not_loaded_yet(retry_after_sec: u32) -> Response {
    let body = serde_json::json!({
        "detail": "edge starting: token generations not loaded yet; retry shortly"
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(retry_after_sec),
    );
    response
}

/// The socket's place in its client address's count (none if the server did not
/// say who the peer is, which `serve` always does).
fn address_slot(
    edge: &Edge,
    parts: &Parts,
) -> Result<Option<limits::Slot>, limits::TooManyFromAddress> {
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>()
    else {
        return Ok(None);
    };
    edge.per_address.take(peer.ip()).map(Some)
}
