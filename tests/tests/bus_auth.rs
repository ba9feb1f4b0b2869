//! The bus is authenticated: the shipped nats.conf refuses anonymous clients,
//! each role logs in as its own user with only the permissions it needs, and the
//! read-only `monitor` user can watch the subject tree and nothing else. Every
//! test runs a private nats-server with the shipped config (`NATS_SERVER_BIN`).

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, Event};
use chrono::Utc;
use futures::StreamExt;
use moolai_proto::commands::{Command, Failure, Reply};
use moolai_proto::events::EdgeCommand;
use moolai_proto::subjects::{CORE_QUEUE, PERSISTER_QUEUE};
use moolai_proto::{EdgeId, OrchestratorId, Subjects};
use moolai_tests::api::{login_as, register, Api};
use moolai_tests::faults::NatsServer;
use moolai_tests::ws::{connect_as, next, next_of_type, send_json, Next, Ws};
use moolai_tests::{
    nats_password, stack_on_private_broker, wait_until, TestEnv, ADMIN_PASSWORD, NATS_ROLES,
};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// The hash of a session token an attacker would like to be valid.
const FORGED: &str = "forged-session-token-hash";

/// A client logged in as `role`, with the errors the server reports to it
/// (permission violations) as they come.
async fn watched(env: &TestEnv, role: &str) -> (async_nats::Client, UnboundedReceiver<String>) {
    watched_at(&env.nats_url, role).await
}

