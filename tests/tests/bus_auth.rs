//! The bus is authenticated: the shipped nats.conf refuses anonymous clients,
//! each role logs in as its own user with only the permissions it needs, and the
//! read-only `monitor` user can watch the subject tree and nothing else. Every
//! test runs a private nats-server with the shipped config (`NATS_SERVER_BIN`).

use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, Event};
use chrono::Utc;
use futures::StreamExt;
use moolai_proto::commands::{Command, Failure, Reply};
use moolai_proto::Subjects;
use moolai_tests::api::{login_as, register, Api};
use moolai_tests::faults::NatsServer;
use moolai_tests::ws::connect_as;
use moolai_tests::{nats_password, stack_on_private_broker, TestEnv, ADMIN_PASSWORD, NATS_ROLES};
use serde_json::json;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// The hash of a session token an attacker would like to be valid.
const FORGED: &str = "forged-session-token-hash";

/// A client logged in as `role`, with the errors the server reports to it
/// (permission violations) as they come.
async fn watched(env: &TestEnv, role: &str) -> (async_nats::Client, UnboundedReceiver<String>) {
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
        .connect(env.nats_url.as_str())
        .await
        .unwrap_or_else(|e| panic!("{role} logs in: {e}"));
    (client, rx)
}

/// Waits for the server to refuse something on `subject` (publish or subscribe).
async fn refused(errors: &mut UnboundedReceiver<String>, subject: &str) {
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(err) = errors.recv().await {
            let err = err.to_lowercase();
            if err.contains("permissions violation") && err.contains(&subject.to_lowercase()) {
                return;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "the server did not refuse {subject}");
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
    let probe = subjects.edge_probe(&moolai_proto::EdgeId::parse("edge-1").unwrap());
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
    let mut events = js.get_stream(subjects.events_stream()).await.unwrap();
    // persister-events, core's shared `core`, and each core replica's view.
    let consumers = 2 + moolai_tests::test_cores();
    assert_eq!(events.info().await.unwrap().state.consumer_count, consumers);
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

    // An edge may create ephemeral consumers (its token watch is one) and so
    // could have JetStream deliver a stored message of its own to the
    // persister's subject; the persister answers only requests from an inbox.
    let js = async_nats::jetstream::new(edge.clone());
    let bait = format!("{}.events.message.forger", env.prefix);
    js.publish(bait.clone(), forged_session().into())
        .await
        .unwrap()
        .await
        .unwrap();
    let push = json!({"stream_name": subjects.events_stream(), "config": {
        "deliver_subject": commands, "deliver_group": moolai_proto::subjects::PERSISTER_QUEUE,
        "filter_subject": bait,
        "ack_policy": "none", "deliver_policy": "all"}});
    let create = format!("$JS.API.CONSUMER.CREATE.{}", subjects.events_stream());
    let answer = edge
        .request(create, push.to_string().into())
        .await
        .expect("consumer created");
    assert!(
        !String::from_utf8_lossy(&answer.payload).contains("\"error\""),
        "{:?}",
        answer.payload
    );
    // The persister got it and ignored it (counted); then nothing was written.
    let ignored = moolai_tests::wait_until(Duration::from_secs(10), || async {
        let metrics = moolai_tests::http::get(stack.persister.addr, "/metrics").await;
        matches!(metrics, Ok((200, body)) if body.contains("moolai_persister_commands_ignored_total"))
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
