//! What the unit tests of the rules share: the handles core's rules run on,
//! with in-memory edges and persister instead of NATS, and a database pool that
//! never connects (each test's path reads nothing from PostgreSQL: the
//! configurations it pushes are held in memory, and nothing is marked waiting).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_proto::events::{ConnId, EdgeCommand};
use moolai_proto::frames::ProvisionData;
use moolai_proto::{EdgeId, OrchestratorId};
use serde_json::{json, Map, Value};
use sqlx::PgPool;

use crate::fleet::activity::Feed;
use crate::fleet::live::{Connection, Live};
use crate::fleet::sessions::Sessions;
use crate::persister_client::{Persister, RecordedPersister};
use crate::push::ordered::Pushes;
use crate::push::route::{RecordedEdges, Routes};
use crate::store::fleet::Provision;

/// A pool that never connects: a query on it fails (after its acquire
/// timeout) instead of reaching a database.
pub fn no_database() -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(100))
        .connect_lazy("postgres://nobody@127.0.0.1:1/nothing")
        .expect("a lazy pool")
}

/// The handles of one replica, with what it sent kept in memory.
pub struct Rig {
    pub live: Live,
    pub edges: RecordedEdges,
    pub persister: RecordedPersister,
    pub routes: Routes,
    pub pushes: Pushes,
    pub feed: Feed,
}

impl Rig {
    pub fn new() -> Self {
        Self::with_persister(RecordedPersister::default())
    }

    pub fn with_persister(persister: RecordedPersister) -> Self {
        let live = Live::default();
        let edges = RecordedEdges::default();
        let routes = Routes::memory(edges.clone(), Persister::memory(persister.clone()));
        let pushes = Pushes::new(live.clone(), routes.clone(), no_database());
        Self {
            live,
            edges,
            persister,
            routes,
            pushes,
            feed: Feed::default(),
        }
    }

    pub fn sessions(&self) -> Sessions {
        Sessions {
            live: self.live.clone(),
            routes: self.routes.clone(),
            pushes: self.pushes.clone(),
            pool: self.pushes.pool().clone(),
            feed: self.feed.clone(),
        }
    }

    /// Holds `id`'s desired configuration at `revision`, so pushes read none.
    pub fn hold_config(&self, id: &OrchestratorId, revision: i64) {
        self.pushes.configs.hold(
            id.clone(),
            Provision {
                data: ProvisionData {
                    features: json!({"f": revision}),
                    settings: json!({}),
                    policies: json!({}),
                    revision: Some(revision),
                },
                name: None,
                location: None,
            },
        );
    }

    /// The frames delivered so far, each as JSON, with their connection.
    pub fn frames(&self) -> Vec<(ConnId, Value)> {
        frames_of(&self.edges.sent())
    }

    /// The closes sent so far: connection and code.
    pub fn closes(&self) -> Vec<(ConnId, u16)> {
        self.edges
            .sent()
            .into_iter()
            .filter_map(|(_, c)| match c {
                EdgeCommand::Close { conn_id, code, .. } => Some((conn_id, code)),
                _ => None,
            })
            .collect()
    }
}

/// The frames in `sent`, in order.
pub fn frames_of(sent: &[(EdgeId, EdgeCommand)]) -> Vec<(ConnId, Value)> {
    sent.iter()
        .filter_map(|(_, c)| match c {
            EdgeCommand::Deliver {
                conn_id, frames, ..
            } => Some((*conn_id, frames)),
            _ => None,
        })
        .flat_map(|(conn_id, frames)| {
            frames
                .iter()
                .map(move |f| (conn_id, serde_json::from_str(f).expect("a JSON frame")))
        })
        .collect()
}

pub fn org(name: &str) -> OrchestratorId {
    OrchestratorId::parse(name).expect("an orchestrator id")
}

pub fn edge(name: &str) -> EdgeId {
    EdgeId::parse(name).expect("an edge id")
}

/// A connection on `edge` made at `at`, understanding `provision_config`.
pub fn conn(edge_name: &str, at: DateTime<Utc>) -> Connection {
    Connection {
        edge_id: edge(edge_name),
        conn_id: ConnId::new_v4(),
        connected_at: at,
        last_keepalive: None,
        metadata: Map::new(),
        provision_config_capable: true,
    }
}

/// The development token the test router accepts (no database round trip).
pub const DEV_TOKEN: &str = "dev-token-for-tests";

impl Rig {
    /// The API's handles over this rig: its in-memory persister, routes and
    /// live view; a pool that never connects; a NATS client that keeps trying
    /// a port nothing listens on (never connected, so nothing is sent on it).
    pub async fn app_state(&self) -> crate::api::AppState {
        let nats = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect("nats://127.0.0.1:1")
            .await
            .expect("a client that connects later");
        let guard = crate::api::auth::LoginGuard::new(Default::default());
        crate::api::AppState {
            pool: self.pushes.pool().clone(),
            nats,
            live: self.live.clone(),
            routes: self.routes.clone(),
            pushes: self.pushes.clone(),
            feed: self.feed.clone(),
            persister: Persister::memory(self.persister.clone()),
            edges: crate::cluster::edges::Edges::default(),
            auth: Arc::new(crate::api::extract::AuthSettings {
                dev_token_hash: Some(crate::api::extract::token_hash(DEV_TOKEN)),
                public_read: false,
                session_ttl: Duration::from_secs(3600),
                session_idle: Duration::from_secs(600),
            }),
            guard: guard.clone(),
            passwords: crate::api::auth::Passwords::new(1),
            sessions: crate::api::auth::SessionUse::default(),
            tokens: None,
            rates: crate::fleet::rates::Rates::default(),
            changes: crate::cluster::changes::Changes::new(self.live.clone(), self.pushes.clone()),
            cores: crate::cluster::peers::Cores::default(),
            core_id: moolai_proto::CoreId::parse("core-test").expect("a core id"),
            shutdown: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// The whole API router over [`Rig::app_state`], with no dashboard built.
    pub async fn router(&self) -> axum::Router {
        crate::api::router(
            self.app_state().await,
            &[],
            std::path::Path::new("/nonexistent-dashboard"),
        )
    }
}