async fn watched_at(url: &str, role: &str) -> (async_nats::Client, UnboundedReceiver<String>) {
    let (tx, rx) = unbounded_channel();
    let client = ConnectOptions::with_user_and_password(role.to_owned(), nats_password(role))
        .custom_inbox_prefix(format!("_INBOX.{role}"))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let Event::ServerError(err) = event {
                    let _ = tx.send(err.to_string());
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{role} logs in: {e}"));
    (client, rx)
}

/// Waits for the server to refuse something on `subject` (publish or subscribe).
async fn refused(errors: &mut UnboundedReceiver<String>, subject: &str) {
    refused_text(errors, &format!("\"{subject}\"")).await;
}

/// Waits for the server to refuse a subscription to `subject` in `queue`.
async fn refused_queue(errors: &mut UnboundedReceiver<String>, subject: &str, queue: &str) {
    refused_text(errors, &format!("\"{subject}\" using queue \"{queue}\"")).await;
}

/// Waits for a permissions violation whose text holds `what` (quoted, so a
/// refusal of a longer subject does not count for a shorter one).
async fn refused_text(errors: &mut UnboundedReceiver<String>, what: &str) {
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(err) = errors.recv().await {
            let err = err.to_lowercase();
            if err.contains("permissions violation") && err.contains(&what.to_lowercase()) {
                return;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "the server did not refuse {what}");
}

/// A `create_session` command for `FORGED` as core would send it.
fn forged_session() -> Vec<u8> {
    serde_json::to_vec(&Command::CreateSession {
        token_hash: FORGED.into(),
        username: "admin".into(),
        expires_at: Utc::now() + chrono::Duration::hours(1),
    })
    .unwrap()
}

/// After a real login has been written (so anything sent before it was seen),
/// no session with the forged hash exists.
async fn no_forged_session(env: &TestEnv, core: std::net::SocketAddr) {
    let (status, body) = login_as(core, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "a real login still works: {body}");
    let forged: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE token_hash = $1")
        .bind(FORGED)
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(forged, 0, "a session was minted over the bus");
}

/// A counter's value on a role's `/metrics` (0 while it has none).
async fn metric(addr: SocketAddr, name: &str) -> f64 {
    let Ok((200, body)) = moolai_tests::http::get(addr, "/metrics").await else {
        return 0.0;
    };
    body.lines()
        .filter_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
        .sum()
}

/// Stores `payloads` as the entries of a bucket of the test's own, as core
/// (the one role that may write KV entries): what a consumer an edge may
/// create could be made to deliver. Returns the bucket's stream and the
/// filter naming its entries.
async fn plant(env: &TestEnv, payloads: &[Vec<u8>]) -> (String, String) {
    let js = async_nats::jetstream::new(env.bus_client("core").await);
    let bucket = format!("{}_bait", env.prefix);
    let kv = js
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: bucket.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    for (n, payload) in payloads.iter().enumerate() {
        kv.put(format!("k{n}"), payload.clone().into())
            .await
            .unwrap();
    }
    (format!("KV_{bucket}"), format!("$KV.{bucket}.>"))
}

/// Asks, as `client`, for a push consumer on `stream` of what `filter` names,
/// delivering to `deliver` (in queue group `group`) — the one kind of consumer
/// an edge's NATS user may create: named, its filter in the request's subject.
/// Returns the server's answer.
async fn push_consumer(
    client: &async_nats::Client,
    stream: &str,
    filter: &str,
    deliver: &str,
    group: Option<&str>,
) -> Value {
    let name = format!("evil_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut config = json!({"name": name, "deliver_subject": deliver,
        "filter_subject": filter, "ack_policy": "none", "deliver_policy": "all"});
    if let Some(group) = group {
        config["deliver_group"] = json!(group);
    }
    let body = json!({"stream_name": stream, "config": config});
    let subject = format!("$JS.API.CONSUMER.CREATE.{stream}.{name}.{filter}");
    let answer = client
        .request(subject, body.to_string().into())
        .await
        .expect("the server answers a request an edge may make");
    serde_json::from_slice(&answer.payload).unwrap()
}

/// The connection id an orchestrator's socket got, once the persister has it.
async fn conn_id_of(env: &TestEnv, id: &str) -> uuid::Uuid {
    let sql = "SELECT conn_id::text FROM orchestrator_instances WHERE orchestrator_id = $1";
    let found = wait_until(Duration::from_secs(10), || async {
        env.scalar::<String>(sql, id).await.is_some()
    })
    .await;
    assert!(found.is_some(), "{id}'s connection was never stored");
    env.scalar::<String>(sql, id)
        .await
        .unwrap()
        .parse()
        .unwrap()
}

/// A `deliver` of a forged configuration and a `close`, as core would send
/// them to the edge holding `conn_id`.
fn forged_commands(id: &str, conn_id: uuid::Uuid) -> Vec<Vec<u8>> {
    let orchestrator_id = OrchestratorId::parse(id).unwrap();
    let frame = json!({"type": "provision_config", "data": {"features": ["forged_feature"]}});
    let deliver = EdgeCommand::Deliver {
        orchestrator_id: orchestrator_id.clone(),
        conn_id,
        frames: vec![frame.to_string()],
    };
    let close = EdgeCommand::Close {
        orchestrator_id,
        conn_id,
        code: 4000,
        reason: "forged".into(),
    };
    [deliver, close]
        .iter()
        .map(|c| serde_json::to_vec(c).unwrap())
        .collect()
}

/// The frames the socket receives up to the first one holding `needle`;
/// fails the test if the socket is closed first.
async fn frames_until(ws: &mut Ws, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match next(ws).await {
            Next::Json(v) => {
                let text = v.to_string();
                let done = text.contains(needle);
                seen.push(text);
                if done {
                    return seen;
                }
            }
            other => panic!("socket ended before {needle}: {other:?} after {seen:?}"),
        }
    }
}

/// How many consumers the events stream has: persister-events, core's shared
/// `core`, and each core replica's view.
async fn events_consumers(env: &TestEnv, subjects: &Subjects) -> usize {
    let js = async_nats::jetstream::new(env.bus_client("core").await);
    let mut events = js.get_stream(subjects.events_stream()).await.unwrap();
    events.info().await.unwrap().state.consumer_count
}

