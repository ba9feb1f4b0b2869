//! Issue 15 on a real stack: configuration as versions the orchestrators
//! acknowledge (`config_status`), history and rollback, resends when an answer
//! names another configuration, and rollouts in waves that pause by themselves.

use std::time::Duration;

use moolai_agent::{Orchestrator, Stats};
use moolai_tests::api::{admin_stack, register, Api, C};
use moolai_tests::ws::{
    connect, handshake, next_json, next_of_type, next_of_type_within, send_json, Ws,
};
use moolai_tests::{start_edge, start_one_core, start_persister, TestEnv};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);

/// Runs the Rust agent as `id`, failing to apply any configuration naming
/// one of `fail`; stops with the returned token.
fn agent(url: &str, id: &str, fail: &[&str]) -> CancellationToken {
    let shutdown = CancellationToken::new();
    let orchestrator = Orchestrator {
        fail_config_keys: fail.iter().map(|k| (*k).to_owned()).collect(),
        ..Orchestrator::new(
            id,
            vec![url.to_owned()],
            Duration::from_secs(1),
            format!("Agent {id}"),
            "lab",
        )
    };
    moolai_agent::spawn(orchestrator, Stats::default(), shutdown.clone());
    shutdown
}

async fn config(api: &Api, id: &str) -> Value {
    let (code, v) = api.get(&format!("{C}/orchestrators/{id}/config")).await;
    assert_eq!(code, 200, "{v}");
    v["data"].clone()
}

/// Waits until `id`'s configuration satisfies `check`; returns it.
async fn config_until(api: &Api, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let path = format!("{C}/orchestrators/{id}/config");
    poll(api, &path, &format!("{id}: {what}"), check).await
}

