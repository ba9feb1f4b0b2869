//! Which transport should carry heartbeats from edges to core?
//!
//! Measures, on the NATS server at `NATS_URL`, the same heartbeat events sent
//! (a) on core NATS to a live subscriber, and (b) into a JetStream stream that keeps
//! one value per subject (`max_messages_per_subject = 1`), with 1,024 acks in
//! flight. Prints messages per second for each; the choice and its reasons are in
//! docs/architecture.md.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use chrono::Utc;
use clap::Parser;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use moolai_proto::events::Beat;
use moolai_proto::OrchestratorId;

#[derive(Parser)]
struct Args {
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4333")]
    nats_url: String,
    /// Heartbeats to send per transport.
    #[arg(long, default_value_t = 200_000)]
    count: usize,
    /// Distinct orchestrators the heartbeats come from.
    #[arg(long, default_value_t = 10_000)]
    orchestrators: usize,
}

fn payloads(args: &Args) -> Vec<(String, Bytes)> {
    let conn = uuid::Uuid::new_v4();
    (0..args.count)
        .map(|i| {
            let id = OrchestratorId::parse(format!("o-{}", i % args.orchestrators)).unwrap();
            let hb = Beat {
                orchestrator_id: id.clone(),
                conn_id: conn,
                at: Utc::now(),
            };
            (
                id.to_string(),
                Bytes::from(serde_json::to_vec(&hb).unwrap()),
            )
        })
        .collect()
}

async fn core_nats(
    client: &async_nats::Client,
    prefix: &str,
    msgs: &[(String, Bytes)],
) -> anyhow::Result<(f64, usize)> {
    let mut sub = client.subscribe(format!("{prefix}.heartbeat.*")).await?;
    client.flush().await?;
    let total = msgs.len();
    let receiver = tokio::spawn(async move {
        let mut got = 0;
        while got < total {
            match tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
                Ok(Some(_)) => got += 1,
                _ => break,
            }
        }
        got
    });
    let start = Instant::now();
    for (id, payload) in msgs {
        client
            .publish(format!("{prefix}.heartbeat.{id}"), payload.clone())
            .await?;
    }
    client.flush().await?;
    let got = receiver.await?;
    Ok((got as f64 / start.elapsed().as_secs_f64(), total - got))
}

async fn last_value_stream(
    client: &async_nats::Client,
    prefix: &str,
    msgs: &[(String, Bytes)],
) -> anyhow::Result<f64> {
    let js = jetstream::new(client.clone());
    let name = format!("{prefix}_hblv");
    js.get_or_create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![format!("{prefix}.hblv.*")],
        max_messages_per_subject: 1,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    let start = Instant::now();
    let mut inflight = FuturesUnordered::new();
    for (id, payload) in msgs {
        if inflight.len() >= 1024 {
            inflight.next().await.transpose()?;
        }
        inflight.push(
            js.publish(format!("{prefix}.hblv.{id}"), payload.clone())
                .await?
                .into_future(),
        );
    }
    while let Some(ack) = inflight.next().await {
        ack?;
    }
    let rate = msgs.len() as f64 / start.elapsed().as_secs_f64();
    js.delete_stream(&name).await?;
    Ok(rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = async_nats::connect(&args.nats_url).await?;
    let prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let msgs = payloads(&args);
    println!(
        "{} heartbeats from {} orchestrators, {} bytes each",
        args.count,
        args.orchestrators,
        msgs[0].1.len()
    );
    let (rate, lost) = core_nats(&client, &prefix, &msgs).await?;
    println!("core NATS publish -> subscriber: {rate:>10.0} msgs/s  (lost {lost})");
    let rate = last_value_stream(&client, &prefix, &msgs).await?;
    println!(
        "JetStream last-value stream:     {rate:>10.0} msgs/s  (publish acked, 1,024 in flight)"
    );
    Ok(())
}
