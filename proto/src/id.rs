//! Validated identifiers.
//!
//! Orchestrator and edge ids become NATS subject tokens and SQL keys, so they are
//! checked once, where they enter the system, and carried as a type from then on:
//! a `.`, `*`, `>` or whitespace in an id would add or widen subject tokens.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest id we accept; matches the spec's `VARCHAR(255)` columns with room to spare.
pub const MAX_ID_LEN: usize = 128;

/// Why an id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is longer than {MAX_ID_LEN} characters")]
    TooLong,
    #[error("id may contain only A-Z, a-z, 0-9, '_' and '-'")]
    InvalidCharacter,
}

/// Checks `^[A-Za-z0-9_-]{1,128}$` without a regex engine.
pub fn validate_id(raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(IdError::InvalidCharacter);
    }
    Ok(())
}

macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `raw` and wraps it.
            pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
                let raw = raw.into();
                validate_id(&raw)?;
                Ok(Self(raw))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        // Deserializing validates too, so an id read off the bus is as safe as one
        // read off a socket.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

validated_id!(
    /// The id an orchestrator announces in its handshake (one per organization).
    OrchestratorId
);
validated_id!(
    /// The id of an edge node (`EDGE_ID`).
    EdgeId
);
validated_id!(
    /// The id of a core replica (`CORE_ID`, or made at start).
    CoreId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for ok in ["org-002", "A_b-9", &"x".repeat(128)] {
            assert!(OrchestratorId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_subject_metacharacters_and_whitespace() {
        for bad in ["a.b", "a*", ">", "a b", "a\tb", "é", "", &"x".repeat(129)] {
            assert!(OrchestratorId::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// 100,000 hostile ids (dots, wildcards, spaces, NUL, `$`, Unicode, 1 KB long):
    /// every one that passes is a single, literal subject token.
    #[test]
    fn hostile_ids_never_pass_as_anything_but_one_literal_token() {
        let alphabet: Vec<char> = "aZ09_-.*> \t\0$éß中🙂/\\'\"%".chars().collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut passed, mut refused) = (0, 0);
        for _ in 0..100_000 {
            let len = match next() % 10 {
                0 => 1024,
                n => (n * 3) as usize,
            };
            let id: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            match OrchestratorId::parse(id.clone()) {
                Ok(ok) => {
                    passed += 1;
                    let s = ok.as_str();
                    assert!(
                        !s.contains(['.', '*', '>', ' ', '\t', '\0', '$'])
                            && s.is_ascii()
                            && s.len() <= 128,
                        "{s:?}"
                    );
                }
                Err(_) => refused += 1,
            }
        }
        assert!(
            passed > 0 && refused > 0,
            "passed {passed}, refused {refused}"
        );
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<OrchestratorId>("\"a.b\"").is_err());
        assert!(serde_json::from_str::<OrchestratorId>("\"ab\"").is_ok());
    }
}