#[tokio::test]
async fn the_shipped_config_refuses_anonymous_clients_and_wrong_passwords() {
    let Some(nats) = NatsServer::start().await else {
        eprintln!("NATS_SERVER_BIN not set; skipping (scripts/test.sh sets it)");
        return;
    };
    let anonymous = ConnectOptions::new().connect(nats.url()).await;
    let err = anonymous.expect_err("an anonymous client got in");
    assert_eq!(
        err.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
    let wrong = ConnectOptions::with_user_and_password("core".into(), "not-the-password".into())
        .connect(nats.url())
        .await;
    let err = wrong.expect_err("a wrong password got in");
    assert_eq!(
        err.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
    for role in NATS_ROLES {
        ConnectOptions::with_user_and_password(role.into(), nats_password(role))
            .connect(nats.url())
            .await
            .unwrap_or_else(|e| panic!("{role} cannot log in: {e}"));
    }
}

#[tokio::test]
async fn the_monitoring_user_reads_the_subject_tree_and_can_change_nothing() {
    let Some((_nats, env, stack)) = stack_on_private_broker().await else {
        return;
    };
    let subjects = Subjects::new(env.prefix.clone()).unwrap();
    let (monitor, mut errors) = watched(&env, "monitor").await;
    let mut tree = monitor
        .subscribe(format!("{}.>", env.prefix))
        .await
        .unwrap();
    // A flush only writes the subscription out; it is in effect once a message
    // published after it arrives (an edge's log line here).
    let edge = env.bus_client("edge").await;
    let logs = format!("{}.logs.bus-auth", env.prefix);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        edge.publish(logs.clone(), "{}".into()).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(100), tree.next())
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the monitor's subscription never took effect"
        );
    }

    // It sees what happens: an orchestrator's handshake.
    let _sock = connect_as(&stack.edge.ws_url(), "org-watched", true).await;
    let handshake = format!("{}.events.handshake.org-watched", env.prefix);
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(msg) = tree.next().await {
            if msg.subject.as_str() == handshake {
                return;
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "the monitoring user did not see the handshake"
    );
    // Its `<p>.>` does not take the edges' bus probe, whose round trip is the
    // server's "no responders": a subscriber would make every edge think the
    // bus was gone.
    let probe = subjects.edge_probe(&EdgeId::parse("edge-1").unwrap());
    let answer = edge.request(probe, "".into()).await;
    let err = answer.expect_err("the probe was answered");
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );

    // It cannot mint a session, write the token bucket, or touch JetStream.
    let commands = subjects.persist_commands();
    monitor
        .publish_with_reply(
            commands.clone(),
            "_INBOX.monitor.x",
            forged_session().into(),
        )
        .await
        .unwrap();
    refused(&mut errors, &commands).await;
    let kv_key = format!("$KV.{}.org-forged", subjects.token_bucket());
    monitor.publish(kv_key.clone(), "1".into()).await.unwrap();
    refused(&mut errors, &kv_key).await;
    let create_stream = "$JS.API.STREAM.CREATE.evil";
    let body = json!({"name": "evil", "subjects": [format!("{}.>", env.prefix)]});
    monitor
        .publish_with_reply(create_stream, "_INBOX.monitor.y", body.to_string().into())
        .await
        .unwrap();
    refused(&mut errors, create_stream).await;
    let create_consumer = format!("$JS.API.CONSUMER.CREATE.{}", subjects.events_stream());
    monitor
        .publish_with_reply(create_consumer.clone(), "_INBOX.monitor.z", "{}".into())
        .await
        .unwrap();
    refused(&mut errors, &create_consumer).await;
    // Nor read other users' replies, or JetStream's and the bucket's internals.
    for subject in ["_INBOX.>", "$KV.>", "$JS.API.>", ">"] {
        let _sub = monitor.subscribe(subject).await.unwrap();
        refused(&mut errors, subject).await;
    }

    // Nothing changed: a real login and a REST write go through, the forged
    // session does not exist, the bucket has no forged key, no stream or
    // consumer was added.
    no_forged_session(&env, stack.core.addr).await;
    let api = Api::admin(stack.core.addr).await;
    register(&api, "org-rest", "org-rest").await;
    let js = async_nats::jetstream::new(env.bus_client("core").await);
    let kv = js.get_key_value(subjects.token_bucket()).await.unwrap();
    kv.put("org-later", "7".into()).await.unwrap();
    assert!(kv.get("org-later").await.unwrap().is_some());
    assert_eq!(kv.get("org-forged").await.unwrap(), None);
    let consumers = 2 + moolai_tests::test_cores();
    assert_eq!(events_consumers(&env, &subjects).await, consumers);
    assert!(js.get_stream("evil").await.is_err(), "a stream was created");
}

