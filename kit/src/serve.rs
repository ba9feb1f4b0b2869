//! The HTTP server loop every role with a public port uses (edge, core).
//!
//! `axum::serve` (0.8) sets no header-read timeout, so a client that never finishes
//! its request headers (slowloris) would hold a socket forever; here hyper gets one.
//! It also terminates TLS (rustls) when given a certificate, gives handlers the
//! peer address (`ConnectInfo<SocketAddr>`), and slows down on accept errors (e.g.
//! out of file descriptors) instead of spinning.
//!
//! Slow clients are bounded at every step: the TLS handshake and the headers by
//! `header_timeout` (hyper's timer also closes a keep-alive connection idle for
//! that long), the request body by `body_timeout` (a deadline for the whole body,
//! not per chunk, so a byte every 2 s does not keep it alive), and the number of
//! connections still speaking HTTP in total and per peer address. At the total
//! cap a new connection is not refused while another waits for its request
//! headers (new, or idle between requests): the oldest such one is shed for it,
//! and under pressure new connections get a shorter header deadline, so idle
//! sockets from a few addresses cannot take every place (issue 33, F5). Only HTTP/1.1
//! is served: hyper's `auto` builder would also take HTTP/2 in cleartext (h2c,
//! prior knowledge), whose streams and flow-control windows none of these bounds
//! cover, and nothing here needs it (WebSockets upgrade over HTTP/1.1).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::timeout::RequestBodyDeadlineLayer;
use tower_service::Service;

/// How long plain HTTP connections may take to finish after shutdown begins.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Past this share of the total cap (in quarters), a new connection gets
/// [`pressed_deadline`] for its headers instead of the full header timeout.
const PRESSURE_QUARTERS: usize = 3;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {0}")]
    Certificate(PathBuf, #[source] pem::Error),
    #[error("cannot read the private key {0}")]
    Key(PathBuf, #[source] pem::Error),
    /// Only a certificate (the path) was given.
    #[error("cannot read the private key {0}: no key file given")]
    NoKey(PathBuf),
    /// Only a key (the path) was given.
    #[error("cannot read the certificate chain {0}: no certificate file given")]
    NoCertificate(PathBuf),
    #[error("{0} has no certificate")]
    Empty(PathBuf),
    #[error("certificate and key do not make a TLS configuration")]
    Config(#[source] tokio_rustls::rustls::Error),
}

/// A TLS acceptor from a PEM certificate chain and private key. HTTP/1.1 only:
/// WebSockets upgrade over it, and nothing here needs HTTP/2.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate(cert.to_owned(), e))?;
    if chain.is_empty() {
        return Err(TlsError::Empty(cert.to_owned()));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key(key.to_owned(), e))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The acceptor for an optional `--tls-cert`/`--tls-key` pair; both or neither.
pub fn optional_tls(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<TlsAcceptor>, TlsError> {
    match (cert, key) {
        (Some(cert), Some(key)) => tls_acceptor(cert, key).map(Some),
        (None, None) => Ok(None),
        (Some(cert), None) => Err(TlsError::NoKey(cert.to_owned())),
        (None, Some(key)) => Err(TlsError::NoCertificate(key.to_owned())),
    }
}

/// How [`serve`] treats each connection.
#[derive(Clone)]
pub struct ServeOptions {
    /// Time a client has to finish its TLS handshake and then its request headers
    /// (and the most a kept-alive connection may sit idle between requests).
    pub header_timeout: Duration,
    /// Time a client has to send a request's whole body, from its headers on.
    pub body_timeout: Duration,
    /// Connections still speaking HTTP, all peers together; more are closed at
    /// once. A socket upgraded to a WebSocket no longer counts here (the edge
    /// bounds those itself). 0: no limit.
    pub max_connections: usize,
    /// The same, per peer IP address. 0: no limit.
    pub max_connections_per_address: usize,
    pub tls: Option<TlsAcceptor>,
}

/// Serves `app` until `shutdown`. Upgraded WebSockets live on in their own tasks
/// (the caller tracks them); plain requests get [`HTTP_SHUTDOWN_GRACE`] to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    options: ServeOptions,
) {
    // A deadline for the whole body (tower-http's `DeadlineBody`): its
    // per-chunk sibling (`RequestBodyTimeoutLayer`) restarts at every byte.
    let app = app.layer(RequestBodyDeadlineLayer::new(options.body_timeout));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new());
    let caps = Caps::new(options.max_connections, options.max_connections_per_address);
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Over a cap: closed before a byte is read, so a flood costs no task.
        let Some(admitted) = caps.admit(peer.ip()) else {
            continue;
        };
        let header_timeout = match admitted.pressed {
            true => pressed_deadline(options.header_timeout),
            false => options.header_timeout,
        };
        let mut builder = builder.clone();
        builder.header_read_timeout(header_timeout);
        let conn = Conn {
            builder,
            closing: closing.clone(),
            app: app.clone(),
            peer,
            accepted_at: Instant::now(),
            place: Arc::new(admitted),
        };
        connections.spawn(conn.run(stream, options.tls.clone(), header_timeout));
    }
    connections.close();
    closing.cancel();
    let _ = tokio::time::timeout(HTTP_SHUTDOWN_GRACE, connections.wait()).await;
}

