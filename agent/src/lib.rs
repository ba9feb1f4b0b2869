//! `moolai-agent`: a Rust orchestrator client speaking the controller's WebSocket
//! protocol, and the load generator of our benchmarks.

pub mod client;
pub mod config;
pub mod dial;
pub mod enroll;
pub mod error;
pub mod narrate;
pub mod outbox;
pub mod pacing;
pub mod revisions;
pub mod state_file;
pub mod stats;
pub mod telemetry;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use client::{Orchestrator, Outcome, Status};
pub use config::Config;
pub use narrate::Narration;
pub use stats::Stats;

/// How often load mode prints a line of figures.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// The agent's exit code when its orchestrator (in load mode: every one) was
/// deregistered by an administrator (close 4001).
pub const EXIT_DEREGISTERED: u8 = 3;

/// Starts one orchestrator in the background; the receiver follows its status.
pub fn spawn(
    orchestrator: Orchestrator,
    stats: Stats,
    shutdown: CancellationToken,
) -> watch::Receiver<Status> {
    let (tx, rx) = watch::channel(Status::default());
    tokio::spawn(orchestrator.run(stats, tx, shutdown));
    rx
}

/// Runs the configured orchestrator(s) until `shutdown`, the configured duration,
/// or until none is left running (each stops when deregistered), printing
/// figures in load mode. Returns the final counters.
pub async fn run(
    config: Config,
    shutdown: CancellationToken,
) -> Result<stats::Snapshot, tls::TlsError> {
    let tls = config.ca_file.as_deref().map(tls::trusting).transpose()?;
    let narration = Narration::for_count(config.count);
    narrate::say!(
        narration,
        "[O-CCS] booting moolai-agent {}…",
        env!("CARGO_PKG_VERSION")
    );
    narrate::say!(narration, "[O-CCS] WS URL => {}", config.urls.join(","));
    narrate::say!(
        narration,
        "[O-CCS] ORCHESTRATOR_ID => {}",
        config.orchestrator_id
    );
    let stats = Stats::default();
    let tasks = TaskTracker::new();
    let started = Instant::now();
    // Ends the run without touching the caller's token.
    let stop = shutdown.child_token();
    if config.duration_sec > 0 {
        let stop = stop.clone();
        let after = Duration::from_secs(config.duration_sec);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            stop.cancel();
        });
    }
    mark_on_sigusr1(&stats, stop.clone());
    let outbox = outbox_for(&config);
    let launcher = async {
        launch(&config, tls, &stats, &tasks, outbox, stop.clone()).await;
        // With every orchestrator stopped on its own, nothing is left to run.
        tasks.close();
        tasks.wait().await;
        stop.cancel();
    };
    let reporter = report_loop(config.count > 1, &stats, stop.clone());
    tokio::join!(launcher, reporter);
    let last = stats.snapshot();
    if config.count > 1 {
        println!(
            "total: {}",
            stats::report(
                &stats::Snapshot {
                    connects: 0,
                    heartbeats: 0,
                    ..last
                },
                &last,
                started.elapsed()
            )
        );
    }
    Ok(last)
}

/// The messages to send up: those given with `--send-message`, then each line
/// of stdin with `--messages-from-stdin`.
fn outbox_for(config: &Config) -> outbox::Outbox {
    let outbox = outbox::Outbox::with(config.send_messages.clone());
    if config.messages_from_stdin {
        let feed = outbox.clone();
        std::thread::spawn(move || feed.feed_lines(std::io::stdin().lock()));
    }
    outbox
}

async fn launch(
    config: &Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    stats: &Stats,
    tasks: &TaskTracker,
    outbox: outbox::Outbox,
    shutdown: CancellationToken,
) {
    let narration = Narration::for_count(config.count);
    let pause = match config.connect_rate {
        0 => Duration::ZERO,
        rate => Duration::from_secs_f64(1.0 / f64::from(rate)),
    };
    let enrollment = config
        .enrollment_token
        .clone()
        .map(|token| enroll::Enrollment {
            token,
            api_url: config.api_url.clone(),
        });
    let mut next = Instant::now();
    for i in 0..config.count {
        if shutdown.is_cancelled() {
            return;
        }
        let orchestrator = Orchestrator {
            id: if config.count == 1 {
                config.orchestrator_id.clone()
            } else {
                format!("{}-{i}", config.orchestrator_id)
            },
            urls: config.urls.clone(),
            interval: Duration::from_secs_f64(config.heartbeat_interval_sec),
            state_file: if config.count == 1 {
                config.state_file.clone()
            } else {
                None
            },
            name: config
                .name
                .clone()
                .unwrap_or_else(|| format!("Orchestrator {}", config.orchestrator_id)),
            location: config.location.clone(),
            token: config.token.clone(),
            tls: tls.clone(),
            drop_heartbeat_every: config.drop_heartbeat_every,
            fail_config_keys: config.fail_config_keys.clone(),
            source_ip: (!config.source_ips.is_empty())
                .then(|| config.source_ips[i % config.source_ips.len()]),
            start_at_first: config.start_at_first,
            retry_deregistered: config.retry_deregistered,
            outbox: outbox.clone(),
        };
        let (tx, _rx) = watch::channel(Status::default());
        let (stats, shutdown) = (stats.clone(), shutdown.clone());
        let enrollment = enrollment.clone();
        tasks.spawn(async move {
            let mut orchestrator = orchestrator;
            orchestrator.token = enroll::token_for(
                &orchestrator.id,
                orchestrator.token.take(),
                orchestrator.state_file.as_deref(),
                enrollment.as_ref(),
                orchestrator.tls.clone(),
                narration,
                &shutdown,
            )
            .await;
            orchestrator
                .run_narrated(narration, stats, tx, shutdown)
                .await
        });
        if !pause.is_zero() {
            next += pause;
            tokio::time::sleep_until(next).await;
        }
    }
}

/// SIGUSR1 starts the stats' window (see [`Stats::mark`]): the benchmark
/// sends it when a storm begins and reads the window from the summary.
fn mark_on_sigusr1(stats: &Stats, shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        return tracing::warn!("no SIGUSR1 handler: the stats window cannot be marked");
    };
    let stats = stats.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = usr1.recv() => match got {
                    Some(()) => {
                        stats.mark();
                        println!("mark: stats window started");
                    }
                    None => return,
                },
            }
        }
    });
}

async fn report_loop(enabled: bool, stats: &Stats, shutdown: CancellationToken) {
    if !enabled {
        return shutdown.cancelled().await;
    }
    let mut before = stats.snapshot();
    let mut at = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(REPORT_EVERY) => {}
        }
        let now = stats.snapshot();
        println!("{}", stats::report(&before, &now, at.elapsed()));
        (before, at) = (now, Instant::now());
    }
}
