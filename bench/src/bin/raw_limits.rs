//! The physical limits our figures are compared with, measured on this box:
//!
//! (a) raw WebSocket upgrades per second: a bare tokio-tungstenite accept loop
//!     on loopback and concurrent clients each doing connect + upgrade + one
//!     text frame round trip + close — no NATS, no JSON, no registry;
//! (b) raw NATS publishes per second on the server at `NATS_URL`: core
//!     publishes to a subject nobody listens to, and JetStream publishes with
//!     their ack (file storage, as our events stream), `--js-inflight` in
//!     flight — what storing a handshake costs.
//!
//! With nats.conf's authorization it logs in as `edge` to publish and as `core`
//! to create its stream (`MOOLAI_NATS_EDGE_PASSWORD`, `MOOLAI_NATS_CORE_PASSWORD`
//! in the environment; without them it connects anonymously). Its subjects are
//! under `rawlimits.`, apart from any stack on the same server. Prints one
//! `name: N /s` line per figure (bench/harness.py reads them).

use std::future::IntoFuture;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use clap::Parser;
use futures::stream::FuturesUnordered;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4333")]
    nats_url: String,
    /// Seconds each WebSocket measurement runs.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Clients upgrading at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Core NATS publishes to send.
    #[arg(long, default_value_t = 1_000_000)]
    publishes: usize,
    /// JetStream publishes to send.
    #[arg(long, default_value_t = 100_000)]
    js_publishes: usize,
    /// JetStream acks awaited at once.
    #[arg(long, default_value_t = 512)]
    js_inflight: usize,
    /// Skip the NATS figures (only the WebSocket one).
    #[arg(long)]
    no_nats: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (rate, p99) = raw_upgrades(&args).await?;
    println!("raw_ws_upgrades: {rate:.0} /s (connect+upgrade+1 round trip+close, p99 {p99:.2} ms, {} clients)", args.concurrency);
    if args.no_nats {
        return Ok(());
    }
    let publisher = nats_login(&args.nats_url, "edge").await?;
    let rate = core_publishes(&publisher, args.publishes).await?;
    println!("raw_nats_publishes: {rate:.0} /s (core NATS, 100 B, no subscriber)");
    let creator = nats_login(&args.nats_url, "core").await?;
    let rate = js_publishes(&creator, &publisher, args.js_publishes, args.js_inflight).await?;
    println!(
        "raw_jetstream_publishes: {rate:.0} /s (file storage, acked, {} in flight)",
        args.js_inflight
    );
    Ok(())
}

/// Upgrades completed per second, and their p99 in ms.
async fn raw_upgrades(args: &Args) -> anyhow::Result<(f64, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        // The edge's buffer sizes, so the accept costs what ours does.
        let config = WebSocketConfig::default()
            .read_buffer_size(1024)
            .write_buffer_size(0);
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut ws) =
                    tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await
                else {
                    return;
                };
                // Echo text frames until the client's close (or an error).
                while let Some(Ok(msg)) = ws.next().await {
                    let echoed = match msg {
                        Message::Text(t) => ws.send(Message::Text(t)).await.is_ok(),
                        Message::Close(_) => false,
                        _ => true,
                    };
                    if !echoed {
                        return;
                    }
                }
            });
        }
    });
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut clients = Vec::new();
    for c in 0..args.concurrency {
        let done = done.clone();
        // Sources over 127.0.0.2..9: one address's ephemeral ports would run out
        // (closed connections wait in TIME_WAIT).
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (c % 8) as u8));
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let start = Instant::now();
                if upgrade_once(source, addr).await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                    latencies.push(start.elapsed());
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await?);
    }
    let secs = started.elapsed().as_secs_f64();
    server.abort();
    all.sort();
    let p99 = all
        .get(all.len().saturating_mul(99) / 100)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    Ok((done.load(Ordering::Relaxed) as f64 / secs, p99))
}

async fn upgrade_once(source: IpAddr, addr: SocketAddr) -> anyhow::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let tcp = socket.connect(addr).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp).await?;
    ws.send(Message::text("{\"type\":\"handshake\"}")).await?;
    match ws.next().await {
        Some(Ok(Message::Text(_))) => {}
        other => anyhow::bail!("no echo: {other:?}"),
    }
    let _ = ws.close(None).await;
    Ok(())
}

/// Connects as `user` when its password is in the environment (nats.conf's
/// authorization), with the inbox prefix that user may read.
async fn nats_login(url: &str, user: &str) -> anyhow::Result<async_nats::Client> {
    let var = format!("MOOLAI_NATS_{}_PASSWORD", user.to_uppercase());
    let options = match std::env::var(&var) {
        Ok(password) => async_nats::ConnectOptions::with_user_and_password(user.into(), password)
            .custom_inbox_prefix(format!("_INBOX.{user}")),
        Err(_) => async_nats::ConnectOptions::new(),
    };
    Ok(options.connect(url).await?)
}

async fn core_publishes(client: &async_nats::Client, count: usize) -> anyhow::Result<f64> {
    let payload = Bytes::from(vec![b'x'; 100]);
    // `<prefix>.heartbeats.*` is a subject an edge may publish to; with the
    // prefix `rawlimits` no core listens.
    let subject = "rawlimits.heartbeats.raw";
    let started = Instant::now();
    for _ in 0..count {
        client.publish(subject, payload.clone()).await?;
    }
    client.flush().await?;
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

async fn js_publishes(
    creator: &async_nats::Client,
    publisher: &async_nats::Client,
    count: usize,
    inflight: usize,
) -> anyhow::Result<f64> {
    jetstream::new(creator.clone())
        .get_or_create_stream(stream::Config {
            name: "rawlimits_events".into(),
            subjects: vec!["rawlimits.events.>".into()],
            storage: stream::StorageType::File,
            max_messages: 1_000_000,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the stream: {e}"))?;
    let js = jetstream::new(publisher.clone());
    // A handshake event's size (~400 B of JSON with its metadata).
    let payload = Bytes::from(vec![b'x'; 400]);
    let mut acks = FuturesUnordered::new();
    let started = Instant::now();
    for i in 0..count {
        if acks.len() >= inflight {
            if let Some(ack) = acks.next().await {
                ack?;
            }
        }
        let sent = js
            .publish(format!("rawlimits.events.{}", i % 1000), payload.clone())
            .await?;
        acks.push(sent.into_future());
    }
    while let Some(ack) = acks.next().await {
        ack?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
