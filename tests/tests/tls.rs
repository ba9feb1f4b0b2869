//! TLS: edges and core serve it (rustls) when given a certificate, and the agent
//! connects with `wss://`, trusting a private CA given as a file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use moolai_agent::{Orchestrator, Stats};
use moolai_tests::{launch, start_persister, wait_until, TestEnv};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// A self-signed certificate for `localhost`, written as PEM files.
struct Certificate {
    cert: PathBuf,
    key: PathBuf,
}

impl Certificate {
    fn for_localhost(tag: &str) -> Self {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = std::env::temp_dir().join(format!("moolai-tls-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        Self { cert, key }
    }
}

/// The status code of `GET path` over TLS, trusting `trust`.
async fn https_status(port: u16, path: &str, trust: Arc<rustls::ClientConfig>) -> Option<u16> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(trust)
        .connect(name, tcp)
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    tls.read_exact(&mut head).await.ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

async fn wait_https_ready(port: u16, trust: &Arc<rustls::ClientConfig>) {
    wait_until(Duration::from_secs(20), || {
        let trust = trust.clone();
        async move { https_status(port, "/readyz", trust).await == Some(200) }
    })
    .await
    .expect("never ready over TLS");
}

#[tokio::test]
async fn core_and_edges_serve_tls_and_the_agent_connects_with_wss() {
    let env = TestEnv::new().await;
    let certificate = Certificate::for_localhost(&env.prefix);
    let trust = moolai_agent::tls::trusting(&certificate.cert).expect("CA file loads");
    let _persister = start_persister(env.persister_config()).await;
    let mut core_config = env.core_config();
    core_config.tls.cert = Some(certificate.cert.clone());
    core_config.tls.key = Some(certificate.key.clone());
    let core = launch(|l, s| moolai_core::run(core_config, l, s)).await;
    let mut edge_config = env.edge_config("edge-tls");
    edge_config.tls.cert = Some(certificate.cert.clone());
    edge_config.tls.key = Some(certificate.key.clone());
    let edge = launch(|l, s| moolai_edge::run(edge_config, l, s)).await;
    wait_https_ready(core.addr.port(), &trust).await;
    wait_https_ready(edge.addr.port(), &trust).await;

    let shutdown = CancellationToken::new();
    let agent = |id: &str, url: String, tls| Orchestrator {
        tls,
        ..Orchestrator::new(
            id,
            vec![url],
            Duration::from_millis(500),
            "TLS agent",
            "lab",
        )
    };
    let wss = format!("wss://localhost:{}/ws", edge.addr.port());
    let trusted = moolai_agent::spawn(
        agent("tls-agent", wss.clone(), Some(trust.clone())),
        Stats::default(),
        shutdown.clone(),
    );
    // One that does not know our CA, and one speaking plain ws:// to a TLS port.
    let untrusting = Stats::default();
    moolai_agent::spawn(
        agent("no-trust", wss, None),
        untrusting.clone(),
        shutdown.clone(),
    );
    let plain = Stats::default();
    let ws = format!("ws://localhost:{}/ws", edge.addr.port());
    moolai_agent::spawn(agent("plain", ws, None), plain.clone(), shutdown.clone());

    let connected = wait_until(Duration::from_secs(10), || {
        let on = trusted.borrow().connected_to.is_some();
        async move { on }
    })
    .await;
    assert!(connected.is_some(), "the agent never connected over wss://");
    let active = wait_until(Duration::from_secs(10), || async {
        env.status("tls-agent").await.as_deref() == Some("active")
    })
    .await;
    assert!(
        active.is_some(),
        "the wss:// agent is not active in the database"
    );
    // Each of the other two has tried and failed at least once by the time
    // it counts an error: a success would have been counted first.
    let tried = wait_until(Duration::from_secs(10), || async {
        untrusting.snapshot().errors > 0 && plain.snapshot().errors > 0
    })
    .await;
    assert!(tried.is_some(), "the other agents never tried to connect");
    assert_eq!(
        untrusting.snapshot().connects,
        0,
        "an unknown certificate was trusted"
    );
    assert_eq!(
        plain.snapshot().connects,
        0,
        "plain ws:// was served on a TLS port"
    );
    // The REST API answers over https too (a token is needed: 401, not a TLS error).
    let status = https_status(core.addr.port(), "/api/v1/internal/messages", trust).await;
    assert_eq!(status, Some(401));
    shutdown.cancel();
}
