//! How fast does a frame pushed through the API reach its orchestrator?
//!
//! Starts persister, core and two edges in this process (real NATS at `NATS_URL`,
//! real PostgreSQL at `TEST_DATABASE_URL`, as the tests do), connects `--connected`
//! orchestrators, then measures from the API call to the frame arriving on the socket:
//! `POST …/send` (any frame), `PUT …/features` (a fresh `provision_config`) and
//! `POST …/messages` (a `message` frame). Prints p50/p99/max per kind.

use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use moolai_tests::api::{Api, C, I};
use moolai_tests::ws::connect_as;
use moolai_tests::{start_core, start_edge, start_persister, TestEnv};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// Orchestrators connected while measuring.
    #[arg(long, default_value_t = 1000)]
    connected: usize,
    /// Pushes measured per kind.
    #[arg(long, default_value_t = 300)]
    pushes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let edges = [
        start_edge(env.edge_config("edge-1")).await,
        start_edge(env.edge_config("edge-2")).await,
    ];
    let api = Api::admin(core.addr).await;

    let (tx, mut arrivals) = mpsc::unbounded_channel::<(String, String, Instant)>();
    for i in 0..args.connected {
        let id = format!("push-{i}");
        let ws = connect_as(&edges[i % 2].ws_url(), &id, true).await;
        let tx = tx.clone();
        tokio::spawn(async move {
            let (_, mut read) = ws.split();
            while let Some(Ok(Message::Text(text))) = read.next().await {
                let v: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                let kind = v["type"].as_str().unwrap_or_default().to_owned();
                let _ = tx.send((id.clone(), kind, Instant::now()));
            }
        });
    }
    // Let every handshake's provisioning and welcome frames arrive and drain them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    while arrivals.try_recv().is_ok() {}
    println!("{} orchestrators connected over 2 edges", args.connected);

    for kind in ["send", "provision_config", "message"] {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for n in 0..args.pushes {
            let id = format!("push-{}", (n * 7919) % args.connected);
            let started = Instant::now();
            let (status, body, expect) = match kind {
                "send" => {
                    let (s, b) = api
                        .post(
                            &format!("{I}/orchestrators/{id}/send"),
                            json!({"type": "bench_probe", "data": {"n": n}}),
                        )
                        .await;
                    (s, b, "bench_probe")
                }
                "provision_config" => {
                    let (s, b) = api
                        .put(
                            &format!("{C}/organizations/{id}/features"),
                            json!({"features": {"n": n}}),
                        )
                        .await;
                    (s, b, "provision_config")
                }
                _ => {
                    let (s, b) = api
                        .post(
                            &format!("{I}/orchestrators/{id}/messages"),
                            json!({"message_type": "monitoring", "content": format!("probe {n}")}),
                        )
                        .await;
                    (s, b, "message")
                }
            };
            anyhow::ensure!(status == 200, "{kind} push failed: {status} {body}");
            let arrived = loop {
                let (who, what, at) = tokio::time::timeout(Duration::from_secs(5), arrivals.recv())
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("socket readers ended"))?;
                if who == id && what == expect {
                    break at;
                }
            };
            hist.record(arrived.duration_since(started).as_micros().max(1) as u64)?;
        }
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{kind:>16}: API call -> frame on the socket  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} pushes)",
            ms(0.5),
            ms(0.99),
            hist.max() as f64 / 1000.0,
            hist.len()
        );
    }
    Ok(())
}
