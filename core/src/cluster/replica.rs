//! This core replica among the others: its id, its duty lease, its presence,
//! and the singleton duties it runs whenever it takes the lease (publishing
//! token generations, the first admin; the liveness sweep checks the lease on
//! each tick itself).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use moolai_kit::health::{self, ReadinessCheck};
use moolai_proto::{CoreId, Subjects};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::login_guard::LoginGuard;
use crate::auth::orchestrator_tokens::Tokens;
use crate::auth::passwords::Passwords;
use crate::cluster::changes::Changes;
use crate::cluster::duties::{self, Duties};
use crate::cluster::peers::{self, Cores};
use crate::cluster::told;
use crate::fleet::activity::Feed;
use crate::fleet::live::Live;
use crate::persister_client::Persister;
use crate::push::ordered::Pushes;
use crate::{Config, StartError};

/// What the replica's duties and sharing act on: the handles of core's state
/// that are not HTTP's (the API's `AppState` hands them over).
#[derive(Clone)]
pub struct Shared {
    pub pool: PgPool,
    pub persister: Persister,
    pub passwords: Passwords,
    pub tokens: Option<Tokens>,
    pub feed: Feed,
    pub guard: LoginGuard,
    pub changes: Changes,
    pub live: Live,
    pub pushes: Pushes,
}

/// How long a replica may go without an answer from NATS and still call
/// itself ready: a silent network cut is told within this, and a load balancer
/// stops sending it requests it could not act on.
const BUS_SILENT_FOR: Duration = Duration::from_secs(5);