#[tokio::test]
async fn an_edge_cannot_command_the_persister_write_tokens_or_read_replies() {
    let Some((_nats, env, stack)) = stack_on_private_broker().await else {
        return;
    };
    let subjects = Subjects::new(env.prefix.clone()).unwrap();
    let (edge, mut errors) = watched(&env, "edge").await;

    let commands = subjects.persist_commands();
    edge.publish_with_reply(commands.clone(), "_INBOX.edge.x", forged_session().into())
        .await
        .unwrap();
    refused(&mut errors, &commands).await;
    let kv_key = format!("$KV.{}.org-forged", subjects.token_bucket());
    edge.publish(kv_key.clone(), "1".into()).await.unwrap();
    refused(&mut errors, &kv_key).await;
    for denied in [
        format!("$JS.API.STREAM.CREATE.{}", subjects.events_stream()),
        format!("$JS.API.STREAM.DELETE.{}", subjects.events_stream()),
        format!("$JS.API.STREAM.PURGE.KV_{}", subjects.token_bucket()),
    ] {
        edge.publish_with_reply(denied.clone(), "_INBOX.edge.y", "{}".into())
            .await
            .unwrap();
        refused(&mut errors, &denied).await;
    }
    // The persister's answers to core, and the commands themselves, are not
    // an edge's to read.
    for subject in ["_INBOX.core.>", "_INBOX.>", commands.as_str()] {
        let _sub = edge.subscribe(subject.to_owned()).await.unwrap();
        refused(&mut errors, subject).await;
    }

    // What is left to an edge of JetStream delivery: a consumer of KV entries
    // (its token watch is one), delivering anywhere. Were a command-shaped
    // entry stored (core stands in here for whatever could store one), it
    // would reach the persister's group; the persister answers only requests
    // from an inbox.
    let (stream, filter) = plant(&env, &[forged_session()]).await;
    let answer = push_consumer(&edge, &stream, &filter, &commands, Some(PERSISTER_QUEUE)).await;
    assert!(answer.get("error").is_none(), "{answer}");
    // The persister got it and ignored it (counted); then nothing was written.
    let ignored = wait_until(Duration::from_secs(10), || async {
        metric(
            stack.persister.addr,
            "moolai_persister_commands_ignored_total",
        )
        .await
            >= 1.0
    })
    .await;
    assert!(
        ignored.is_some(),
        "the delivered command was not seen and ignored"
    );
    no_forged_session(&env, stack.core.addr).await;
}

