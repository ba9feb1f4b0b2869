//! Roles started in this process on port 0, and the usual stack of them.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{faults, http, wait_until, TestEnv};

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
    E: std::error::Error + Send + Sync + 'static,
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
    E: std::error::Error + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let fut = run(listener, shutdown.clone());
    let handle = tokio::spawn(async move {
        if let Err(err) = fut.await {
            panic!("role failed: {:#}", anyhow::Error::new(err));
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

/// Core, and with `MOOLAI_TEST_CORES=N` (N > 1) N - 1 more replicas with the
/// same settings, so that every test also runs against replicated core
/// (scripts/test.sh runs the suite so once). The test talks to the first; the
/// others share its work (heartbeat decisions, handshakes, duties) and stop
/// with it.
pub async fn start_core(config: moolai_core::Config) -> Running {
    let companions = test_cores().saturating_sub(1);
    let first = start_one_core(config.clone()).await;
    // Companions name themselves: replicas must not share a `CORE_ID`.
    let config = moolai_core::Config {
        core_id: None,
        ..config
    };
    for _ in 0..companions {
        let companion = start_one_core(config.clone()).await;
        let stop = first.shutdown.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            companion.stop().await;
        });
    }
    first
}

/// Exactly one core replica, whatever `MOOLAI_TEST_CORES` says: for tests
/// that lay out the replicas themselves.
pub async fn start_one_core(config: moolai_core::Config) -> Running {
    start(|l, s| moolai_core::run(config, l, s)).await
}

/// How many core replicas [`start_core`] starts (`MOOLAI_TEST_CORES`, default 1).
pub fn test_cores() -> usize {
    std::env::var("MOOLAI_TEST_CORES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .max(1)
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
            panic!("edge failed: {:#}", anyhow::Error::new(err));
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
