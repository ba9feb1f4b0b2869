//! Connecting to NATS and declaring our JetStream streams, shared by every role so
//! that all of them agree on the same definitions whichever starts first.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::subjects::Subjects;

/// How long the events and writes streams keep messages. Consumers ack long before;
/// this bounds the disk used if a persister is gone for days.
pub const STREAM_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Window in which JetStream drops a second publish with the same `Nats-Msg-Id`.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Connects with settings tuned for a control plane: a short ping interval so a
/// half-open connection is noticed in ~30 s rather than minutes, and retries when
/// the server is not up yet (services may start before NATS).
pub async fn connect(
    url: &str,
    name: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    // `NATS_URL` may list several servers of a cluster, comma-separated.
    let servers = url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<async_nats::ServerAddr>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            async_nats::ConnectError::with_source(async_nats::ConnectErrorKind::ServerParse, e)
        })?;
    async_nats::ConnectOptions::new()
        .name(name)
        .ping_interval(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect()
        .connect(servers)
        .await
}

/// Creates (or finds) the streams every role relies on. `replicas` is 1 on a single
/// server and 3 on a cluster.
pub async fn ensure_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
) -> Result<(), async_nats::jetstream::context::CreateStreamError> {
    for (name, subject) in [
        (subjects.events_stream(), subjects.all_events()),
        (subjects.writes_stream(), subjects.all_writes()),
        (subjects.dead_letter_stream(), subjects.all_dead_letters()),
    ] {
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
    Ok(())
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
