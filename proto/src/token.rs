//! Orchestrator tokens: proof that a connection speaks for one orchestrator id.
//!
//! `mo1.<orchestrator id>.<generation>.<signature>`, where the signature is
//! HMAC-SHA256 over `mo1.<id>.<generation>` with `ORCHESTRATOR_TOKEN_SECRET`
//! (base64url). Core issues them; every edge verifies them in memory, with no
//! database round trip. Rotating or revoking bumps the orchestrator's generation
//! (kept in PostgreSQL and mirrored to the KV bucket edges watch), which voids every
//! older token. Ids contain no `.`, so the format is unambiguous.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::id::OrchestratorId;

const VERSION: &str = "mo1";

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
}

fn mac(secret: &[u8], body: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    mac
}

/// A token for `id` at `generation`.
pub fn sign(secret: &[u8], id: &OrchestratorId, generation: u64) -> String {
    let body = format!("{VERSION}.{id}.{generation}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &body).finalize().into_bytes());
    format!("{body}.{signature}")
}

/// The id and generation a token speaks for, if its signature is right.
pub fn verify(secret: &[u8], token: &str) -> Result<(OrchestratorId, u64), TokenError> {
    let mut parts = token.splitn(4, '.');
    let (Some(VERSION), Some(id), Some(generation), Some(signature)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let id = OrchestratorId::parse(id).map_err(|_| TokenError::Malformed)?;
    // One spelling per token: `u64::from_str` also takes "+3" and "003", which
    // would verify too (the signature covers "3") and slip past anything keyed
    // on the token's text. Found by the `token` fuzz target.
    let canonical = generation.bytes().all(|b| b.is_ascii_digit())
        && (generation == "0" || !generation.starts_with('0'));
    if !canonical {
        return Err(TokenError::Malformed);
    }
    let generation: u64 = generation.parse().map_err(|_| TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    mac(secret, &format!("{VERSION}.{id}.{generation}"))
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    Ok((id, generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let id = OrchestratorId::parse("org-1").unwrap();
        let token = sign(b"secret", &id, 3);
        assert_eq!(verify(b"secret", &token), Ok((id.clone(), 3)));
        assert_eq!(verify(b"other", &token), Err(TokenError::BadSignature));
        // The same token spelled differently is refused (fuzz finding).
        for alias in [token.replace(".3.", ".03."), token.replace(".3.", ".+3.")] {
            assert_eq!(verify(b"secret", &alias), Err(TokenError::Malformed));
        }
        let forged = token.replace("org-1", "org-2");
        assert_eq!(verify(b"secret", &forged), Err(TokenError::BadSignature));
        assert_eq!(
            verify(b"secret", "mo1.org-1.x.abc"),
            Err(TokenError::Malformed)
        );
        assert_eq!(verify(b"secret", "garbage"), Err(TokenError::Malformed));
    }
}