#[tokio::test]
async fn the_persister_refuses_a_session_longer_than_the_session_lifetime() {
    let env = TestEnv::new().await;
    let stack = env.stack().await;
    let subjects = Subjects::new(env.prefix.clone()).unwrap();
    let core = env.bus_client("core").await;
    let ask = |expires_at| {
        let core = core.clone();
        let subject = subjects.persist_commands();
        async move {
            let command = Command::CreateSession {
                token_hash: FORGED.into(),
                username: "admin".into(),
                expires_at,
            };
            let payload = serde_json::to_vec(&command).unwrap();
            let msg = core
                .request(subject, payload.into())
                .await
                .expect("answered");
            serde_json::from_slice::<Reply>(&msg.payload).expect("a reply")
        }
    };
    for absurd in [
        Utc::now() + chrono::Duration::days(3650),
        Utc::now() - chrono::Duration::hours(1),
    ] {
        let reply = ask(absurd).await;
        assert!(
            matches!(
                reply,
                Reply::Failed {
                    failure: Failure::Invalid,
                    ..
                }
            ),
            "{absurd}: {reply:?}"
        );
    }
    no_forged_session(&env, stack.core.addr).await;
    // Within the lifetime it is written (the bound is not a refusal of all).
    let reply = ask(Utc::now() + chrono::Duration::hours(1)).await;
    assert!(matches!(reply, Reply::Done { .. }), "{reply:?}");
}

/// Issue 33, F1: an edge's credentials stored a `deliver` shaped like core's in
/// the events stream and had JetStream push it to another edge's commands,
/// which obeyed. Now the edge may create no consumer of the events stream, and
/// an edge obeys no message JetStream delivered.
#[tokio::test]
async fn an_edge_cannot_have_jetstream_command_another_edge() {
    let Some((_nats, env, stack)) = stack_on_private_broker().await else {
        return;
    };
    let subjects = Subjects::new(env.prefix.clone()).unwrap();
    let mut victim = connect_as(&stack.edge.ws_url(), "org-victim", true).await;
    let forged = forged_commands("org-victim", conn_id_of(&env, "org-victim").await);
    let target = subjects.edge_commands(&EdgeId::parse("edge-1").unwrap());
    let (attacker, mut errors) = watched(&env, "edge").await;

    // The attack as found: the forged command stored in the events stream...
    let bait = format!("{}.events.message.forger", env.prefix);
    let js = async_nats::jetstream::new(attacker.clone());
    js.publish(bait.clone(), forged[0].clone().into())
        .await
        .unwrap()
        .await
        .unwrap();
    // ...and a push consumer of it delivering to edge-1: refused in every form.
    let events = subjects.events_stream();
    let body = json!({"stream_name": events, "config": {"deliver_subject": target,
        "filter_subject": bait, "ack_policy": "none", "deliver_policy": "all"}});
    for subject in [
        format!("$JS.API.CONSUMER.CREATE.{events}"),
        format!("$JS.API.CONSUMER.CREATE.{events}.evil.{bait}"),
        format!("$JS.API.CONSUMER.DURABLE.CREATE.{events}.evil"),
        // A create naming core's durable would re-filter it (an update).
        format!("$JS.API.CONSUMER.CREATE.{events}.core.$KV.x.>"),
    ] {
        attacker
            .publish_with_reply(subject.clone(), "_INBOX.edge.f1", body.to_string().into())
            .await
            .unwrap();
        refused(&mut errors, &subject).await;
    }
    // The form it may use names a `$KV` filter, and the server holds the
    // request's filter to it.
    for filter in [
        json!({"filter_subject": bait}),
        json!({"filter_subjects": [bait]}),
    ] {
        let mut config = json!({"name": "evil", "deliver_subject": target, "ack_policy": "none"});
        config
            .as_object_mut()
            .unwrap()
            .extend(filter.as_object().unwrap().clone());
        let body = json!({"stream_name": events, "config": config});
        let subject = format!("$JS.API.CONSUMER.CREATE.{events}.evil.$KV.x.>");
        let answer = attacker.request(subject, body.to_string().into()).await;
        let answer: Value = serde_json::from_slice(&answer.unwrap().payload).unwrap();
        assert!(answer.get("error").is_some(), "{filter}: {answer}");
    }

    // What an edge may still have delivered anywhere: KV entries. Were one
    // shaped like a command (core plants them here), edge-1 still obeys none:
    // what JetStream delivers carries its ack reply.
    let (stream, filter) = plant(&env, &forged).await;
    let mut overheard = attacker.subscribe(target.clone()).await.unwrap();
    let answer = push_consumer(&attacker, &stream, &filter, &target, None).await;
    assert!(answer.get("error").is_none(), "{answer}");
    for _ in &forged {
        let msg = tokio::time::timeout(Duration::from_secs(5), overheard.next())
            .await
            .expect("JetStream delivered the planted commands")
            .unwrap();
        let reply = msg.reply.as_deref().unwrap_or_default();
        assert!(
            reply.starts_with("$JS.ACK."),
            "a delivery's reply: {reply:?}"
        );
    }
    let ignored = wait_until(Duration::from_secs(10), || async {
        metric(stack.edge.addr, "moolai_edge_commands_ignored_total").await >= 2.0
    })
    .await;
    assert!(ignored.is_some(), "edge-1 did not see and ignore both");

    // Nothing changed: a genuine message sent after them arrives on the same
    // socket (still open), with nothing forged before it; no consumer joined
    // the events stream.
    let api = Api::admin(stack.core.addr).await;
    let path = "/api/v1/internal/orchestrators/org-victim/messages";
    let genuine = json!({"message_type": "recommendation", "content": "genuine-after-forgery"});
    api.ok(reqwest::Method::POST, path, Some(genuine)).await;
    let frames = frames_until(&mut victim, "genuine-after-forgery").await;
    assert!(
        frames.iter().all(|f| !f.contains("forged_feature")),
        "{frames:?}"
    );
    let consumers = 2 + moolai_tests::test_cores();
    assert_eq!(events_consumers(&env, &subjects).await, consumers);
}

