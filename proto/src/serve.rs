//! The HTTP server loop every role with a public port uses (edge, core).
//!
//! `axum::serve` (0.8) sets no header-read timeout, so a client that never finishes
//! its request headers (slowloris) would hold a socket forever; here hyper gets one.
//! It also terminates TLS (rustls) when given a certificate, gives handlers the
//! peer address (`ConnectInfo<SocketAddr>`), and slows down on accept errors (e.g.
//! out of file descriptors) instead of spinning.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

/// How long plain HTTP connections may take to finish after shutdown begins.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {0}: {1}")]
    Certificate(PathBuf, String),
    #[error("cannot read the private key {0}: {1}")]
    Key(PathBuf, String),
    #[error("{0} has no certificate")]
    Empty(PathBuf),
    #[error("certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

/// A TLS acceptor from a PEM certificate chain and private key. HTTP/1.1 only:
/// WebSockets upgrade over it, and nothing here needs HTTP/2.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate(cert.to_owned(), e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Empty(cert.to_owned()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key(key.to_owned(), e.to_string()))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError::Config(e.to_string()))?;
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
        (Some(cert), None) => Err(TlsError::Key(cert.to_owned(), "no key file given".into())),
        (None, Some(key)) => Err(TlsError::Certificate(
            key.to_owned(),
            "no certificate file given".into(),
        )),
    }
}

/// How [`serve`] treats each connection.
#[derive(Clone)]
pub struct ServeOptions {
    /// Time a client has to finish its TLS handshake and then its request headers.
    pub header_timeout: Duration,
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
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
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
        let conn = Conn {
            builder: builder.clone(),
            watcher: graceful.watcher(),
            app: app.clone(),
            peer,
        };
        let options = options.clone();
        tokio::spawn(conn.run(stream, options));
    }
    let _ = tokio::time::timeout(HTTP_SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// One accepted connection.
struct Conn {
    builder: auto::Builder<TokioExecutor>,
    watcher: Watcher,
    app: Router,
    peer: SocketAddr,
}

impl Conn {
    async fn run(self, stream: TcpStream, options: ServeOptions) {
        let Some(tls) = options.tls else {
            return self.http(stream).await;
        };
        // The TLS handshake counts against the header timeout: a client that
        // stalls in it is a slowloris too.
        match tokio::time::timeout(options.header_timeout, tls.accept(stream)).await {
            Ok(Ok(stream)) => self.http(stream).await,
            Ok(Err(err)) => tracing::debug!(%err, peer = %self.peer, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn http<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (app, peer) = (self.app, self.peer);
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(req)
        });
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        // Errors here are a client going away mid-request or timing out.
        let _ = self.watcher.watch(conn.into_owned()).await;
    }
}
