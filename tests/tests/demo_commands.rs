//! The demo of spec 004 as docs/demo.md writes it for `scripts/stack.sh`: its `sh`
//! blocks run in document order with real `curl` and the real agent binary against
//! a stack whose core has a static `DEV_BEARER_TOKEN`, so the walk-through cannot
//! drift from what the stack answers. `api_demo.rs` checks the demo's effects in
//! detail; this test checks that the commands a user pastes work.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use moolai_tests::api::{Api, C};
use moolai_tests::stacks::persister_and_core;
use moolai_tests::{start_core, start_edge, start_persister, wait_until, workspace_bin, TestEnv};

/// Where a block says which status its calls answer; 2xx when it says nothing.
const EXPECT: &str = "# expect ";
const WAIT: Duration = Duration::from_secs(15);

/// One fenced `sh` block of docs/demo.md.
struct Block {
    line: usize,
    text: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn sh_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match current.as_mut() {
            None if line.trim_end() == "```sh" => {
                current = Some(Block {
                    line: n + 1,
                    text: String::new(),
                })
            }
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "docs/demo.md: an unclosed ```sh block");
    blocks
}

/// How many times a block runs `curl` (comment lines aside).
fn curl_calls(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.matches("curl ").count())
        .sum()
}

/// `VAR=value` as written in a block.
fn assignment<'a>(text: &'a str, var: &str) -> Option<&'a str> {
    let at = text.find(&format!("{var}="))? + var.len() + 1;
    text[at..].split_whitespace().next()
}

/// Runs an API block with bash, `$CONTROLLER` and `$TOKEN` set, and `curl`
/// wrapped to report each call's status on stderr (so pipes still get the body).
/// Returns the statuses and everything printed.
async fn run_api_block(block: &Block, controller: &str, token: &str) -> (Vec<u16>, String) {
    let script = format!(
        "set -euo pipefail\n\
         curl() {{ command curl -sS --write-out '%{{stderr}}@@status %{{http_code}}\\n' \"$@\"; }}\n\
         {}",
        block.text
    );
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(repo_root())
        .env("CONTROLLER", controller)
        .env("TOKEN", token)
        // The calls go to 127.0.0.1; a proxy from the environment must not catch them.
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .env("NO_PROXY", "*")
        .output()
        .await
        .expect("run bash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let statuses = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("@@status "))
        .map(|s| s.trim().parse().expect("numeric status"))
        .collect();
    let printed = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{stderr}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.status.success(),
        "docs/demo.md:{} failed\n{}\n{printed}",
        block.line,
        block.text
    );
    (statuses, printed)
}

/// Starts the agent binary for the orchestrator an agent block names, on the
/// test's edge (1 s heartbeats so the test need not wait 30 s for #2), with its
/// narration in `log`.
fn start_agent(
    block: &Block,
    edge_url: &str,
    dir: &Path,
) -> (String, tokio::process::Child, PathBuf) {
    let id = assignment(&block.text, "ORCHESTRATOR_ID")
        .unwrap_or_else(|| {
            panic!(
                "docs/demo.md:{}: agent block without ORCHESTRATOR_ID",
                block.line
            )
        })
        .to_owned();
    let log = dir.join(format!("agent-{id}.log"));
    let file = std::fs::File::create(&log).expect("agent log");
    let child = tokio::process::Command::new(workspace_bin("moolai-agent"))
        .env("ORCHESTRATOR_ID", &id)
        .env("CONTROLLER_WS_URL", edge_url)
        .env("HEARTBEAT_INTERVAL_SEC", "1")
        .env("ORCHESTRATOR_CONFIG_FILE", dir.join(format!("{id}.json")))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(file.try_clone().expect("log handle")))
        .stderr(Stdio::from(file))
        .kill_on_drop(true)
        .spawn()
        .expect("start moolai-agent");
    (id, child, log)
}

/// As the reader does after turning independence on: wait until the agent says
/// it was told, before the next step. Core pushes an orchestrator its newest
/// rule, so an "on" followed at once by an "off" may reach it as "off" alone.
async fn told_independence(block: &Block, agents: &[(String, tokio::process::Child, PathBuf)]) {
    if !block.text.contains("\"is_independent\": true") {
        return;
    }
    let Some((id, _, log)) = agents
        .iter()
        .find(|(id, _, _)| block.text.contains(&format!("/{id}/")))
    else {
        return;
    };
    let told = wait_until(WAIT, || async {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("[O-CCS] independence_update received: independent=true")
    })
    .await;
    assert!(
        told.is_some(),
        "agent {id} was not told of its independence (docs/demo.md:{})",
        block.line
    );
}

