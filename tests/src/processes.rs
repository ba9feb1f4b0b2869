//! Roles started as processes of the workspace's binaries, so a test can kill
//! them.

use std::path::PathBuf;

use crate::{wait_ready, TestEnv};

/// A free loopback port (for roles run as separate processes).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `moolai-edge` as a process (so it can be killed) and waits until ready.
pub async fn edge_process(env: &TestEnv, id: &str, port: u16) -> tokio::process::Child {
    let listen = format!("127.0.0.1:{port}");
    role_process(
        env,
        "moolai-edge",
        port,
        &[
            ("EDGE_ID", id),
            ("EDGE_LISTEN", &listen),
            // As `edge_config`: the tests' raw sockets carry no tokens.
            ("EDGE_REQUIRE_ORCHESTRATOR_TOKEN", "false"),
            ("EDGE_MAX_CONNECTIONS_PER_ADDRESS", "0"),
            // As `edge_config`: thousands of agents from 127.0.0.1 at once.
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("HTTP_MAX_CONNECTIONS_PER_ADDRESS", "0"),
            ("EDGE_MAX_MESSAGES_PER_MIN", "0"),
            ("EDGE_MAX_MESSAGE_BYTES_PER_MIN", "0"),
        ],
    )
    .await
}

/// Starts `moolai-persister` as a process (so it can be `kill -9`ed) on `port`
/// and waits until it is ready.
pub async fn persister_process(env: &TestEnv, port: u16) -> tokio::process::Child {
    let listen = format!("127.0.0.1:{port}");
    let vars = [
        ("DATABASE_URL", env.db_url.as_str()),
        ("PERSISTER_LISTEN", &listen),
    ];
    role_process(env, "moolai-persister", port, &vars).await
}

/// Starts `moolai-core` as a process (so that what Linux says about its
/// memory is core's alone) on `port`, output discarded, and waits until ready.
pub async fn core_process(env: &TestEnv, port: u16) -> tokio::process::Child {
    let listen = format!("127.0.0.1:{port}");
    let vars = [
        ("DATABASE_URL", env.db_url.as_str()),
        ("CORE_LISTEN", &listen),
        ("ADMIN_PASSWORD", crate::ADMIN_PASSWORD),
    ];
    role_process(env, "moolai-core", port, &vars).await
}

/// A workspace binary as a process on this test's NATS and prefix, with `vars`
/// set, ready on `port`.
async fn role_process(
    env: &TestEnv,
    bin: &str,
    port: u16,
    vars: &[(&str, &str)],
) -> tokio::process::Child {
    let role = bin.trim_start_matches("moolai-");
    let child = tokio::process::Command::new(workspace_bin(bin))
        .envs(env.nats_vars(role))
        .env("MOOLAI_SUBJECT_PREFIX", &env.prefix)
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    wait_ready(([127, 0, 0, 1], port).into()).await;
    child
}

/// A binary of this workspace, built next to the test executable.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}
