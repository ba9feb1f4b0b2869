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
//! connections still speaking HTTP in total and per peer address. Only HTTP/1.1
//! is served: hyper's `auto` builder would also take HTTP/2 in cleartext (h2c,
//! prior knowledge), whose streams and flow-control windows none of these bounds
//! cover, and nothing here needs it (WebSockets upgrade over HTTP/1.1).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {0}: {1}")]
    Certificate(PathBuf, #[source] pem::Error),
    #[error("cannot read the private key {0}: {1}")]
    Key(PathBuf, #[source] pem::Error),
    /// Only a certificate (the path) was given.
    #[error("cannot read the private key {0}: no key file given")]
    NoKey(PathBuf),
    /// Only a key (the path) was given.
    #[error("cannot read the certificate chain {0}: no certificate file given")]
    NoCertificate(PathBuf),
    #[error("{0} has no certificate")]
    Empty(PathBuf),
    #[error("certificate and key do not make a TLS configuration: {0}")]
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
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
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
        let conn = Conn {
            builder: builder.clone(),
            closing: closing.clone(),
            app: app.clone(),
            peer,
            accepted_at: std::time::Instant::now(),
            _admitted: admitted,
        };
        connections.spawn(conn.run(stream, options.tls.clone(), options.header_timeout));
    }
    connections.close();
    closing.cancel();
    let _ = tokio::time::timeout(HTTP_SHUTDOWN_GRACE, connections.wait()).await;
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
    accepted_at: std::time::Instant,
    /// Held while the connection speaks HTTP; dropping it frees its place.
    _admitted: Admitted,
}

impl Conn {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>, header_timeout: Duration) {
        let Some(tls) = tls else {
            return self.http(stream).await;
        };
        // The TLS handshake counts against the header timeout: a client that
        // stalls in it is a slowloris too.
        match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
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
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(accepted_at);
            app.clone().call(req)
        });
        let conn = self
            .builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(conn);
        // Errors here are a client going away mid-request or timing out.
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = self.closing.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
}

/// The connection caps: a semaphore for the total, a count per address.
struct Caps {
    total: Arc<Semaphore>,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_address: usize,
}

impl Caps {
    /// 0 means no limit, for either cap.
    fn new(max_total: usize, max_per_address: usize) -> Self {
        let unlimited = |max: usize| if max == 0 { usize::MAX } else { max };
        Self {
            total: Arc::new(Semaphore::new(
                unlimited(max_total).min(Semaphore::MAX_PERMITS),
            )),
            per_address: Arc::default(),
            max_per_address: unlimited(max_per_address),
        }
    }

    /// A place for one more connection from `ip`, if both caps allow it.
    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let Ok(permit) = self.total.clone().try_acquire_owned() else {
            refused("total", ip);
            return None;
        };
        let mut counts = lock(&self.per_address);
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max_per_address {
            drop(counts);
            refused("per_address", ip);
            return None;
        }
        *count += 1;
        Some(Admitted {
            _permit: permit,
            per_address: self.per_address.clone(),
            ip,
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
    _permit: OwnedSemaphorePermit,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = lock(&self.per_address);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_per_address_and_in_total_and_free_on_drop() {
        let caps = Caps::new(3, 2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = caps.admit(a).expect("first from a");
        let _a2 = caps.admit(a).expect("second from a");
        assert!(caps.admit(a).is_none(), "third from a is over its cap");
        let _b1 = caps.admit(b).expect("first from b");
        assert!(caps.admit(b).is_none(), "fourth in all is over the total");
        drop(a1);
        assert!(caps.admit(a).is_some(), "a's place was freed");
        assert!(lock(&caps.per_address).len() <= 2);
    }

    #[test]
    fn zero_means_no_limit() {
        let caps = Caps::new(0, 0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| caps.admit(ip)).collect();
        assert!(held.iter().all(Option::is_some));
    }
}