#[tokio::test]
async fn the_demo_commands_of_docs_demo_md_answer_on_a_stack_with_a_dev_token() {
    let doc = std::fs::read_to_string(repo_root().join("docs/demo.md")).expect("docs/demo.md");
    let blocks = sh_blocks(&doc);

    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let token = format!("demo-{}", env.prefix);
    let mut config = env.core_config();
    config.dev_bearer_token = Some(token.clone().into());
    let core = start_core(config).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    let controller = format!("http://{}", core.addr);
    let api = Api::new(core.addr, Some(&token));
    let dir = std::env::temp_dir().join(format!("moolai-demo-{}", env.prefix));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let mut agents = Vec::new();
    let mut ran = String::new();
    let mut calls = 0;
    for block in &blocks {
        if block.text.contains("moolai-agent") {
            let (id, child, log) = start_agent(block, &edge.ws_url(), &dir);
            // The doc's next commands act on this orchestrator: wait until it is live.
            let live = wait_until(WAIT, || async {
                api.get(&format!("{C}/orchestrators/live/{id}")).await.0 == 200
            })
            .await;
            let narration = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                live.is_some(),
                "agent {id} never live; its log:\n{narration}"
            );
            agents.push((id, child, log));
            continue;
        }
        if !(block.text.contains("curl ") && block.text.contains("$CONTROLLER")) {
            continue; // the stack itself, psql and log watching: not API calls
        }
        let expected: Option<u16> = block
            .text
            .lines()
            .find_map(|l| l.trim().strip_prefix(EXPECT))
            .map(|s| s.trim().parse().expect("# expect <status>"));
        let (statuses, printed) = run_api_block(block, &controller, &token).await;
        assert_eq!(
            statuses.len(),
            curl_calls(&block.text),
            "docs/demo.md:{}: not every curl ran\n{printed}",
            block.line
        );
        for status in statuses {
            let ok = match expected {
                Some(want) => status == want,
                None => (200..300).contains(&status),
            };
            assert!(
                ok,
                "docs/demo.md:{} answered {status} (want {})\n{}\n{printed}",
                block.line,
                expected.map_or("2xx".to_owned(), |s| s.to_string()),
                block.text
            );
        }
        calls += curl_calls(&block.text);
        ran.push_str(&block.text);
        told_independence(block, &agents).await;
    }

    // The walk-through still covers every API call of spec 004 and the others
    // issue 11 names.
    for (what, needle) in [
        ("health", "$CONTROLLER/health"),
        (
            "register (Parts 10, 11)",
            "/api/v1/internal/orchestrators/register",
        ),
        ("organizations list", "/api/v1/controller/organizations\""),
        ("orchestrators list", "/api/v1/controller/orchestrators\""),
        ("independence on", "\"is_independent\": true"),
        ("independence off", "\"is_independent\": false"),
        ("independence read", "/org-002/independence\n"),
        ("recommendation", "\"message_type\": \"recommendation\""),
        ("monitoring alert", "\"message_type\": \"monitoring\""),
        ("message list", "/org-002/messages\""),
        ("message decision", "/status"),
        ("features push", "/features"),
        ("send", "/send"),
        ("live view", "/orchestrators/live"),
        ("activity buffer", "/api/v1/internal/activity"),
        ("deregister", "/deregister"),
    ] {
        assert!(
            ran.contains(needle),
            "docs/demo.md no longer runs the {what} call ({needle})"
        );
    }
    assert!(calls >= 18, "only {calls} curl calls ran");
    let ids: Vec<&str> = agents.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["org-002", "org-demo", "org-003"],
        "the demo's three orchestrators"
    );

    // What docs/demo.md says the agent prints.
    let (_, _, log) = &agents[0];
    let said = wait_until(WAIT, || async {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        [
            "[O-CCS] ORCHESTRATOR_ID => org-002",
            "[O-CCS] handshake_ack received",
            "[O-CCS] i_am_alive sent #1",
            "[O-CCS] provisioning applied: features [cache]",
            "[O-CCS] independence_update received: independent=true",
            "type recommendation; acknowledging",
        ]
        .iter()
        .all(|line| text.contains(line))
    })
    .await;
    let narration = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        said.is_some(),
        "the agent did not narrate the demo:\n{narration}"
    );
    eprintln!("org-002's agent said:\n{narration}");

    // After the doc's deregister, org-demo's agent is closed with 4001 and stops
    // there with exit code 3, saying why, as docs/demo.md says; it stays gone.
    let (_, child, log) = &mut agents[1];
    let exited = tokio::time::timeout(WAIT, child.wait()).await;
    let narration = std::fs::read_to_string(&*log).unwrap_or_default();
    let code = exited.ok().and_then(|s| s.ok()).and_then(|s| s.code());
    assert_eq!(
        code,
        Some(3),
        "org-demo's agent did not stop after its deregistration:\n{narration}"
    );
    assert!(
        narration
            .lines()
            .any(|l| l.contains("[O-CCS] stopping:") && l.contains("close 4001")),
        "org-demo's agent did not say why it stopped:\n{narration}"
    );
    let (status, body) = api.get(&format!("{C}/orchestrators/org-demo")).await;
    assert_eq!(status, 404, "org-demo came back after deregister: {body}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_answered_with_how_to_get_one() {
    let env = TestEnv::new().await;
    let (_persister, core) = persister_and_core(&env, |c| {
        c.dev_bearer_token = Some("a-configured-token".to_owned().into())
    })
    .await;
    let path = format!("{C}/organizations");
    for (token, status) in [(None, 401), (Some("fake-dev-token"), 403)] {
        let (got, body) = Api::new(core.addr, token).get(&path).await;
        assert_eq!(got, status, "{body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        for hint in [
            "POST /api/v1/internal/auth/login",
            "scripts/stack.sh",
            ".data/dev-token",
        ] {
            assert!(
                detail.contains(hint),
                "{status} body without `{hint}`: {body}"
            );
        }
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(1),
            "envelope changed: {body}"
        );
    }
    let (got, body) = Api::new(core.addr, Some("a-configured-token"))
        .get(&path)
        .await;
    assert_eq!(got, 200, "{body}");
}

