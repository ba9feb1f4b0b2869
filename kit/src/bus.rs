//! Connecting to NATS and declaring our JetStream streams, shared by every role so
//! that all of them agree on the same definitions whichever starts first.
//!
//! Each role connects with its own NATS user (`nats.conf`); see
//! `docs/security.md` for what each may do on the bus.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use moolai_proto::Subjects;

use crate::flags::{NatsConfig, ServiceFlags};

/// How long the events and writes streams keep messages. Consumers ack long before;
/// this bounds the disk used if a persister is gone for days.
pub const STREAM_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Window in which JetStream drops a second publish with the same `Nats-Msg-Id`.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Connects with settings tuned for a control plane: a short ping interval so a
/// half-open connection is noticed in ~30 s rather than minutes, and retries when
/// the server is not up yet (services may start before NATS).
pub async fn connect(
    config: &NatsConfig,
    name: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    // `NATS_URL` may list several servers of a cluster, comma-separated.
    let servers = config
        .url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<async_nats::ServerAddr>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            async_nats::ConnectError::with_source(async_nats::ConnectErrorKind::ServerParse, e)
        })?;
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(config.inbox_prefix())
        .ping_interval(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect();
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.user_and_password(user.clone(), password.expose().to_owned());
    }
    if let Some(ca) = &config.ca_file {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    options.connect(servers).await
}

/// The streams every role relies on: (name, subjects captured).
fn streams(subjects: &Subjects) -> [(String, String); 3] {
    [
        (subjects.events_stream(), subjects.all_events()),
        (subjects.writes_stream(), subjects.all_writes()),
        (subjects.dead_letter_stream(), subjects.all_dead_letters()),
    ]
}

/// Creates (or finds) the streams and the token generations bucket every role
/// relies on; core and the persister call it at start (edges call
/// [`wait_for_bus`]). `replicas` is 1 on a single server and 3 on a
/// cluster.
pub async fn ensure_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
) -> Result<(), async_nats::Error> {
    for (name, subject) in streams(subjects) {
        js.get_or_create_stream(stream::Config {
            name,
            subjects: vec![subject],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            max_age: STREAM_MAX_AGE,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: replicas,
            ..Default::default()
        })
        .await?;
    }
    token_store(js, subjects, replicas).await?;
    Ok(())
}

/// Why a role that declares the streams could not get onto the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS")]
    Nats(#[from] async_nats::ConnectError),
    #[error("cannot set up JetStream")]
    JetStream(#[source] async_nats::Error),
}

/// Connects to NATS as client `name` and declares the streams: how core and
/// the persister get onto the bus at start.
pub async fn connect_and_declare(
    service: &ServiceFlags,
    subjects: &Subjects,
    name: &str,
) -> Result<(async_nats::Client, jetstream::Context), BusError> {
    let nats = connect(&service.nats, name).await?;
    let js = jetstream::new(nats.clone());
    ensure_streams(&js, subjects, service.stream_replicas)
        .await
        .map_err(BusError::JetStream)?;
    Ok((nats, js))
}

/// Makes sure the streams and the token bucket exist, as an edge does at start.
/// Its NATS user in the shipped nats.conf may not create streams (a stream's
/// config could capture or copy any subject): when they are missing it asks once
/// (a server without authorization, such as a developer's, lets it, as before),
/// and otherwise waits for core or the persister to declare them, saying so once
/// at warn level. `false` when `shutdown` came first.
pub async fn wait_for_bus(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
    shutdown: &tokio_util::sync::CancellationToken,
) -> bool {
    let mut names: Vec<String> = streams(subjects).into_iter().map(|(n, _)| n).collect();
    // A KV bucket is the stream `KV_<bucket>`.
    names.push(format!("KV_{}", subjects.token_bucket()));
    if all_exist(js, &names).await {
        return true;
    }
    // A refused request is not answered at all (the server only tells the
    // connection), hence the short deadline.
    let declare = tokio::time::timeout(
        Duration::from_secs(2),
        ensure_streams(js, subjects, replicas),
    );
    if let Ok(Ok(())) = declare.await {
        return true;
    }
    tracing::warn!("waiting for core or the persister to create the bus's streams");
    while !all_exist(js, &names).await {
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    true
}

async fn all_exist(js: &jetstream::Context, names: &[String]) -> bool {
    for name in names {
        if js.get_stream(name).await.is_err() {
            return false;
        }
    }
    true
}

/// The KV bucket of token generations (created if missing, one value per key).
pub async fn token_store(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
) -> Result<jetstream::kv::Store, async_nats::Error> {
    let bucket = subjects.token_bucket();
    if let Ok(store) = js.get_key_value(&bucket).await {
        return Ok(store);
    }
    let config = jetstream::kv::Config {
        bucket,
        history: 1,
        num_replicas: replicas,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    Ok(js.create_key_value(config).await?)
}
