//! Core replicated (issue 14): several `moolai-core` processes with the same
//! settings on one bus and one database form one controller. Real processes, so
//! a replica can be `kill -9`ed; real NATS and PostgreSQL.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use moolai_proto::CoreId;
use moolai_tests::api::{login_as, Api};
use moolai_tests::netns::NatsBehindLinks;
use moolai_tests::ws::{connect_as, next_json, send_json, Ws};
use moolai_tests::{
    free_port, http, start_edge, start_one_core, start_persister, wait_ready, wait_until,
    workspace_bin, TestEnv, ADMIN_PASSWORD,
};
use serde_json::{json, Value};
use tokio::process::Child;

const I: &str = "/api/v1/internal";
const C: &str = "/api/v1/controller";

/// One core replica as a process.
struct Replica {
    id: String,
    addr: SocketAddr,
    child: Child,
}

/// Starts a core replica named `id` with the settings every replica shares
/// (only the listen address differs), and waits until it is ready.
async fn replica(env: &TestEnv, id: &str, ttl_sec: u64) -> Replica {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = tokio::process::Command::new(workspace_bin("moolai-core"))
        .envs(env.nats_vars("core"))
        .env("MOOLAI_SUBJECT_PREFIX", &env.prefix)
        .env("RUST_LOG", "warn")
        .env("DATABASE_URL", &env.db_url)
        .env("CORE_LISTEN", &listen)
        .env("CORE_ID", id)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("HEARTBEAT_TTL_SEC", ttl_sec.to_string())
        .env("LIVENESS_SWEEP_MS", "250")
        .env("HEARTBEAT_FLUSH_MS", "100")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start moolai-core");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_ready(addr).await;
    Replica {
        id: id.to_owned(),
        addr,
        child,
    }
}

/// `GET /controller/cores` as `api` sees it: (replica, holds the duties).
async fn cores(api: &Api) -> Vec<(String, bool)> {
    let (status, v) = api.get(&format!("{C}/cores")).await;
    if status != 200 {
        return Vec::new();
    }
    v["data"]["cores"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let id = c["core_id"].as_str().unwrap_or_default().to_owned();
            let holds = c["duties"].as_array().is_some_and(|d| !d.is_empty());
            (id, holds)
        })
        .collect()
}

/// The replica holding the singleton duties once exactly one of `expected`
/// replicas is listed as holding them, as `api` sees it.
async fn duty_holder(api: &Api, expected: usize, limit: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let listed = cores(api).await;
        let holders: Vec<_> = listed.iter().filter(|(_, h)| *h).collect();
        if listed.len() == expected && holders.len() == 1 {
            return Some(holders[0].0.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Ids `api`'s replica lists as connected now.
async fn live_ids(api: &Api) -> Vec<String> {
    let (_, v) = api.get(&format!("{C}/orchestrators/live")).await;
    let mut ids: Vec<String> = v["data"]["orchestrators"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys().cloned())
        .collect();
    ids.sort();
    ids
}

/// Frame types `sock` receives until one of type `marker` (included),
/// leaving out the edge's own heartbeats.
async fn types_until(sock: &mut Ws, marker: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let frame: Value = next_json(sock).await;
        let kind = frame["type"].as_str().unwrap_or_default().to_owned();
        if kind == "controller_heartbeat" {
            continue;
        }
        seen.push(kind.clone());
        if kind == marker {
            return seen;
        }
    }
}

/// `POST …/send` of a frame of type `kind` to `org-rep-0` through `api`.
async fn send_to_rep_0(api: &Api, kind: &str) {
    let frame = json!({ "type": kind });
    let (status, v) = api
        .post(&format!("{I}/orchestrators/org-rep-0/send"), frame)
        .await;
    assert_eq!(status, 200, "send {kind}: {v}");
}

#[tokio::test]
async fn every_replica_lists_the_whole_fleet_and_each_push_arrives_once() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let mut replicas = Vec::new();
    for id in ["core-a", "core-b", "core-c"] {
        replicas.push(replica(&env, id, 120).await);
    }
    let apis: Vec<Api> =
        futures::future::join_all(replicas.iter().map(|r| Api::admin(r.addr))).await;
    let edges = [
        start_edge(env.edge_config("edge-1")).await,
        start_edge(env.edge_config("edge-2")).await,
    ];
    let holder = duty_holder(&apis[0], 3, Duration::from_secs(10))
        .await
        .expect("one holder");
    // Each replica's /metrics says whether it holds the duties.
    for r in &replicas {
        let (_, body) = http::get(r.addr, "/metrics").await.unwrap();
        let held = if r.id == holder { 1 } else { 0 };
        let line = format!("moolai_core_duty_held{{duty=\"singleton\"}} {held}");
        assert!(
            body.lines().any(|l| l == line),
            "{}: no `{line}` in its metrics",
            r.id
        );
    }

    let ids: Vec<String> = (0..6).map(|n| format!("org-rep-{n}")).collect();
    let mut socks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        socks.push(connect_as(&edges[n % 2].ws_url(), id, true).await);
    }
    for api in &apis {
        let listed = wait_until(Duration::from_secs(10), || async {
            live_ids(api).await == ids
        })
        .await;
        assert!(
            listed.is_some(),
            "a replica lists the whole fleet: {:?}",
            live_ids(api).await
        );
    }

    // A push through each replica, then a marker: each arrives exactly once,
    // and the handshake was provisioned once whichever replica decided it.
    for (n, api) in apis.iter().enumerate() {
        send_to_rep_0(api, &format!("ping_{n}")).await;
    }
    send_to_rep_0(&apis[1], "marker").await;
    let seen = types_until(&mut socks[0], "marker").await;
    let count = |kind: &str| seen.iter().filter(|k| *k == kind).count();
    assert_eq!(count("provision_config"), 1, "provisioned once: {seen:?}");
    for n in 0..apis.len() {
        assert_eq!(
            count(&format!("ping_{n}")),
            1,
            "push through replica {n}: {seen:?}"
        );
    }

    // The orchestrator's own request for its configuration is answered once
    // too (every replica would read and answer at the same time, so a second
    // answer would come right behind the first, before a later push).
    send_json(&mut socks[0], &json!({"type": "provisioning_request"})).await;
    assert_eq!(
        types_until(&mut socks[0], "provision_config").await.len(),
        1
    );
    send_to_rep_0(&apis[2], "marker").await;
    let seen = types_until(&mut socks[0], "marker").await;
    assert_eq!(seen, ["marker"], "one answer per request");
}