/// The paragraph of `text` (between blank lines) that holds `needle`.
fn paragraph_with<'a>(text: &'a str, needle: &str) -> &'a str {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` is gone from the docs"));
    let start = text[..at].rfind("\n\n").map_or(0, |i| i + 2);
    let end = text[at..].find("\n\n").map_or(text.len(), |i| at + i);
    &text[start..end]
}

#[test]
fn the_docs_say_what_a_first_version_client_needs_and_never_delete_an_agents_token() {
    let read = |name: &str| std::fs::read_to_string(repo_root().join(name)).expect(name);
    let (readme, demo, security) = (
        read("README.md"),
        read("docs/demo.md"),
        read("docs/security.md"),
    );
    // With tokens on by default, "unchanged" is a 401: the docs say what it takes.
    for (doc, text, needle) in [
        ("README.md", &readme, "first version's Python client"),
        ("docs/demo.md", &demo, "Python client of the first version"),
    ] {
        let said = paragraph_with(text, needle);
        for needed in ["registered", "?token=", "CONTROLLER_WS_URL", "log"] {
            assert!(
                said.contains(needed),
                "{doc} does not tell a first-version client `{needed}`:\n{said}"
            );
        }
    }
    // A state file may hold an agent's only token: the demo never deletes one.
    for block in sh_blocks(&demo) {
        let deletes = block.text.lines().any(|l| {
            let l = l.trim_start();
            (l.starts_with("rm ") || l.contains("; rm ") || l.contains("&& rm "))
                && (l.contains(".json") || l.contains("agent-"))
        });
        assert!(
            !deletes,
            "docs/demo.md:{} deletes a state file:\n{}",
            block.line, block.text
        );
        if block.text.contains("moolai-agent") {
            assert!(
                !block.text.contains("CONFIG_FILE=/tmp/"),
                "docs/demo.md:{}: a state file in /tmp is lost at reboot with its token",
                block.line
            );
        }
    }
    // Where admins are described, the dev token's limit is said.
    for (doc, text, needle) in [
        (
            "README.md",
            &readme,
            "the Admins page adds and removes admins",
        ),
        ("docs/security.md", &security, "**Admins.**"),
    ] {
        let said = paragraph_with(text, needle);
        assert!(
            said.contains("dev token") || said.contains("DEV_BEARER_TOKEN"),
            "{doc} describes admins without saying the dev token cannot manage them:\n{said}"
        );
    }
}
