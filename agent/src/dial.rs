//! Opening the WebSocket to an edge: the orchestrator's token, an optional
//! source address, TLS trust.

use std::sync::Arc;

use futures::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::error::AgentError;

/// An open connection to an edge.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url`, sending `token` as `Authorization: Bearer` when set and
/// connecting from `source_ip` when set.
pub async fn open(
    url: &str,
    token: Option<&str>,
    source_ip: Option<std::net::IpAddr>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Socket, AgentError> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| {
            AgentError::Ws(tokio_tungstenite::tungstenite::Error::HttpFormat(e.into()))
        })?;
        request.headers_mut().insert("authorization", value);
    }
    let connector = tls.map(Connector::Rustls);
    let (ws, _) = match source_ip {
        None => {
            tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector)
                .await?
        }
        Some(ip) => {
            let stream = connect_from(ip, &request).await?;
            tokio_tungstenite::client_async_tls_with_config(
                request,
                stream,
                Some(config),
                connector,
            )
            .await?
        }
    };
    Ok(ws)
}

/// The next text frame; a close or the end of the stream is an error.
pub async fn next_text(ws: &mut Socket) -> Result<String, AgentError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(Message::Close(Some(frame)))) => {
                return Err(AgentError::Refused {
                    code: frame.code.into(),
                    reason: frame.reason.to_string(),
                })
            }
            Some(Ok(Message::Close(None))) | None => return Err(AgentError::ClosedEarly),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// A TCP connection to `request`'s host, from `ip` (any free port of it).
async fn connect_from(
    ip: std::net::IpAddr,
    request: &tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<TcpStream, tokio_tungstenite::tungstenite::Error> {
    let uri = request.uri();
    let host = uri.host().unwrap_or("127.0.0.1");
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("wss") {
            443
        } else {
            80
        });
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address for host");
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.bind(std::net::SocketAddr::new(ip, 0))?;
        match socket.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(err) => last = err,
        }
    }
    Err(last.into())
}
