//! Fault injection on loopback: a TCP proxy that can be cut, and a private
//! nats-server that can be killed and restarted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// Forwards connections to `upstream` until cut; while cut, open connections are
/// dropped and new ones are closed at once (as a dead server would).
pub struct TcpProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<std::sync::Mutex<CancellationToken>>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(std::sync::Mutex::new(CancellationToken::new()));
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let cut = gen2.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Self {
            addr,
            up,
            generation,
        }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut g = self.generation.lock().unwrap();
        g.cancel();
        *g = CancellationToken::new();
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A nats-server of our own (`NATS_SERVER_BIN`, set by scripts/test.sh), on a fixed
/// loopback port so it can be restarted where clients expect it.
pub struct NatsServer {
    pub port: u16,
    store: PathBuf,
    child: Option<Child>,
    conf: PathBuf,
    env: Vec<(String, String)>,
}

impl NatsServer {
    /// `None` when no nats-server binary was provided.
    pub async fn start() -> Option<Self> {
        Self::start_with(crate::repo_file("nats.conf"), Vec::new()).await
    }

    /// With another configuration file, and `env` beside the roles' passwords
    /// (for the variables it reads).
    pub async fn start_with(conf: PathBuf, env: Vec<(String, String)>) -> Option<Self> {
        let bin = std::env::var("NATS_SERVER_BIN").ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store =
            std::env::temp_dir().join(format!("moolai-nats-{}", uuid::Uuid::new_v4().simple()));
        let mut server = Self {
            port,
            store,
            child: None,
            conf,
            env,
        };
        server.child = Some(server.spawn(&bin).await);
        Some(server)
    }

    async fn spawn(&self, bin: &str) -> Child {
        // The shipped nats.conf unless told otherwise, so the roles log in as
        // they do in production.
        let child = Command::new(bin)
            .arg("-c")
            .arg(&self.conf)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.store)
            .envs(crate::nats_server_env())
            .envs(self.env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nats-server");
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not open port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts again on the same port and store.
    pub async fn restart(&mut self) {
        let bin = std::env::var("NATS_SERVER_BIN").expect("NATS_SERVER_BIN");
        self.child = Some(self.spawn(&bin).await);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// A 3-node (or n-node) NATS cluster with JetStream on loopback, for tests that
/// kill a node. Nodes are started from `NATS_SERVER_BIN` with generated configs.
pub struct NatsCluster {
    pub ports: Vec<u16>,
    /// Monitoring (HTTP) port of each node.
    pub monitor: Vec<u16>,
    dir: PathBuf,
    children: Vec<Option<Child>>,
}

impl NatsCluster {
    /// `None` when no nats-server binary was provided.
    pub async fn start(nodes: usize) -> Option<Self> {
        let bin = std::env::var("NATS_SERVER_BIN").ok()?;
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let ports: Vec<u16> = (0..nodes).map(|_| free()).collect();
        let routes: Vec<u16> = (0..nodes).map(|_| free()).collect();
        let monitor: Vec<u16> = (0..nodes).map(|_| free()).collect();
        let dir =
            std::env::temp_dir().join(format!("moolai-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        // The shipped users and permissions; nats-server resolves an include
        // relative to the including file, so the file sits beside the configs.
        std::fs::copy(
            crate::repo_file("nats-auth.conf"),
            dir.join("nats-auth.conf"),
        )
        .unwrap();
        let route_list: Vec<String> = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect();
        let mut children = Vec::new();
        for i in 0..nodes {
            let conf = dir.join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\nhttp: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: moolai-test, listen: 127.0.0.1:{}, routes: [{}] }}\n\
                     include nats-auth.conf\n",
                    ports[i],
                    monitor[i],
                    dir.join(format!("store{i}")).display(),
                    routes[i],
                    route_list.join(", "),
                ),
            )
            .unwrap();
            let child = Command::new(&bin)
                .arg("-c")
                .arg(&conf)
                .envs(crate::nats_server_env())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start nats-server");
            children.push(Some(child));
        }
        for port in &ports {
            for _ in 0..100 {
                if TcpStream::connect(("127.0.0.1", *port)).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Some(Self {
            ports,
            monitor,
            dir,
            children,
        })
    }

    /// Every node's URL, comma-separated, as clients are configured.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until the cluster accepts a replicated stream (its meta leader elected).
    pub async fn wait_ready(&self, replicas: usize) {
        let nats = moolai_kit::flags::NatsConfig::anonymous(self.url())
            .with_user("core", &crate::nats_password("core"));
        let client = moolai_kit::bus::connect(&nats, "cluster-probe")
            .await
            .expect("connect to the cluster");
        let js = async_nats::jetstream::new(client);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            let config = async_nats::jetstream::stream::Config {
                name: "cluster_probe".into(),
                subjects: vec!["cluster.probe".into()],
                num_replicas: replicas,
                ..Default::default()
            };
            // Kept: core's user may create streams but not delete them.
            if js.get_or_create_stream(config).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the NATS cluster never accepted a replicated stream");
    }

    /// The node holding a client connection whose name contains `name`.
    pub async fn node_of(&self, name: &str) -> Option<usize> {
        for (i, port) in self.monitor.iter().enumerate() {
            if self.children[i].is_none() {
                continue;
            }
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
            if let Ok((200, body)) = crate::http::get(addr, "/connz?limit=1024").await {
                if body.contains(name) {
                    return Some(i);
                }
            }
        }
        None
    }

    /// SIGKILL node `i`.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill().await;
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