/// Issue 33, F2: the monitor joined the persister's and core's queue groups and
/// took its share of their work (logins and writes answered 503, heartbeats
/// lost). Now every queue subscription of the monitor is refused, and each
/// group's work all reaches its role.
#[tokio::test]
async fn the_monitor_cannot_join_a_queue_group_and_take_work() {
    let Some((_nats, env, stack)) = stack_on_private_broker().await else {
        return;
    };
    let subjects = Subjects::new(env.prefix.clone()).unwrap();
    let (monitor, mut errors) = watched(&env, "monitor").await;
    let mut joined = Vec::new();
    for (subject, group) in [
        (subjects.persist_commands(), PERSISTER_QUEUE),
        (subjects.all_heartbeats(), CORE_QUEUE),
        (subjects.all_provisioning_requests(), CORE_QUEUE),
        (format!("{}.>", env.prefix), "anything"),
    ] {
        joined.push(
            monitor
                .queue_subscribe(subject.clone(), group.to_owned())
                .await
                .unwrap(),
        );
        refused_queue(&mut errors, &subject, group).await;
    }
    // What the monitor may do, it still does: read the heartbeat batches.
    let mut beats = monitor.subscribe(subjects.all_heartbeats()).await.unwrap();

    // Every write reaches the persister (a second member would take about
    // half: 2^-12 to miss it)...
    let api = Api::admin(stack.core.addr).await;
    for n in 0..12 {
        register(&api, &format!("org-f2-{n}"), "org-f2").await;
    }
    // ...every provisioning request core...
    let mut sock = connect_as(&stack.edge.ws_url(), "org-beating", true).await;
    for _ in 0..6 {
        send_json(&mut sock, &json!({"type": "provisioning_request"})).await;
        next_of_type(&mut sock, "provision_config").await;
    }
    // ...and heartbeats keep it active, each batch seen by the monitor's plain
    // subscription after its refused queue ones.
    for _ in 0..6 {
        send_json(&mut sock, &json!({"type": "i_am_alive"})).await;
        let batch = tokio::time::timeout(Duration::from_secs(5), beats.next()).await;
        assert!(batch.is_ok(), "no heartbeat batch");
    }
    assert!(
        env.becomes_active("org-beating", Duration::from_secs(10))
            .await
    );
    // Messages reach a connection in order, so anything the queue
    // subscriptions had been given would be here before the batches were.
    for sub in &mut joined {
        use futures::FutureExt;
        assert!(sub.next().now_or_never().is_none(), "the monitor took work");
    }
}

