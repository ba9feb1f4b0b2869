//! Trust for `wss://` edges. Without `--ca-file` the system's roots are used
//! (tokio-tungstenite loads them); with it, exactly that private CA is trusted,
//! as a controller with its own certificate authority needs.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Why the CA file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA file {0}: {1}")]
    Read(String, #[source] pem::Error),
    #[error("CA file {0} holds no usable certificate")]
    Empty(String),
}

/// A TLS client trusting only the certificates in `ca_file` (PEM).
pub fn trusting(ca_file: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let shown = ca_file.display().to_string();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Read(shown.clone(), e))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsError::Empty(shown));
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether `url` asks for TLS (so a misconfiguration shows before connecting).
pub fn is_secure(url: &str) -> bool {
    url.into_client_request()
        .map(|r| r.uri().scheme_str() == Some("wss"))
        .unwrap_or(false)
}