/// The header deadline of a connection accepted under pressure: a fifth of
/// the usual, at least a second (enough for any client on a working network).
fn pressed_deadline(header_timeout: Duration) -> Duration {
    (header_timeout / 5)
        .max(Duration::from_secs(1))
        .min(header_timeout)
}

/// When the connection carrying a request was accepted: a request extension,
/// so that a handler can tell how long the connection waited for it (the
/// edge's handshake figures).
#[derive(Debug, Clone, Copy)]
pub struct AcceptedAt(pub std::time::Instant);

/// One accepted connection.
struct Conn {
    builder: http1::Builder,
    /// Cancelled at shutdown: the connection finishes its request and closes.
    closing: CancellationToken,
    app: Router,
    peer: SocketAddr,
    accepted_at: Instant,
    /// Held while the connection speaks HTTP; the last clone dropped frees its
    /// place.
    place: Arc<Admitted>,
}

impl Conn {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>, header_timeout: Duration) {
        let Some(tls) = tls else {
            return self.http(stream).await;
        };
        // The TLS handshake counts against the header timeout: a client that
        // stalls in it is a slowloris too.
        let handshake = tokio::time::timeout(header_timeout, tls.accept(stream));
        let shed = self.place.shed.clone();
        let handshake = tokio::select! {
            done = handshake => done,
            _ = shed.cancelled() => return,
        };
        match handshake {
            Ok(Ok(stream)) => self.http(stream).await,
            Ok(Err(err)) => tracing::debug!(%err, peer = %self.peer, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn http<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (app, peer, accepted_at) = (self.app, self.peer, AcceptedAt(self.accepted_at));
        let place = self.place.clone();
        let shed = place.shed.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(accepted_at);
            let busy = Busy::start(place.clone());
            let answer = app.clone().call(req);
            async move { Ok::<_, std::convert::Infallible>(busy.until_sent(answer.await?)) }
        });
        let conn = self
            .builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(conn);
        // Errors here are a client going away mid-request or timing out.
        tokio::select! {
            _ = conn.as_mut() => {}
            // Dropped mid-wait for headers: nothing of a request is lost.
            _ = shed.cancelled() => {}
            _ = self.closing.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
}

/// A request being answered on a connection: until its response is sent, the
/// connection is not waiting for headers and may not be shed.
struct Busy(Arc<Admitted>);

impl Busy {
    fn start(place: Arc<Admitted>) -> Self {
        place.set_waiting(false);
        Self(place)
    }

    /// The response, holding this until hyper has sent (or dropped) its body:
    /// an event stream stays busy for as long as it streams.
    fn until_sent(self, response: axum::response::Response) -> axum::response::Response {
        response.map(|body| {
            axum::body::Body::new(body.map_frame(move |frame| {
                let _held = &self;
                frame
            }))
        })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.set_waiting(true);
    }
}

/// The connection caps: a count in total and per address, and which
/// connections wait for request headers (the ones that may be shed).
struct Caps {
    places: Arc<Mutex<Places>>,
    max_total: usize,
    max_per_address: usize,
}

#[derive(Default)]
struct Places {
    per_address: HashMap<IpAddr, usize>,
    conns: HashMap<u64, Place>,
    /// Connections told to close that have not gone yet: they no longer
    /// count against the total.
    shedding: usize,
    next_id: u64,
}

struct Place {
    /// Since when it waits for a request's headers; `None` while answering one.
    waiting_since: Option<Instant>,
    shed: CancellationToken,
}

impl Places {
    fn live(&self) -> usize {
        self.conns.len() - self.shedding
    }

    /// Tells the connection waiting longest for its headers to close; false
    /// when every connection is answering a request.
    fn shed_oldest(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .filter_map(|(id, p)| Some((p.waiting_since?, *id)))
            .min();
        let Some((_, id)) = oldest else {
            return false;
        };
        if let Some(place) = self.conns.get_mut(&id) {
            place.waiting_since = None;
            place.shed.cancel();
        }
        self.shedding += 1;
        metrics::counter!("moolai_http_connections_shed_total").increment(1);
        true
    }
}

impl Caps {
    /// 0 means no limit, for either cap.
    fn new(max_total: usize, max_per_address: usize) -> Self {
        let unlimited = |max: usize| if max == 0 { usize::MAX } else { max };
        Self {
            places: Arc::default(),
            max_total: unlimited(max_total),
            max_per_address: unlimited(max_per_address),
        }
    }