/// What a role's NATS user tries and the server must refuse.
enum Act {
    Publish(String),
    Subscribe(String),
    Join(String, &'static str),
}

/// What each role must not do on the bus, beyond what the tests above try.
fn forbidden(role: &str, s: &Subjects) -> Vec<Act> {
    use Act::*;
    let p = s.prefix();
    let events = s.events_stream();
    let edge_1 = s.edge_commands(&EdgeId::parse("edge-1").unwrap());
    let handshake = format!("{p}.events.handshake.org-x");
    let kv = format!("$KV.{}.org-x", s.token_bucket());
    match role {
        "core" => vec![
            Publish(handshake),
            Publish(format!("{p}.deadletter.events")),
            Publish(format!("$JS.API.STREAM.DELETE.{events}")),
            Publish(format!("$JS.API.CONSUMER.CREATE.{events}.persister-events")),
            Subscribe(s.persist_commands()),
            Subscribe("_INBOX.persister.>".into()),
            Subscribe("_INBOX.edge.>".into()),
            Join(s.all_heartbeats(), "persister"),
            Join(s.all_provisioning_requests(), "evil"),
        ],
        "persister" => vec![
            Publish(edge_1.clone()),
            Publish(kv),
            Publish(s.persist_commands()),
            Publish(handshake),
            Publish(s.heartbeat_writes()),
            Publish(format!("$JS.API.CONSUMER.CREATE.{events}")),
            Publish(format!("$JS.API.CONSUMER.CREATE.{events}.core")),
            Subscribe(s.all_heartbeats()),
            Subscribe(edge_1),
            Join(s.persist_commands(), "core"),
        ],
        "edge" => vec![
            Publish(s.edge_commands(&EdgeId::parse("edge-2").unwrap())),
            Publish(s.heartbeat_writes()),
            Publish(s.core_state()),
            Publish(format!(
                "$JS.API.CONSUMER.CREATE.{events}.evil.{p}.events.>"
            )),
            Publish(format!(
                "$JS.API.CONSUMER.CREATE.{events}.persister-events.$KV.x.>"
            )),
            Publish(format!(
                "$JS.API.CONSUMER.CREATE.{events}.persister-writes.$KV.x.>"
            )),
            Publish(format!("$JS.API.CONSUMER.DELETE.{events}.core")),
            Publish(format!("$JS.API.CONSUMER.INFO.{events}.core")),
            Publish(format!("$JS.API.CONSUMER.MSG.NEXT.{events}.core")),
            Publish(format!("$JS.ACK.{events}.core.1.1.1.1.0")),
            Publish(format!("$JS.API.DIRECT.GET.{events}")),
            Publish(format!("$JS.API.STREAM.MSG.GET.{events}")),
            Subscribe(s.all_heartbeats()),
            Subscribe(s.all_events()),
            Join(edge_1, "edges"),
            Join("_INBOX.edge.x".into(), "edges"),
        ],
        "monitor" => vec![
            Publish(format!("{p}.logs.monitor")),
            Join(s.all_logs(), "monitor"),
            Join(format!("{p}.edge.*.commands"), "edges"),
        ],
        other => panic!("no such role {other}"),
    }
}

#[tokio::test]
async fn every_role_is_refused_what_it_must_not_do() {
    let Some(nats) = NatsServer::start().await else {
        eprintln!("NATS_SERVER_BIN not set; skipping (scripts/test.sh sets it)");
        return;
    };
    let subjects = Subjects::new("tforbidden").unwrap();
    for role in NATS_ROLES {
        let (client, mut errors) = watched_at(&nats.url(), role).await;
        let mut held = Vec::new();
        for act in forbidden(role, &subjects) {
            match act {
                Act::Publish(subject) => {
                    let reply = format!("_INBOX.{role}.forbidden");
                    client
                        .publish_with_reply(subject.clone(), reply, "{}".into())
                        .await
                        .unwrap();
                    refused(&mut errors, &subject).await;
                }
                Act::Subscribe(subject) => {
                    held.push(client.subscribe(subject.clone()).await.unwrap());
                    refused(&mut errors, &subject).await;
                }
                Act::Join(subject, group) => {
                    let sub = client.queue_subscribe(subject.clone(), group.to_owned());
                    held.push(sub.await.unwrap());
                    refused_queue(&mut errors, &subject, group).await;
                }
            }
        }
    }
}

/// The user of one edge, as docs/security.md ("One user for all edges") tells
/// an operator to add it: the edges' publish rules, and only its own commands
/// and inbox to read.
const EDGE_1_USER: &str = r#"{ user: edge-1, password: $MOOLAI_NATS_EDGE_1_PASSWORD, permissions: {
      publish: $EDGE_PUBLISH
      subscribe: { allow: ["*.edge.edge-1.commands", "_INBOX.edge-1.>"], deny: ["> >"] } } }"#;

