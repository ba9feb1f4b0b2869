//! The real `moolai-agent` binary as its user drives it (issue 32): a
//! deregistration (close 4001) is final — it stops with exit code 3 and says why,
//! or backs off to minutes when told to keep trying, and a load run counts such
//! ids instead of reconnecting them; it sends messages up to the controller from
//! the command line and from stdin; and a token given once with `--token` is kept
//! in its state file for the next start.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moolai_tests::api::{Api, I};
use moolai_tests::tokens::{register, stack};
use moolai_tests::{wait_until, workspace_bin, TestEnv};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

const WAIT: Duration = Duration::from_secs(20);

/// One agent process, everything it prints gathered as it comes.
struct Agent {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Agent {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(workspace_bin("moolai-agent"))
            .args(args)
            .env_remove("ORCHESTRATOR_TOKEN")
            .env_remove("ORCHESTRATOR_ENROLLMENT_TOKEN")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("moolai-agent runs (cargo build -p moolai-agent)");
        let out = Arc::new(Mutex::new(String::new()));
        gather(child.stdout.take().unwrap(), out.clone());
        gather(child.stderr.take().unwrap(), out.clone());
        Self { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Whether it printed `text` within `limit`.
    async fn says(&self, text: &str, limit: Duration) -> bool {
        wait_until(limit, || async { self.output().contains(text) })
            .await
            .is_some()
    }

    /// How it exited, if it did within `limit`.
    async fn exits(&mut self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .map(|s| s.expect("wait for the agent"))
    }

    fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin piped")
    }
}

fn gather(stream: impl AsyncRead + Unpin + Send + 'static, out: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut out = out.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

async fn deregister(api: &Api, id: &str) {
    let (status, body) = api
        .delete(&format!("{I}/orchestrators/{id}/deregister"))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A directory of the test's own (state files, summaries).
fn scratch(env: &TestEnv) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("moolai-agent-controls-{}", env.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_deregistered_agent_stops_with_exit_code_3_and_says_why() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-dereg").await;
    let api = Api::admin(core.addr).await;
    let token = register(&api, "gone-1").await;
    let url = edge.ws_url();
    let mut agent = Agent::start(&["--id", "gone-1", "--url", &url, "--token", &token]);
    assert!(
        env.becomes_active("gone-1", WAIT).await,
        "never connected:\n{}",
        agent.output()
    );

    deregister(&api, "gone-1").await;
    let exited = agent.exits(WAIT).await;
    let out = agent.output();
    assert_eq!(
        exited.and_then(|s| s.code()),
        Some(3),
        "the agent did not stop with exit code 3 after close 4001:\n{out}"
    );
    let said = out
        .lines()
        .find(|l| l.contains("[O-CCS] stopping:"))
        .unwrap_or_else(|| panic!("no line says why it stopped:\n{out}"));
    for why in ["close 4001", "deregistered", "register it again"] {
        assert!(said.contains(why), "`{why}` not in: {said}");
    }
}

#[tokio::test]
async fn told_to_keep_trying_a_deregistered_agent_waits_minutes() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-dereg-retry").await;
    let api = Api::admin(core.addr).await;
    let token = register(&api, "gone-2").await;
    let url = edge.ws_url();
    let args = ["--id", "gone-2", "--url", &url, "--token", &token];
    let mut agent = Agent::start(&[&args[..], &["--retry-deregistered"]].concat());
    assert!(env.becomes_active("gone-2", WAIT).await);

    deregister(&api, "gone-2").await;
    let marker = "deregistered by an administrator; retrying in ";
    assert!(agent.says(marker, WAIT).await, "{}", agent.output());
    let out = agent.output();
    let line = out.lines().find(|l| l.contains(marker)).unwrap();
    let pause = line.split(marker).nth(1).unwrap();
    let secs: f64 = pause
        .split_once('s')
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no pause in seconds in: {line}"));
    assert!(secs >= 60.0, "it retries within a minute: {line}");
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "it stopped although told to keep trying:\n{out}"
    );
}

#[tokio::test]
async fn a_load_run_counts_deregistered_ids_and_stops_reconnecting_them() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    let summary = scratch(&env).join("summary.json");
    let url = stack.edge.ws_url();
    let args = [
        "--id",
        "crowd",
        "--count",
        "3",
        "--url",
        &url,
        "--interval",
        "1",
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    let mut agent = Agent::start(&args);
    for i in 0..3 {
        assert!(env.becomes_active(&format!("crowd-{i}"), WAIT).await);
    }

    deregister(&api, "crowd-1").await;
    // Its figures say so (every 5 s) while the other two run on.
    assert!(
        agent.says("deregistered=1", WAIT).await,
        "{}",
        agent.output()
    );
    assert_eq!(env.status("crowd-0").await.as_deref(), Some("active"));
    deregister(&api, "crowd-0").await;
    deregister(&api, "crowd-2").await;
    // None left: the run ends by itself, and says every one was deregistered.
    let exited = agent.exits(WAIT).await;
    let out = agent.output();
    assert_eq!(exited.and_then(|s| s.code()), Some(3), "{out}");
    let figures: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(figures["deregistered"], 3, "{figures}");
    // One connection each: no id was reconnected after its 4001.
    assert_eq!(figures["connects"], 3, "{figures}\n{out}");
    let _ = std::fs::remove_dir_all(scratch(&env));
}

#[tokio::test]
async fn the_agent_sends_messages_given_on_its_command_line_and_on_stdin() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-talk").await;
    let api = Api::admin(core.addr).await;
    let token = register(&api, "talker").await;
    let url = edge.ws_url();
    let mut agent = Agent::start(&[
        "--id",
        "talker",
        "--url",
        &url,
        "--token",
        &token,
        "--send-message",
        "recommendation:Consider enabling caching",
        "--messages-from-stdin",
    ]);
    assert!(
        agent
            .says("[O-CCS] message sent: type recommendation", WAIT)
            .await,
        "{}",
        agent.output()
    );
    let mut stdin = agent.stdin();
    let line = r#"{"message_type": "monitoring", "content": "High memory usage", "metadata": {"severity": "high"}}"#;
    stdin
        .write_all(format!("not a message\n{line}\n").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();

    let path = format!("{I}/orchestrators/talker/messages");
    let stored = wait_until(WAIT, || async {
        api.get(&path).await.1["total_count"] == 2
    })
    .await;
    let (_, listed) = api.get(&path).await;
    assert!(stored.is_some(), "{listed}\n{}", agent.output());
    let messages = listed["messages"].as_array().unwrap();
    assert!(messages
        .iter()
        .all(|m| m["direction"] == "from_orchestrator"));
    let monitoring = messages
        .iter()
        .find(|m| m["message_type"] == "monitoring")
        .unwrap();
    assert_eq!(monitoring["content"], "High memory usage");
    assert_eq!(monitoring["metadata"]["severity"], "high");
    let out = agent.output();
    assert!(
        out.contains("message not sent") && out.contains("not a message"),
        "a bad line is not explained:\n{out}"
    );
}

#[tokio::test]
async fn a_token_given_once_is_kept_in_the_state_file_for_the_next_start() {
    let env = TestEnv::new().await;
    let (_p, core, edge) = stack(&env, "edge-keep").await;
    let api = Api::admin(core.addr).await;
    let token = register(&api, "keeper").await;
    let state = scratch(&env).join("keeper.json");
    let url = edge.ws_url();
    let common = [
        "--id",
        "keeper",
        "--url",
        &url,
        "--state-file",
        state.to_str().unwrap(),
    ];

    let mut first = Agent::start(&[&common[..], &["--token", &token]].concat());
    assert!(
        env.becomes_active("keeper", WAIT).await,
        "{}",
        first.output()
    );
    first.child.kill().await.unwrap();
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(kept["orchestrator_token"], token.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the token is readable by others");
    }
    let gone = wait_until(WAIT, || async {
        env.status("keeper").await.as_deref() == Some("inactive")
    })
    .await;
    assert!(gone.is_some());

    // No token given this time: the kept one lets it in.
    let again = Agent::start(&common);
    assert!(
        env.becomes_active("keeper", WAIT).await,
        "the second start did not use the kept token:\n{}",
        again.output()
    );
    let _ = std::fs::remove_dir_all(scratch(&env));
}