    /// A place for one more connection from `ip` (IPv6: its /64): refused when
    /// its address holds its share, or when the total is reached and no
    /// connection waiting for headers can be shed for it.
    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let key = crate::address::client_key(ip);
        let mut places = lock(&self.places);
        if places.per_address.get(&key).copied().unwrap_or(0) >= self.max_per_address {
            drop(places);
            refused("per_address", ip);
            return None;
        }
        if places.live() >= self.max_total && !places.shed_oldest() {
            drop(places);
            refused("total", ip);
            return None;
        }
        let pressed = places.live() + 1 > self.max_total / 4 * PRESSURE_QUARTERS;
        let (id, shed) = (places.next_id, CancellationToken::new());
        places.next_id += 1;
        let place = Place {
            waiting_since: Some(Instant::now()),
            shed: shed.clone(),
        };
        places.conns.insert(id, place);
        *places.per_address.entry(key).or_insert(0) += 1;
        Some(Admitted {
            places: self.places.clone(),
            id,
            key,
            shed,
            pressed,
        })
    }
}

fn refused(cap: &'static str, ip: IpAddr) {
    metrics::counter!("moolai_http_connections_refused_total", "cap" => cap).increment(1);
    tracing::debug!(cap, %ip, "connection over the cap closed");
}

/// The counts stay right even if a holder panicked: each update is one step.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One admitted connection's place under both caps.
struct Admitted {
    places: Arc<Mutex<Places>>,
    id: u64,
    key: IpAddr,
    /// Cancelled when the connection is shed for a newer one.
    shed: CancellationToken,
    /// Admitted with most places taken: its header deadline is shorter.
    pressed: bool,
}

impl Admitted {
    /// Marks the connection as waiting for headers (sheddable) or answering.
    fn set_waiting(&self, waiting: bool) {
        let mut places = lock(&self.places);
        if let Some(place) = places.conns.get_mut(&self.id) {
            if !place.shed.is_cancelled() {
                place.waiting_since = waiting.then(Instant::now);
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut places = lock(&self.places);
        if let Some(place) = places.conns.remove(&self.id) {
            if place.shed.is_cancelled() {
                places.shedding -= 1;
            }
        }
        if let Some(count) = places.per_address.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                places.per_address.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Admitted and answering a request: not sheddable.
    fn answering(caps: &Caps, from: IpAddr) -> Admitted {
        let place = caps.admit(from).expect("admitted");
        place.set_waiting(false);
        place
    }

    #[test]
    fn caps_count_per_address_and_in_total_and_free_on_drop() {
        let caps = Caps::new(3, 2);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let a1 = answering(&caps, a);
        let _a2 = answering(&caps, a);
        assert!(caps.admit(a).is_none(), "third from a is over its cap");
        let _b1 = answering(&caps, b);
        assert!(caps.admit(b).is_none(), "fourth in all, none to shed");
        drop(a1);
        assert!(caps.admit(a).is_some(), "a's place was freed");
        assert!(lock(&caps.places).per_address.len() <= 2);
    }

    #[test]
    fn at_the_total_the_oldest_connection_waiting_for_headers_is_shed() {
        let caps = Caps::new(3, 3);
        let oldest = caps.admit(ip("10.0.0.1")).unwrap();
        let _busy = answering(&caps, ip("10.0.0.2"));
        let newer = caps.admit(ip("10.0.0.3")).unwrap();
        let newest = caps
            .admit(ip("10.0.0.4"))
            .expect("a waiting one is shed for it");
        assert!(oldest.shed.is_cancelled(), "the oldest waiting one goes");
        assert!(!newer.shed.is_cancelled() && !newest.shed.is_cancelled());
        let fifth = caps.admit(ip("10.0.0.5"));
        assert!(fifth.is_some(), "then the next oldest");
        assert!(newer.shed.is_cancelled());
        drop((oldest, newer));
        assert_eq!(lock(&caps.places).shedding, 0);
        assert_eq!(lock(&caps.places).conns.len(), 3);
    }

    #[test]
    fn a_connection_answering_is_not_shed_and_is_again_once_idle() {
        let caps = Caps::new(1, 1);
        let first = answering(&caps, ip("10.0.0.1"));
        assert!(caps.admit(ip("10.0.0.2")).is_none(), "nothing to shed");
        first.set_waiting(true);
        assert!(caps.admit(ip("10.0.0.2")).is_some(), "idle again: shed");
        assert!(first.shed.is_cancelled());
    }

    #[test]
    fn past_three_quarters_of_the_total_connections_are_pressed() {
        let caps = Caps::new(8, 8);
        let held: Vec<_> = (0..6)
            .map(|_| caps.admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert!(held.iter().all(|p| !p.pressed));
        assert!(caps.admit(ip("10.0.0.1")).unwrap().pressed);
        assert_eq!(
            pressed_deadline(Duration::from_secs(10)),
            Duration::from_secs(2)
        );
        assert_eq!(
            pressed_deadline(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
        assert_eq!(
            pressed_deadline(Duration::from_millis(500)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn an_ipv6_64_shares_one_per_address_cap() {
        let caps = Caps::new(10, 1);
        let _first = caps.admit(ip("2001:db8:0:1::1")).unwrap();
        assert!(caps.admit(ip("2001:db8:0:1::2")).is_none());
        assert!(caps.admit(ip("2001:db8:0:2::1")).is_some());
    }

    #[test]
    fn zero_means_no_limit() {
        let caps = Caps::new(0, 0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| caps.admit(ip)).collect();
        assert!(held.iter().all(Option::is_some));
    }
}
