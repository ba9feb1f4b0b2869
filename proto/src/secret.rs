//! A setting that must never reach a log line or `--help` output.

use std::fmt;
use std::str::FromStr;

/// A secret string (database URL with password, bearer token). `Debug` and
/// `Display` print `***` so a config struct can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// Shortest `ORCHESTRATOR_TOKEN_SECRET` accepted, in bytes: an HMAC-SHA256 key
/// should carry at least as much entropy as the hash (32 bytes).
pub const MIN_SIGNING_SECRET_BYTES: usize = 32;
/// Shortest static bearer token (`DEV_BEARER_TOKEN`), in characters.
pub const MIN_STATIC_TOKEN_CHARS: usize = 16;
/// Shortest admin password (`ADMIN_PASSWORD`, and any set through the API).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why a secret setting is refused.
fn too_short(s: &str, unit: &str, min: usize, have: usize) -> String {
    if s.is_empty() {
        // An empty variable is a mistake (`FOO=` in a file), never "unset".
        format!("empty; unset the variable or give at least {min} {unit}")
    } else {
        format!("{have} {unit}; at least {min} are required")
    }
}

/// clap value parser for signing secrets: at least [`MIN_SIGNING_SECRET_BYTES`].
pub fn signing_secret(s: &str) -> Result<Secret, String> {
    if s.len() < MIN_SIGNING_SECRET_BYTES {
        return Err(too_short(s, "bytes", MIN_SIGNING_SECRET_BYTES, s.len()));
    }
    Ok(Secret(s.to_owned()))
}

/// clap value parser for static bearer tokens: at least [`MIN_STATIC_TOKEN_CHARS`].
pub fn static_token(s: &str) -> Result<Secret, String> {
    let chars = s.chars().count();
    if chars < MIN_STATIC_TOKEN_CHARS {
        return Err(too_short(s, "characters", MIN_STATIC_TOKEN_CHARS, chars));
    }
    Ok(Secret(s.to_owned()))
}

/// clap value parser for passwords: at least [`MIN_PASSWORD_CHARS`] characters.
pub fn password(s: &str) -> Result<Secret, String> {
    let chars = s.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(too_short(s, "characters", MIN_PASSWORD_CHARS, chars));
    }
    Ok(Secret(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_empty_secrets_are_refused_with_the_minimum_named() {
        assert!(signing_secret("").unwrap_err().starts_with("empty"));
        assert!(signing_secret(&"x".repeat(31)).unwrap_err().contains("32"));
        assert!(signing_secret(&"x".repeat(32)).is_ok());
        assert!(static_token("fake-dev-token").unwrap_err().contains("16"));
        assert!(static_token(&"é".repeat(16)).is_ok());
        assert!(password("").is_err());
        assert!(password("eleven char").is_err());
        assert_eq!(password("twelve chars").unwrap().expose(), "twelve chars");
    }
}