#[tokio::test]
async fn duties_move_when_their_holder_is_killed_and_liveness_goes_on() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let mut replicas = Vec::new();
    for id in ["core-a", "core-b", "core-c"] {
        replicas.push(replica(&env, id, 3).await);
    }
    let edge = start_edge(env.edge_config("edge-1")).await;
    let mut beating = connect_as(&edge.ws_url(), "org-beating", true).await;
    let beat = tokio::spawn(async move {
        loop {
            send_json(&mut beating, &json!({"type": "i_am_alive"})).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    let mut silent_socks = Vec::new();
    for round in 0..2 {
        let survivors = replicas.len();
        let api = Api::admin(replicas[survivors - 1].addr).await;
        let holder = duty_holder(&api, survivors, Duration::from_secs(10))
            .await
            .expect("one holder");
        let index = replicas.iter().position(|r| r.id == holder).unwrap();
        let mut killed = replicas.remove(index);
        let api = Api::admin(replicas[0].addr).await;
        killed.child.start_kill().unwrap();
        let at = Instant::now();
        killed.child.wait().await.unwrap();
        // Heartbeats are recorded again within 3 s (the beating orchestrator's
        // row moves past the moment of the kill).
        let killed_at = chrono::Utc::now();
        let recorded = wait_until(Duration::from_secs(3), || async {
            let seen: Option<chrono::DateTime<chrono::Utc>> = env
                .scalar(
                    "SELECT last_seen FROM orchestrator_instances WHERE orchestrator_id = $1",
                    "org-beating",
                )
                .await;
            seen.is_some_and(|seen| seen > killed_at)
        })
        .await;
        assert!(
            recorded.is_some(),
            "round {round}: no heartbeat recorded within 3 s of the kill"
        );
        eprintln!(
            "round {round}: heartbeats recorded again {:?} after the kill",
            recorded.unwrap()
        );
        let next = duty_holder(&api, survivors - 1, Duration::from_secs(10))
            .await
            .expect("the duties move to a survivor");
        assert_ne!(next, holder);
        eprintln!(
            "round {round}: {holder} killed, {next} holds the duties after {:?}",
            at.elapsed()
        );

        // A silent orchestrator is still marked inactive by the survivors.
        let silent = format!("org-silent-{round}");
        silent_socks.push(connect_as(&edge.ws_url(), &silent, true).await);
        assert!(env.becomes_active(&silent, Duration::from_secs(5)).await);
        let inactive = wait_until(Duration::from_secs(20), || async {
            env.status(&silent).await.as_deref() == Some("inactive")
        })
        .await;
        assert!(
            inactive.is_some(),
            "round {round}: {silent} marked inactive"
        );
        assert_eq!(
            env.status("org-beating").await.as_deref(),
            Some("active"),
            "round {round}: the beating orchestrator never flipped"
        );
    }

    // Independence set through the last survivor holds and is logged.
    let api = Api::admin(replicas[0].addr).await;
    let path = format!("{I}/orchestrators/org-beating/independence");
    let (status, v) = api.put(&path, json!({"is_independent": true})).await;
    assert_eq!(status, 200, "{v}");
    let logged = wait_until(Duration::from_secs(10), || async {
        let (_, v) = api
            .get(&format!(
                "{I}/logs?q=Ignoring%20heartbeat%20from%20independent%20orchestrator%20org-beating"
            ))
            .await;
        v["data"]["total"].as_u64().unwrap_or_default() > 0
    })
    .await;
    assert!(logged.is_some(), "the survivor logs the ignored heartbeats");
    assert_eq!(
        env.status("org-beating").await.as_deref(),
        Some("independent")
    );

    // A replica started now has the whole view within 10 s.
    let rejoined = replica(&env, "core-d", 3).await;
    let rejoined_api = Api::admin(rejoined.addr).await;
    let whole = live_ids(&api).await;
    assert_eq!(
        whole.len(),
        3,
        "org-beating and the two silent ones: {whole:?}"
    );
    let caught_up = wait_until(Duration::from_secs(10), || async {
        live_ids(&rejoined_api).await == whole
    })
    .await;
    assert!(
        caught_up.is_some(),
        "the new replica lists {:?}",
        live_ids(&rejoined_api).await
    );
    beat.abort();
}

#[tokio::test]
async fn two_replicas_racing_the_same_write_produce_one_result() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let a = replica(&env, "core-a", 120).await;
    let b = replica(&env, "core-b", 120).await;
    let (api_a, api_b) = (Api::admin(a.addr).await, Api::admin(b.addr).await);
    let body = json!({"org_id": "org-race", "name": "Race", "location": "lab"});
    let path = format!("{C}/organizations");
    let (first, second) = tokio::join!(api_a.post(&path, body.clone()), api_b.post(&path, body));
    let mut statuses = [first.0.as_u16(), second.0.as_u16()];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 409],
        "one wins, one is told: {first:?} {second:?}"
    );
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM organizations WHERE organization_id = 'org-race'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_replica_cut_off_from_nats_stops_being_ready_and_hands_its_duties_over() {
    let Some(nats) = NatsBehindLinks::start_or_skip(2).await else {
        return;
    };
    let mut env = TestEnv::new().await;
    env.nats_url = nats.url(1);
    env.provision_bus().await;
    let _persister = start_persister(env.persister_config()).await;
    // The replica to be cut starts first, so it holds the duties.
    let mut config = env.core_config();
    config.service.nats.url = nats.url(0);
    config.core_id = Some(CoreId::parse("core-cut").unwrap());
    config.heartbeat_ttl_sec = 3;
    let cut = start_one_core(config).await;
    let mut config = env.core_config();
    config.core_id = Some(CoreId::parse("core-ok").unwrap());
    config.heartbeat_ttl_sec = 3;
    let ok = start_one_core(config).await;
    let (api_cut, api_ok) = (Api::admin(cut.addr).await, Api::admin(ok.addr).await);
    assert_eq!(
        duty_holder(&api_ok, 2, Duration::from_secs(10))
            .await
            .as_deref(),
        Some("core-cut")
    );
    let edge = start_edge(env.edge_config("edge-1")).await;

    nats.cut(0);
    let at = Instant::now();
    let unready = wait_until(Duration::from_secs(15), || async {
        matches!(http::get(cut.addr, "/readyz").await, Ok((503, _)))
    })
    .await;
    assert!(unready.is_some(), "the cut replica still says it is ready");
    eprintln!("cut replica unready after {:?}", at.elapsed());
    // It says itself that it holds nothing, and the other took over.
    let own = cores(&api_cut).await;
    assert!(
        own.iter().all(|(_, holds)| !holds),
        "the cut replica still acts: {own:?}"
    );
    assert_eq!(
        duty_holder(&api_ok, 1, Duration::from_secs(15))
            .await
            .as_deref(),
        Some("core-ok")
    );
    eprintln!("core-ok holds the duties after {:?}", at.elapsed());
    // And liveness goes on through the replica that still reaches the bus.
    let _sock = connect_as(&edge.ws_url(), "org-after-cut", true).await;
    assert!(
        env.becomes_active("org-after-cut", Duration::from_secs(5))
            .await
    );
    let inactive = wait_until(Duration::from_secs(20), || async {
        env.status("org-after-cut").await.as_deref() == Some("inactive")
    })
    .await;
    assert!(
        inactive.is_some(),
        "a silent orchestrator is still marked inactive"
    );
}

#[tokio::test]
async fn failed_logins_on_one_replica_throttle_the_same_user_on_another() {
    let env = TestEnv::new().await;
    let _persister = start_persister(env.persister_config()).await;
    let a = start_one_core(env.core_config()).await;
    let b = start_one_core(env.core_config()).await;
    for n in 0..3 {
        let (status, v) = login_as(a.addr, "admin", "not the password").await;
        assert_eq!(status, 401, "failure {n} on replica a: {v}");
    }
    // Without sharing, replica b would admit three failures of its own first.
    let mut admitted_on_b = 0;
    let start = Instant::now();
    let mut throttled = None;
    while start.elapsed() < Duration::from_secs(5) {
        match login_as(b.addr, "admin", "not the password")
            .await
            .0
            .as_u16()
        {
            429 => {
                throttled = Some(start.elapsed());
                break;
            }
            401 => admitted_on_b += 1,
            other => panic!("replica b answered {other}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(throttled.is_some(), "replica b never throttled admin");
    assert!(
        admitted_on_b < 3,
        "replica b admitted {admitted_on_b} failures of its own"
    );
}