/// Reads `path` until its `data` satisfies `check` (or fails the test after
/// [`WAIT`]); returns that `data`.
async fn poll(api: &Api, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let data = api.get(path).await.1["data"].clone();
        if check(&data) {
            return data;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}; last seen {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn put_features(api: &Api, id: &str, features: Value) -> Value {
    let (code, v) = api
        .put(&format!("{C}/organizations/{id}/features"), features)
        .await;
    assert_eq!(code, 200, "{v}");
    v["data"].clone()
}

/// A raw client announcing both capabilities, after its ack.
async fn reporting_client(url: &str, id: &str) -> Ws {
    let mut ws = connect(url).await;
    let mut hello = handshake(id, true);
    hello["data"]["metadata"]["capabilities"] = json!(["provision_config", "config_status"]);
    send_json(&mut ws, &hello).await;
    assert_eq!(next_json(&mut ws).await["type"], "handshake_ack");
    ws
}

async fn answer(ws: &mut Ws, hash: &str, status: &str) {
    let frame = json!({"type": "config_status", "data": {"hash": hash, "status": status,
                       "effective": {"features": {}, "settings": {}, "policies": {}}}});
    send_json(ws, &frame).await;
}

#[tokio::test]
async fn a_change_is_applied_a_failure_is_reported_and_a_rollback_brings_the_earlier_hash_back() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "cfg-1", "cfg-1").await;
    let stop = agent(&stack.edge.ws_url(), "cfg-1", &["beta"]);

    let first = config_until(&api, "cfg-1", "in sync after connecting", |c| {
        c["in_sync"] == true
    })
    .await;
    assert_eq!(first["reported"]["status"], "applied");
    assert_eq!(first["reported"]["revision"], first["desired"]["revision"]);
    let (good_revision, good_hash) = (
        first["desired"]["revision"].clone(),
        first["desired"]["hash"].clone(),
    );

    put_features(&api, "cfg-1", json!({"cache": {"enabled": false}})).await;
    let applied = config_until(&api, "cfg-1", "the change applied", |c| {
        c["in_sync"] == true && c["desired"]["hash"] != good_hash
    })
    .await;
    assert_eq!(applied["effective"]["features"]["cache"]["enabled"], false);

    put_features(&api, "cfg-1", json!({"beta": {"enabled": true}})).await;
    let failed = config_until(&api, "cfg-1", "the change failed", |c| {
        c["reported"]["status"] == "failed"
    })
    .await;
    assert_eq!(failed["in_sync"], false);
    assert_eq!(failed["reported"]["hash"], failed["desired"]["hash"]);
    let error = failed["reported"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("beta"),
        "the agent's error is kept: {failed}"
    );
    assert!(
        failed["effective"]["features"].get("beta").is_none(),
        "it still runs the one before"
    );

    let (code, v) = api
        .post(
            &format!("{C}/orchestrators/cfg-1/config/rollback"),
            json!({"revision": good_revision}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["data"]["hash"], good_hash,
        "the earlier content has the earlier hash"
    );
    let back = config_until(&api, "cfg-1", "in sync after the rollback", |c| {
        c["in_sync"] == true
    })
    .await;
    assert_eq!(back["desired"]["hash"], good_hash);
    assert!(back["desired"]["revision"].as_i64() > failed["desired"]["revision"].as_i64());

    let (code, v) = api
        .get(&format!("{C}/orchestrators/cfg-1/config/revisions"))
        .await;
    assert_eq!(code, 200, "{v}");
    let revisions = v["data"]["revisions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(revisions[0]["reason"], "rollback");
    assert_eq!(revisions[0]["rolled_back_to"], good_revision);
    assert_eq!(revisions[0]["created_by"], "admin");
    assert_eq!(revisions[1]["outcome"], "failed");
    assert!(revisions[1]["outcome_error"]
        .as_str()
        .unwrap_or_default()
        .contains("beta"));
    assert_eq!(revisions[2]["outcome"], "applied");
    stop.cancel();
}

#[tokio::test]
async fn an_answer_naming_another_configuration_is_answered_with_the_desired_one_again() {
    let (_env, stack, api) = admin_stack().await;
    // Not registered: its first handshake makes its organization, with the
    // empty configuration as revision 1.
    let mut ws = reporting_client(&stack.edge.ws_url(), "cfg-2").await;
    let pushed = next_of_type(&mut ws, "provision_config").await;
    let hash = pushed["hash"]
        .as_str()
        .expect("provision_config carries its hash")
        .to_owned();
    assert_eq!(hash.len(), 64);
    assert_eq!(pushed["revision"], pushed["data"]["revision"]);
    // Its rows are the persister's, written from the handshake's event.
    config_until(&api, "cfg-2", "the pushed hash is the desired one", |c| {
        c["desired"]["hash"] == hash.as_str()
    })
    .await;

    // It says it runs something else: the controller sends the desired one again
    // (after CONFIG_STATUS_WITHIN_SEC, 2 s in tests).
    answer(&mut ws, &"0".repeat(64), "applied").await;
    // The reconciler looks every 2 s and resends after 2 s without an answer
    // for the desired hash: up to 4 s, more on a loaded machine.
    let again = next_of_type_within(&mut ws, "provision_config", WAIT).await;
    assert_eq!(again["hash"], hash);
    answer(&mut ws, &hash, "applied").await;
    config_until(&api, "cfg-2", "in sync", |c| c["in_sync"] == true).await;

    // In sync, it is sent nothing more until the next change: the next
    // provision_config is that change's.
    let changed = put_features(&api, "cfg-2", json!({"cache": {"enabled": false}})).await;
    let next = next_of_type(&mut ws, "provision_config").await;
    assert_eq!(
        next["revision"], changed["revision"],
        "a resend came in between: {next}"
    );
    assert_ne!(next["hash"], hash);
}

#[tokio::test]
async fn the_first_version_client_is_not_reported_never_applied() {
    let (_env, stack, api) = admin_stack().await;
    register(&api, "cfg-old", "cfg-old").await;
    let mut ws = connect(&stack.edge.ws_url()).await;
    send_json(&mut ws, &handshake("cfg-old", false)).await;
    assert_eq!(next_json(&mut ws).await["type"], "handshake_ack");
    let legacy = next_of_type(&mut ws, "provisioning").await;
    assert_eq!(legacy["data"]["orchestrator_id"], "cfg-old");
    let c = config_until(&api, "cfg-old", "connected", |c| c["connected"] == true).await;
    assert_eq!(c["reported"]["status"], "not_reported");
    assert_eq!(c["in_sync"], false);
    let (code, fleet) = api.get(&format!("{C}/config?state=not_reported")).await;
    assert_eq!(code, 200, "{fleet}");
    assert!(fleet["data"]["counts"]["not_reported"].as_i64() >= Some(1));
    let ids: Vec<&Value> = (fleet["data"]["orchestrators"]["items"]
        .as_array()
        .into_iter()
        .flatten())
    .map(|o| &o["orchestrator_id"])
    .collect();
    assert!(ids.contains(&&json!("cfg-old")), "{fleet}");
}

async fn rollout(api: &Api, body: Value) -> Value {
    let (code, v) = api.post(&format!("{C}/rollouts"), body).await;
    assert_eq!(code, 201, "{v}");
    v["data"]["rollout"].clone()
}

async fn rollout_until(api: &Api, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let path = format!("{C}/rollouts/{id}?page_size=100");
    poll(api, &path, &format!("rollout {id}: {what}"), check).await
}

fn outcome_of(detail: &Value, id: &str) -> Value {
    (detail["targets"]["items"].as_array().into_iter().flatten())
        .find(|t| t["orchestrator_id"] == id)
        .map(|t| t["outcome"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_rollout_pauses_at_its_threshold_and_resumes_to_the_end() {
    let (_env, stack, api) = admin_stack().await;
    let ids = ["wv-1", "wv-2", "wv-3", "wv-4"];
    let mut stops = Vec::new();
    for id in ids {
        register(&api, id, id).await;
        // wv-2, the second wave's only target, cannot apply `beta`.
        let fail: &[&str] = if id == "wv-2" { &["beta"] } else { &[] };
        stops.push(agent(&stack.edge.ws_url(), id, fail));
    }
    for id in ids {
        config_until(&api, id, "in sync", |c| c["in_sync"] == true).await;
    }
    let created = rollout(
        &api,
        json!({"change": {"features": {"beta": {"enabled": true}}},
               "selector": {"orchestrator_ids": ids},
               "waves": [25, 50, 100], "failure_threshold_pct": 0, "wave_timeout_sec": 30}),
    )
    .await;
    let id = created["id"].as_str().expect("rollout id").to_owned();
    assert_eq!(created["outcomes"]["total"], 4);

    let paused = rollout_until(&api, &id, "paused by itself", |d| {
        d["rollout"]["state"] == "paused"
    })
    .await;
    let reason = paused["rollout"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("1 of 1 failed"), "{reason}");
    assert_eq!(outcome_of(&paused, "wv-1"), "applied");
    assert_eq!(outcome_of(&paused, "wv-2"), "failed");
    assert_eq!(outcome_of(&paused, "wv-3"), "waiting");
    let untouched = config(&api, "wv-3").await;
    assert!(
        untouched["desired"]["config"]["features"]
            .get("beta")
            .is_none(),
        "{untouched}"
    );

    let (code, v) = api
        .post(&format!("{C}/rollouts/{id}/resume"), json!({}))
        .await;
    assert_eq!(code, 200, "{v}");
    let done = rollout_until(&api, &id, "completed", |d| {
        d["rollout"]["state"] == "completed"
    })
    .await;
    assert_eq!(done["rollout"]["outcomes"]["applied"], 3, "{done}");
    assert_eq!(done["rollout"]["outcomes"]["failed"], 1, "{done}");
    for id in ["wv-3", "wv-4"] {
        let c = config_until(&api, id, "in sync with beta", |c| c["in_sync"] == true).await;
        assert_eq!(c["effective"]["features"]["beta"]["enabled"], true);
    }
    let (code, v) = api
        .post(&format!("{C}/rollouts/{id}/resume"), json!({}))
        .await;
    assert_eq!(code, 409, "a completed rollout cannot resume: {v}");
    for stop in stops {
        stop.cancel();
    }
}

#[tokio::test]
async fn an_orchestrator_offline_during_a_rollout_catches_up_when_it_reconnects() {
    let (_env, stack, api) = admin_stack().await;
    for id in ["off-a", "off-b"] {
        register(&api, id, id).await;
    }
    let stop_a = agent(&stack.edge.ws_url(), "off-a", &[]);
    config_until(&api, "off-a", "in sync", |c| c["in_sync"] == true).await;
    let created = rollout(
        &api,
        json!({"change": {"settings": {"sampling": 0.5}},
               "selector": {"orchestrator_ids": ["off-a", "off-b"]}, "waves": [100]}),
    )
    .await;
    let id = created["id"].as_str().expect("rollout id").to_owned();
    let done = rollout_until(&api, &id, "completed", |d| {
        d["rollout"]["state"] == "completed"
    })
    .await;
    assert_eq!(outcome_of(&done, "off-a"), "applied");
    assert_eq!(outcome_of(&done, "off-b"), "offline");

    let stop_b = agent(&stack.edge.ws_url(), "off-b", &[]);
    let caught_up = config_until(&api, "off-b", "in sync on reconnect", |c| {
        c["in_sync"] == true
    })
    .await;
    assert_eq!(caught_up["effective"]["settings"]["sampling"], 0.5);
    rollout_until(&api, &id, "off-b counted applied", |d| {
        outcome_of(d, "off-b") == "applied"
    })
    .await;
    stop_a.cancel();
    stop_b.cancel();
}

#[tokio::test]
async fn bad_configuration_input_gets_a_clear_answer() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let api = Api::admin(stack.core.addr).await;
    register(&api, "bad-1", "bad-1").await;
    let mut ws = reporting_client(&stack.edge.ws_url(), "bad-1").await;
    next_of_type(&mut ws, "provision_config").await;
    send_json(
        &mut ws,
        &json!({"type": "config_status", "data": {"hash": "xyz", "status": "applied"}}),
    )
    .await;
    let error = next_of_type(&mut ws, "error").await;
    assert_eq!(error["data"]["frame"], "config_status", "{error}");
    send_json(
        &mut ws,
        &json!({"type": "config_status", "data": {"hash": "a", "status": "done"}}),
    )
    .await;
    assert_eq!(
        next_of_type(&mut ws, "error").await["data"]["code"],
        "invalid_frame"
    );

    let cases = [
        (
            format!("{C}/orchestrators/bad-1/config/rollback"),
            json!({"revision": 999}),
            404,
        ),
        (
            format!("{C}/orchestrators/bad-1/config/rollback"),
            json!({"revision": 0}),
            422,
        ),
        (
            format!("{C}/orchestrators/nobody/config/rollback"),
            json!({"revision": 1}),
            404,
        ),
        (
            format!("{C}/rollouts"),
            json!({"change": {"features": {"a": true}}, "selector": {"all": true}, "waves": [50]}),
            422,
        ),
        (
            format!("{C}/rollouts"),
            json!({"change": {}, "selector": {"all": true}}),
            422,
        ),
        (
            format!("{C}/rollouts"),
            json!({"change": {"features": {"a": true}}, "selector": {"location": "nowhere"}}),
            422,
        ),
        (format!("{C}/rollouts/ro_unknown/pause"), json!({}), 404),
    ];
    for (path, body, status) in cases {
        let (code, v) = api.post(&path, body.clone()).await;
        assert_eq!(code, status, "{path} {body}: {v}");
    }
    let (code, _) = api.get(&format!("{C}/orchestrators/nobody/config")).await;
    assert_eq!(code, 404);
    let (code, _) = api.get(&format!("{C}/config?state=happy")).await;
    assert_eq!(code, 422);
}

/// A raw reporting client announcing `labels` in its handshake.
async fn labelled_client(url: &str, id: &str, labels: Value) -> Ws {
    let mut ws = connect(url).await;
    let mut hello = handshake(id, true);
    hello["data"]["metadata"]["capabilities"] = json!(["provision_config", "config_status"]);
    hello["data"]["metadata"]["labels"] = labels;
    hello["data"]["metadata"]["location"] = json!("berlin");
    send_json(&mut ws, &hello).await;
    assert_eq!(next_json(&mut ws).await["type"], "handshake_ack");
    ws
}

#[tokio::test]
async fn a_selector_picks_organizations_by_labels_and_location() {
    let (_env, stack, api) = admin_stack().await;
    let url = stack.edge.ws_url();
    let _canary = labelled_client(&url, "sel-1", json!({"tier": "canary", "zone": "a"})).await;
    let _other = labelled_client(&url, "sel-2", json!({"tier": "stable"})).await;
    register(&api, "sel-3", "sel-3").await; // located in "lab"
    for id in ["sel-1", "sel-2"] {
        // The handshake is stored (and its labels with it) before a selector can see it.
        config_until(&api, id, "stored", |c| {
            c["connected"] == true && c["desired"]["revision"] == 1
        })
        .await;
    }
    let pick = |selector: Value| {
        let api = &api;
        async move {
            let (code, v) = api
                .post(
                    &format!("{C}/rollouts"),
                    json!({"change": {"settings": {"x": 1}}, "selector": selector, "waves": [100]}),
                )
                .await;
            assert_eq!(code, 201, "{v}");
            let ids: Vec<String> = (v["data"]["targets"]["items"]
                .as_array()
                .into_iter()
                .flatten())
            .filter_map(|t| t["orchestrator_id"].as_str().map(str::to_owned))
            .collect();
            ids
        }
    };
    assert_eq!(pick(json!({"labels": {"tier": "canary"}})).await, ["sel-1"]);
    assert_eq!(pick(json!({"location": "lab"})).await, ["sel-3"]);
    assert_eq!(
        pick(json!({"location": "berlin", "orchestrator_ids": ["sel-3"]})).await,
        ["sel-1", "sel-2", "sel-3"]
    );
}

#[tokio::test]
async fn every_handshake_is_provisioned_with_the_newest_configuration_whichever_replica_decides_it()
{
    // Configurations are held in memory by every core replica (with
    // MOOLAI_TEST_CORES=2, CI's main pass, handshakes are decided by either).
    let (_env, stack, api) = admin_stack().await;
    register(&api, "mem-1", "mem-1").await;
    let url = stack.edge.ws_url();
    // Reconnects first, so that each replica has decided one and holds the
    // configuration it is about to be told of.
    for _ in 0..6 {
        let mut ws = reporting_client(&url, "mem-1").await;
        next_of_type(&mut ws, "provision_config").await;
    }
    let mut ws = reporting_client(&url, "mem-1").await;
    next_of_type(&mut ws, "provision_config").await;
    let changed = put_features(&api, "mem-1", json!({"cache": {"enabled": false}})).await;
    let pushed = next_of_type(&mut ws, "provision_config").await;
    assert_eq!(pushed["revision"], changed["revision"]);
    drop(ws);
    for round in 0..6 {
        let mut ws = reporting_client(&url, "mem-1").await;
        let welcome = next_of_type(&mut ws, "provision_config").await;
        assert_eq!(
            welcome["revision"], changed["revision"],
            "reconnect {round}: {welcome}"
        );
        assert_eq!(welcome["hash"], pushed["hash"], "reconnect {round}");
        assert_eq!(welcome["data"]["features"]["cache"]["enabled"], false);
    }
}

#[tokio::test]
async fn a_replica_told_of_another_replicas_change_provisions_the_next_handshake_with_it() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    // Replica B alone decides the first handshake, so it holds revision 1.
    let b = start_one_core(env.core_config()).await;
    let edge = start_edge(env.edge_config("edge-1")).await;
    let api_b = Api::admin(b.addr).await;
    register(&api_b, "told-1", "told-1").await;
    let mut ws = reporting_client(&edge.ws_url(), "told-1").await;
    let first = next_of_type(&mut ws, "provision_config").await;
    // Replica A makes a change: B is told, and reloads it.
    let a = start_one_core(moolai_core::Config {
        core_id: None,
        ..env.core_config()
    })
    .await;
    let changed = put_features(
        &Api::admin(a.addr).await,
        "told-1",
        json!({"beta": {"enabled": true}}),
    )
    .await;
    let pushed = next_of_type(&mut ws, "provision_config").await;
    assert_eq!(pushed["revision"], changed["revision"]);
    assert_ne!(pushed["hash"], first["hash"]);
    // With A gone, B decides the reconnect from what it holds. A handshake
    // decided in the milliseconds before B has reloaded may be welcomed with
    // the older revision; B's reload then sends the newer one at once.
    a.stop().await;
    drop(ws);
    let mut ws = reporting_client(&edge.ws_url(), "told-1").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let frame = next_of_type(&mut ws, "provision_config").await;
        if frame["revision"] == changed["revision"] {
            assert_eq!(frame["hash"], pushed["hash"]);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {frame}");
    }
}

#[tokio::test]
async fn organizations_written_before_revisions_get_their_hash_when_the_persister_starts() {
    let env = TestEnv::new().await;
    start_persister(env.persister_config()).await.stop().await; // migrated
    let db = sqlx::PgPool::connect(&env.db_url).await.unwrap();
    sqlx::query(
        "INSERT INTO organizations (organization_id, name, features, config_revision)
              VALUES ('old-1', 'Old', '{\"cache\": {\"enabled\": true}}', 7)",
    )
    .execute(&db)
    .await
    .unwrap();
    let _persister = start_persister(env.persister_config()).await;
    let hashed: Option<String> = env
        .scalar(
            "SELECT config_hash FROM organizations WHERE organization_id = $1",
            "old-1",
        )
        .await;
    let expected = moolai_proto::config::ConfigContent {
        features: json!({"cache": {"enabled": true}}),
        settings: json!({}),
        policies: json!({}),
    }
    .hash();
    assert_eq!(
        hashed.as_deref(),
        Some(expected.as_str()),
        "filled before the persister is ready"
    );
    let first: Option<i64> = env
        .scalar("SELECT revision FROM config_revisions WHERE organization_id = $1 AND reason = 'initial'", "old-1")
        .await;
    assert_eq!(
        first,
        Some(7),
        "its current configuration is its first kept revision"
    );
}
