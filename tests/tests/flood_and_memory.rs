//! What a hostile client costs everyone else: a sustained flood must not slow the
//! other orchestrators down noticeably, and oversized frames trickled in must not
//! grow the edge's memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use moolai_tests::procfs::status_kib;
use moolai_tests::ws::{connect, connect_as, next, next_of_type, send_json, Next};
use moolai_tests::{edge_process, free_port, start_core, start_persister, wait_until, TestEnv};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// The 95th percentile of `n` round trips `provisioning_request` →
/// `provision_config` (edge → NATS → core → edge → socket).
async fn round_trip_p95(ws: &mut moolai_tests::ws::Ws, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let asked = Instant::now();
        send_json(ws, &json!({"type": "provisioning_request"})).await;
        next_of_type(ws, "provision_config").await;
        times.push(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    times.sort();
    times[(n * 95 / 100).min(n - 1)]
}

#[tokio::test]
async fn a_sustained_flood_slows_the_others_by_less_than_50_ms() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let mut calm = connect_as(&stack.edge.ws_url(), "calm", true).await;
    next_of_type(&mut calm, "provision_config").await;
    let before = round_trip_p95(&mut calm, 40).await;

    // Ten flooders at ~1,000 frames/s each; each is closed (rate_limited) and
    // comes straight back, so the flood lasts.
    let stop = CancellationToken::new();
    let flooded = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for i in 0..10 {
        let (url, stop, flooded) = (stack.edge.ws_url(), stop.clone(), flooded.clone());
        flooders.push(tokio::spawn(async move {
            let mut frames = 0u64;
            while !stop.is_cancelled() {
                let mut ws = connect_as(&url, &format!("flooder-{i}"), true).await;
                let beat = Message::text(json!({"type": "i_am_alive"}).to_string());
                while !stop.is_cancelled() && ws.send(beat.clone()).await.is_ok() {
                    frames += 1;
                    flooded.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            frames
        }));
    }
    // Measured only once the flood is under way.
    let under_way = wait_until(Duration::from_secs(10), || async {
        flooded.load(Ordering::Relaxed) > 500
    })
    .await;
    assert!(under_way.is_some(), "the flood never got going");
    let during = round_trip_p95(&mut calm, 40).await;
    stop.cancel();
    let mut sent = 0;
    for f in flooders {
        sent += f.await.unwrap();
    }
    println!(
        "flood of {sent} frames from 10 orchestrators: the calm one's round trip p95 \
         {before:?} before, {during:?} during"
    );
    assert!(sent > 500, "the flood never got going");
    assert!(
        during.saturating_sub(before) < Duration::from_millis(50),
        "a flood slowed the others by {:?}",
        during.saturating_sub(before)
    );
}

#[tokio::test]
async fn frames_announcing_16_mib_trickled_in_grow_the_edge_by_less_than_10_mib() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let _core = start_core(env.core_config()).await;
    let port = free_port();
    let edge = edge_process(&env, "edge-mem", port).await;
    let pid = edge.id().expect("edge pid");
    let url = format!("ws://127.0.0.1:{port}/ws");
    let before = status_kib(pid, "VmRSS");
    // Twenty sockets, each announcing a 16 MiB frame and trickling its body.
    let mut socks = Vec::new();
    for i in 0..20 {
        let mut ws = connect(&url).await;
        send_json(
            &mut ws,
            &moolai_tests::ws::handshake(&format!("big-{i}"), true),
        )
        .await;
        next_of_type(&mut ws, "handshake_ack").await;
        socks.push(ws);
    }
    for ws in &mut socks {
        let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_mut() else {
            panic!("plain TCP")
        };
        let mut header = vec![0x81u8, 0x80 | 127];
        header.extend_from_slice(&(16u64 * 1024 * 1024).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        let _ = tcp.write_all(&header).await;
        for _ in 0..16 {
            if tcp.write_all(&[b'x'; 4096]).await.is_err() {
                break; // refused already
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Measured once the edge has refused every one at its header (closed it).
    for ws in &mut socks {
        while let Next::Json(_) = next(ws).await {}
    }
    let grown = status_kib(pid, "VmRSS").saturating_sub(before);
    println!("20 sockets announcing 16 MiB frames grew the edge by {grown} KiB");
    assert!(grown < 10 * 1024, "the edge grew by {grown} KiB");
}
