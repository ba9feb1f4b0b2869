//! What the operator reads is plain and true: the real `moolai-agent` binary tells
//! its session in the first client's words, a load run keeps per-heartbeat lines
//! out of its output, and neither the agent nor a service writes colour codes
//! into a pipe or a log file.

use std::process::Stdio;
use std::time::Duration;

use moolai_tests::{free_port, start_edge, workspace_bin, TestEnv};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

const ESC: &str = "\x1b[";

/// Reads `out` line by line until every one of `wanted` appeared in some line;
/// returns everything read. Fails the test after `limit` with what came.
async fn read_until(out: impl AsyncRead + Unpin, wanted: &[&str], limit: Duration) -> String {
    let mut lines = BufReader::new(out).lines();
    let mut seen = String::new();
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if wanted.iter().all(|w| seen.contains(w)) {
                return true;
            }
        }
        false
    };
    let found = tokio::time::timeout(limit, read).await.unwrap_or(false);
    assert!(found, "never saw all of {wanted:?}; output:\n{seen}");
    seen
}

/// The agent binary with its output piped, colours not turned off by the caller.
fn agent(args: &[&str]) -> Child {
    Command::new(workspace_bin("moolai-agent"))
        .args(args)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("moolai-agent starts (cargo build -p moolai-agent)")
}

#[tokio::test]
async fn a_single_agent_narrates_its_session_without_colour_codes_in_a_pipe() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let url = stack.edge.ws_url();
    let mut child = agent(&["--id", "narrator", "--url", &url, "--interval", "0.2"]);
    let stdout = child.stdout.take().unwrap();
    let wanted = [
        "[O-CCS] ORCHESTRATOR_ID => narrator",
        "(attempt 1)",
        &format!("[O-CCS] Connected to {url}"),
        "[O-CCS] handshake_ack received",
        "[O-CCS] i_am_alive sent #1",
        "[O-CCS] i_am_alive sent #2",
    ];
    let out = read_until(stdout, &wanted, Duration::from_secs(20)).await;
    assert!(!out.contains(ESC), "colour codes in piped output:\n{out}");
    let _ = child.kill().await;
}

#[tokio::test]
async fn a_load_run_keeps_heartbeat_lines_out_of_its_output() {
    let env = TestEnv::new().await;
    let edge = start_edge(env.edge_config("edge-load")).await;
    let url = edge.ws_url();
    let mut child = agent(&[
        "--id",
        "crowd",
        "--count",
        "3",
        "--url",
        &url,
        "--interval",
        "0.2",
        "--duration-sec",
        "2",
    ]);
    let stdout = child.stdout.take().unwrap();
    let out = read_until(stdout, &["total:"], Duration::from_secs(30)).await;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the load run ends after its duration")
        .expect("wait");
    assert!(status.success(), "load run failed:\n{out}");
    assert!(
        !out.contains("i_am_alive sent"),
        "per-heartbeat lines:\n{out}"
    );
    assert!(!out.contains(ESC), "colour codes in piped output:\n{out}");
}

#[tokio::test]
async fn a_service_logging_into_a_pipe_writes_no_colour_codes() {
    let env = TestEnv::new().await;
    let port = free_port();
    let mut child = Command::new(workspace_bin("moolai-edge"))
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .envs(env.nats_vars("edge"))
        .env("MOOLAI_SUBJECT_PREFIX", &env.prefix)
        .env("EDGE_ID", "edge-plain")
        .env("EDGE_REQUIRE_ORCHESTRATOR_TOKEN", "false")
        .env("EDGE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moolai-edge starts (cargo build -p moolai-edge)");
    let stdout = child.stdout.take().unwrap();
    let out = read_until(stdout, &["edge listening"], Duration::from_secs(20)).await;
    assert!(!out.contains(ESC), "colour codes in the edge's log:\n{out}");
    let _ = child.kill().await;
}