/// This replica.
pub struct Replica {
    pub id: CoreId,
    pub duties: Duties,
    pub cores: Cores,
    store: kv::Store,
    address: String,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Replica {
    /// Names this replica and opens the lease bucket.
    pub async fn start(
        config: &Config,
        js: &jetstream::Context,
        subjects: &Subjects,
        listener: &TcpListener,
    ) -> Result<Self, StartError> {
        let id = config.core_id.clone().unwrap_or_else(made_up_id);
        let store = duties::bucket(js, subjects, config.service.stream_replicas)
            .await
            .map_err(StartError::JetStream)?;
        tracing::info!(core_id = %id, "core replica starting");
        Ok(Self {
            duties: Duties::new(id.to_string()),
            id,
            cores: Cores::default(),
            store,
            address: listener.local_addr()?.to_string(),
            started_at: chrono::Utc::now(),
        })
    }

    /// Takes the lease now if it is free (so a fresh stack has its first
    /// admin before it answers), then keeps the lease, the presence and the
    /// duties going in the background.
    pub async fn spawn(
        &self,
        config: &Config,
        tasks: &TaskTracker,
        state: &Shared,
        nats: &async_nats::Client,
        subjects: &Subjects,
        shutdown: &CancellationToken,
    ) {
        let singletons = Singletons::new(config, state);
        duties::attempt(&self.duties, &self.store).await;
        let first = self.duties.held().is_some();
        if first {
            singletons.run_bounded(tasks, shutdown).await;
        }
        tasks.spawn(duties::run(
            self.duties.clone(),
            self.store.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(singletons.on_every_takeover(self.duties.clone(), first, shutdown.clone()));
        self.spawn_presence(tasks, state, nats, subjects, shutdown);
        self.spawn_sharing(tasks, state, nats, subjects, shutdown);
    }

    /// What this replica learns and tells the others: activity, login
    /// counts and changes.
    fn spawn_sharing(
        &self,
        tasks: &TaskTracker,
        state: &Shared,
        nats: &async_nats::Client,
        subjects: &Subjects,
        shutdown: &CancellationToken,
    ) {
        let link = told::Link {
            me: &self.id,
            nats,
            tasks,
            shutdown,
        };
        let feed = state.feed.clone();
        told::both_ways(
            &link,
            "activity from other replicas",
            subjects.core_activity(),
            |outbox| state.feed.share(outbox),
            move |activity| feed.keep_told(activity),
        );
        let guard = state.guard.clone();
        told::both_ways(
            &link,
            "login counts from other replicas",
            subjects.core_logins(),
            |outbox| state.guard.share(outbox),
            move |event| guard.apply(event),
        );
        let changes = state.changes.clone();
        told::both_ways(
            &link,
            "changes from other replicas",
            subjects.core_state(),
            |outbox| state.changes.share(outbox),
            move |change| changes.apply(&change),
        );
        let resync = crate::cluster::changes::resync(
            state.live.clone(),
            state.pushes.clone(),
            state.pool.clone(),
            shutdown.clone(),
        );
        tasks.spawn(resync);
    }

    fn spawn_presence(
        &self,
        tasks: &TaskTracker,
        state: &Shared,
        nats: &async_nats::Client,
        subjects: &Subjects,
        shutdown: &CancellationToken,
    ) {
        let (bus, duties) = (nats.clone(), self.duties.clone());
        let me = peers::Me {
            id: self.id.clone(),
            address: self.address.clone(),
            started_at: self.started_at,
            duties: self.duties.clone(),
            live: state.live.clone(),
            ready: Arc::new(move || bus_ready(&bus, &duties)),
        };
        tasks.spawn(peers::announce(
            me,
            nats.clone(),
            subjects.clone(),
            self.cores.clone(),
            shutdown.clone(),
        ));
        let listen = peers::listen(
            nats.clone(),
            subjects.clone(),
            self.id.clone(),
            self.cores.clone(),
            shutdown.clone(),
        );
        tasks.spawn(crate::log_exit("core presence", listen));
    }
}

fn made_up_id() -> CoreId {
    let suffix: u32 = rand::random();
    CoreId::parse(format!("core-{suffix:08x}")).expect("a valid id")
}

/// Connected to NATS and answered by it recently.
fn bus_ready(nats: &async_nats::Client, duties: &Duties) -> bool {
    health::nats_ready(nats).is_ok() && duties.bus_answered_within(BUS_SILENT_FOR)
}

/// `/readyz`: NATS connected and answering (see [`BUS_SILENT_FOR`]), and the
/// database answering.
pub fn readiness(nats: &async_nats::Client, pool: &PgPool, duties: &Duties) -> ReadinessCheck {
    let with_db = health::nats_and_db(nats.clone(), pool.clone());
    let (nats, duties) = (nats.clone(), duties.clone());
    Arc::new(move || {
        let (with_db, nats, duties) = (with_db.clone(), nats.clone(), duties.clone());
        Box::pin(async move {
            if !bus_ready(&nats, &duties) {
                return Err(format!(
                    "nats: no answer within {} s",
                    BUS_SILENT_FOR.as_secs()
                ));
            }
            with_db().await
        })
    })
}

/// The duties run once per lease taken.
#[derive(Clone)]
struct Singletons {
    state: Shared,
    admin_username: String,
    admin_password: Option<String>,
}

impl Singletons {
    fn new(config: &Config, state: &Shared) -> Self {
        Self {
            state: state.clone(),
            admin_username: config.admin_username.clone(),
            admin_password: config
                .admin_password
                .as_ref()
                .map(|p| p.expose().to_owned()),
        }
    }

    async fn run(self) {
        if let Some(tokens) = &self.state.tokens {
            match crate::auth::orchestrator_tokens::sync(&self.state.pool, &tokens.kv).await {
                Ok(n) => tracing::info!(orchestrators = n, "token generations published"),
                Err(err) => tracing::warn!(%err, "token generations not synced from the database"),
            }
        }
        crate::auth::passwords::bootstrap_admin(
            self.state.pool.clone(),
            self.state.persister.clone(),
            self.state.passwords.clone(),
            self.admin_username,
            self.admin_password,
        )
        .await;
    }

    /// Runs the duties, waiting a little so a fresh stack accepts its admin's
    /// first login; if the persister is not up yet, finishes in the background.
    async fn run_bounded(&self, tasks: &TaskTracker, shutdown: &CancellationToken) {
        let mut run = Box::pin(self.clone().run());
        if tokio::time::timeout(Duration::from_secs(10), &mut run)
            .await
            .is_err()
        {
            tracing::warn!("first admin not created yet (persister unavailable?); still trying");
            tasks.spawn(crate::until_cancelled(run, shutdown.clone()));
        }
    }

    /// Runs the duties each time this replica takes the lease after `first`.
    async fn on_every_takeover(self, duties: Duties, first: bool, shutdown: CancellationToken) {
        let mut changes = duties.subscribe();
        let mut held = first;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
            }
            let now = *changes.borrow_and_update();
            if now && !held {
                crate::until_cancelled(self.clone().run(), shutdown.clone()).await;
            }
            held = now;
        }
    }
}
