//! Where an orchestrator's token comes from: `--token` (kept in its state file,
//! so later starts need it no more), else the one kept in its state file, else
//! one it obtains once by enrolling — `POST /api/v1/enroll` on core with the
//! enrollment token an admin created (`Authorization: Bearer me1.…`) — and then
//! keeps in its state file, so later starts need no enrollment.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::narrate::{say, Narration};
use crate::state_file::{keep_state, read_state};

/// The state file's key for the token.
pub const TOKEN_KEY: &str = "orchestrator_token";
/// Longest an enrollment request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause between enrollment attempts while core cannot be reached.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// Largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// How to enroll: the credential and core's base URL.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub token: String,
    /// `http(s)://host:port` of core's API.
    pub api_url: String,
}

/// Why one enrollment attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("invalid API URL {0} (http:// or https://host:port)")]
    Url(String),
    #[error("cannot reach core: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Core answered, but not with what an enrollment returns.
    #[error("HTTP: {0}")]
    Answer(String),
    #[error("timed out")]
    Timeout,
    /// Core answered and refused; retrying will not help.
    #[error("refused ({0}): {1}")]
    Refused(u16, String),
}

impl EnrollError {
    fn http(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Http(err.into())
    }
}

/// The token orchestrator `id` connects with; `None` if it has none (edges that
/// require tokens will then refuse it, and say so).
pub async fn token_for(
    id: &str,
    given: Option<String>,
    state_file: Option<&Path>,
    enrollment: Option<&Enrollment>,
    tls: Option<Arc<ClientConfig>>,
    narration: Narration,
    shutdown: &CancellationToken,
) -> Option<String> {
    let kept = state_file.and_then(|p| kept_token(p, id));
    if let Some(token) = given {
        // A token given differs from the one kept after a rotation: the newer
        // one, given by hand, replaces it.
        if let Some(path) = state_file.filter(|_| kept.as_ref() != Some(&token)) {
            keep_state(path, id, TOKEN_KEY, json!(token));
            say!(
                narration,
                id,
                "[O-CCS] token kept in {}; later starts need no --token",
                path.display()
            );
        }
        return Some(token);
    }
    if kept.is_some() {
        return kept;
    }
    let enrollment = enrollment?;
    let mut pause = Duration::from_secs(1);
    loop {
        match enroll(enrollment, id, tls.clone()).await {
            Ok(token) => {
                match state_file {
                    Some(path) => {
                        keep_state(path, id, TOKEN_KEY, json!(token));
                        say!(narration, id, "[O-CCS] enrolled as {id}; token kept in {}", path.display());
                    }
                    None => tracing::warn!(
                        id,
                        "enrolled, but without --state-file the token is lost at exit and the id cannot enroll again"
                    ),
                }
                return Some(token);
            }
            Err(EnrollError::Refused(status, why)) => {
                tracing::error!(id, status, "enrollment refused: {why}");
                return None;
            }
            Err(err) => {
                say!(
                    narration,
                    id,
                    "[O-CCS] could not enroll ({err}); retrying in {pause:?}"
                );
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The token kept in the state file, if it was kept for this id.
fn kept_token(path: &Path, id: &str) -> Option<String> {
    let state = read_state(path)?;
    if state.get("orchestrator_id").and_then(Value::as_str) != Some(id) {
        return None;
    }
    state.get(TOKEN_KEY)?.as_str().map(str::to_owned)
}

/// One enrollment request; the orchestrator token on success.
pub async fn enroll(
    enrollment: &Enrollment,
    id: &str,
    tls: Option<Arc<ClientConfig>>,
) -> Result<String, EnrollError> {
    let url = format!("{}/api/v1/enroll", enrollment.api_url.trim_end_matches('/'));
    let body = json!({ "orchestrator_id": id }).to_string();
    let request = post(&url, &enrollment.token, body, tls);
    let (status, answer) = tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .map_err(|_| EnrollError::Timeout)??;
    let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    match status {
        200 => answer[TOKEN_KEY]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| EnrollError::Answer("answer without orchestrator_token".into())),
        400..=499 => Err(EnrollError::Refused(status, answer["detail"].to_string())),
        _ => Err(EnrollError::Answer(format!("status {status}"))),
    }
}

/// `POST url` with a bearer token and a JSON body: the status and the body.
async fn post(
    url: &str,
    bearer: &str,
    body: String,
    tls: Option<Arc<ClientConfig>>,
) -> Result<(u16, Bytes), EnrollError> {
    let uri: Uri = url.parse().map_err(|_| EnrollError::Url(url.into()))?;
    let secure = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(EnrollError::Url(url.into())),
    };
    let (Some(host), Some(authority)) = (uri.host(), uri.authority()) else {
        return Err(EnrollError::Url(url.into()));
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::post(path)
        .header(HOST, authority.as_str())
        .header(AUTHORIZATION, format!("Bearer {bearer}"))
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(EnrollError::http)?;
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    if !secure {
        return send(TokioIo::new(tcp), request).await;
    }
    let config = tls.unwrap_or_else(system_roots);
    let name = ServerName::try_from(host).map_err(|_| EnrollError::Url(url.into()))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    send(TokioIo::new(stream), request).await
}

async fn send<I>(io: I, request: Request<Full<Bytes>>) -> Result<(u16, Bytes), EnrollError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(EnrollError::http)?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(EnrollError::http)?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(EnrollError::http)?
        .to_bytes();
    Ok((status, body))
}

/// The system's roots, for an `https://` core without `--ca-file`.
fn system_roots() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_given_by_hand_is_kept_for_the_next_start() {
        let path = std::env::temp_dir().join(format!("moolai-agent-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let token = |given: Option<&str>| {
            let path = path.clone();
            let given = given.map(str::to_owned);
            async move {
                let shutdown = CancellationToken::new();
                let narration = Narration::Debug;
                token_for("o-1", given, Some(&path), None, None, narration, &shutdown).await
            }
        };
        assert_eq!(
            token(Some("mo1.o-1.1.a")).await.as_deref(),
            Some("mo1.o-1.1.a")
        );
        assert_eq!(token(None).await.as_deref(), Some("mo1.o-1.1.a"));
        // A newer one given by hand (after a rotation) replaces it.
        assert_eq!(
            token(Some("mo1.o-1.2.b")).await.as_deref(),
            Some("mo1.o-1.2.b")
        );
        assert_eq!(token(None).await.as_deref(), Some("mo1.o-1.2.b"));
        // Kept for this id only.
        let shutdown = CancellationToken::new();
        let other = token_for(
            "o-2",
            None,
            Some(&path),
            None,
            None,
            Narration::Debug,
            &shutdown,
        );
        assert_eq!(other.await, None);
        let _ = std::fs::remove_file(&path);
    }
}
