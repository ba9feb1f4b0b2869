//! Logging and shutdown plumbing every binary shares.

use std::io::IsTerminal;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::logbuf::BufferLayer;

/// Installs the global subscriber: `RUST_LOG` filters what is printed (default
/// `info`), JSON lines when `json` is set, for log shippers; info and above also go
/// to the in-memory buffer behind the logs API. Colours only on a terminal (see
/// [`colour_wanted`]).
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = colour_wanted(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let printed = if json {
        fmt::layer().json().with_filter(filter).boxed()
    } else {
        fmt::layer().with_ansi(ansi).with_filter(filter).boxed()
    };
    tracing_subscriber::registry()
        .with(printed)
        .with(BufferLayer)
        .init();
}

/// Whether printed logs may carry ANSI colour codes: only on a terminal, and not
/// when `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
/// Log files and pipes get plain text that `grep` and editors read as written.
pub fn colour_wanted(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The same for tests: printed through the test harness's capture, quiet by default.
pub fn init_test_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let ansi = colour_wanted(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let printed = fmt::layer()
        .with_test_writer()
        .with_ansi(ansi)
        .with_filter(filter);
    let _ = tracing_subscriber::registry()
        .with(printed)
        .with(BufferLayer)
        .try_init();
}

/// A token cancelled on the first SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        trigger.cancel();
    });
    token
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

/// Closes `tasks` and waits for them, but no longer than `deadline`: a task stuck
/// on a dead peer or an unreachable bus must not hold the process until its
/// supervisor kills it mid-write (compose's `stop_grace_period` is set above each
/// service's deadline). Says so when the deadline passes.
pub async fn wait_for_tasks(tasks: &TaskTracker, deadline: Duration) {
    tasks.close();
    if tokio::time::timeout(deadline, tasks.wait()).await.is_err() {
        tracing::warn!(
            unfinished = tasks.len(),
            deadline_sec = deadline.as_secs(),
            "shutdown deadline passed; exiting with tasks unfinished"
        );
    }
}

/// Sends this process's log records (info and above) to `{p}.logs.<service>` over
/// a NATS connection of their own, so that core can show the cluster's log.
pub fn forward_logs(nats: crate::flags::NatsConfig, subject: String) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<crate::logbuf::LogEntry>(4096);
    crate::logbuf::forward_into(tx);
    tokio::spawn(async move {
        let Ok(client) = crate::bus::connect(&nats, "moolai-logs").await else {
            return;
        };
        while let Some(entry) = rx.recv().await {
            let Ok(payload) = serde_json::to_vec(&entry) else {
                continue;
            };
            // Never wait long for the bus: a record that cannot go now is dropped.
            let publish = client.publish(subject.clone(), payload.into());
            let _ = tokio::time::timeout(std::time::Duration::from_millis(100), publish).await;
        }
    });
}

/// What every service binary does first: logging, its name in log records, and
/// forwarding of those records to `{prefix}.logs.<service>` for core's cluster log.
pub fn init_service(service: &str, flags: &crate::flags::ServiceFlags) {
    init_tracing(flags.log_json);
    crate::logbuf::set_service(service);
    match moolai_proto::Subjects::new(flags.subject_prefix.as_str()) {
        Ok(subjects) => forward_logs(flags.nats.clone(), subjects.logs(service)),
        Err(err) => tracing::error!(%err, "invalid MOOLAI_SUBJECT_PREFIX; logs stay local"),
    }
}

/// Binds `addr`, saying which address failed.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("binding {addr}: {e}")))
}

/// Binds `addr` with a listen queue of `backlog` connections (the kernel caps
/// it at `net.core.somaxconn`). Tokio's `bind` asks for 1,024; a reconnect
/// storm that finds the queue full has its connections dropped by the kernel,
/// and each client retransmits after 1 s, then 3 s, before any process sees it.
pub fn bind_with_backlog(
    addr: std::net::SocketAddr,
    backlog: u32,
) -> std::io::Result<tokio::net::TcpListener> {
    let listen = || {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As tokio's own bind does: a restarted edge takes its port back at once.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(backlog)
    };
    listen().map_err(|e| std::io::Error::new(e.kind(), format!("binding {addr}: {e}")))
}

/// A binary's exit: success, or its error on one line with every cause once
/// (`{err:#}`, as anyhow prints a chain: `edge failed: cannot listen: …`) and
/// exit status 1.
pub fn exit_code<E: std::fmt::Display>(result: Result<(), E>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::time::Duration;

    use tokio_util::task::TaskTracker;

    use super::{colour_wanted, wait_for_tasks};

    #[tokio::test(start_paused = true)]
    async fn a_stuck_task_holds_shutdown_only_until_the_deadline() {
        let tasks = TaskTracker::new();
        tasks.spawn(std::future::pending::<()>());
        let started = tokio::time::Instant::now();
        wait_for_tasks(&tasks, Duration::from_secs(20)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        assert_eq!(tasks.len(), 1, "left running, not awaited");
    }

    #[tokio::test(start_paused = true)]
    async fn finished_tasks_end_the_wait_at_once() {
        let tasks = TaskTracker::new();
        tasks.spawn(tokio::time::sleep(Duration::from_secs(1)));
        let started = tokio::time::Instant::now();
        wait_for_tasks(&tasks, Duration::from_secs(20)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[test]
    fn logs_written_to_a_file_or_pipe_carry_no_colour_codes() {
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(false, Some(OsStr::new(""))));
    }

    #[test]
    fn a_terminal_gets_colour_unless_no_color_is_set() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
    }

    #[tokio::test]
    async fn a_listener_with_a_long_queue_holds_connections_until_it_accepts() {
        let listener = super::bind_with_backlog("127.0.0.1:0".parse().unwrap(), 4096).unwrap();
        let addr = listener.local_addr().unwrap();
        // More than tokio's own 1,024 wait in the queue while nothing accepts.
        let mut waiting = Vec::new();
        for _ in 0..1100 {
            // A full queue drops the SYN and the connect would retransmit for
            // seconds: fail fast instead.
            let connect = tokio::net::TcpStream::connect(addr);
            let stream = tokio::time::timeout(std::time::Duration::from_millis(500), connect)
                .await
                .expect("the queue was full");
            waiting.push(stream.unwrap());
        }
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(
            peer,
            waiting[0].local_addr().unwrap(),
            "the first in, the first accepted"
        );
        let taken = super::bind_with_backlog(addr, 16).unwrap_err();
        assert!(taken.to_string().contains(&addr.to_string()), "{taken}");
    }
}