/// The shipped configuration with [`EDGE_1_USER`] added, in a directory of its
/// own (nats.conf includes nats-auth.conf beside it).
fn conf_with_edge_1_user(dir: &std::path::Path) -> std::path::PathBuf {
    let auth = std::fs::read_to_string(moolai_tests::repo_file("nats-auth.conf")).unwrap();
    let users = "users = [\n";
    assert!(auth.contains(users), "nats-auth.conf lists its users so");
    let auth = auth.replacen(users, &format!("{users}    {EDGE_1_USER}\n"), 1);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("nats-auth.conf"), auth).unwrap();
    std::fs::copy(moolai_tests::repo_file("nats.conf"), dir.join("nats.conf")).unwrap();
    dir.join("nats.conf")
}

#[tokio::test]
async fn an_edge_with_a_user_of_its_own_reads_only_its_own_commands() {
    let dir = std::env::temp_dir().join(format!("moolai-edge-user-{}", uuid::Uuid::new_v4()));
    let password = nats_password("edge-1");
    let vars = vec![("MOOLAI_NATS_EDGE_1_PASSWORD".to_owned(), password)];
    let Some(nats) = NatsServer::start_with(conf_with_edge_1_user(&dir), vars).await else {
        eprintln!("NATS_SERVER_BIN not set; skipping (scripts/test.sh sets it)");
        return;
    };
    let mut env = TestEnv::new().await;
    env.nats_url = nats.url();
    let _persister = moolai_tests::start_persister(env.persister_config()).await;
    let core = moolai_tests::start_core(env.core_config()).await;
    let mut config = env.edge_config("edge-1");
    config.service.nats = env.nats("edge-1");
    let edge = moolai_tests::start_edge(config).await;

    // Everything an edge does works under its own user: the handshake stored,
    // core's command delivered back.
    let mut sock = connect_as(&edge.ws_url(), "org-own-user", true).await;
    next_of_type(&mut sock, "provision_config").await;
    let api = Api::admin(core.addr).await;
    let path = "/api/v1/internal/orchestrators/org-own-user/messages";
    let body = json!({"message_type": "recommendation", "content": "for-org-own-user"});
    api.ok(reqwest::Method::POST, path, Some(body)).await;
    frames_until(&mut sock, "for-org-own-user").await;

    // And it reads nothing meant for another edge or another user.
    let subjects = Subjects::new(env.prefix.clone()).unwrap();
    let (own, mut errors) = watched(&env, "edge-1").await;
    let others = subjects.edge_commands(&EdgeId::parse("edge-2").unwrap());
    for subject in [others.as_str(), "_INBOX.edge.>", "_INBOX.edge-2.>"] {
        let _sub = own.subscribe(subject.to_owned()).await.unwrap();
        refused(&mut errors, subject).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}
