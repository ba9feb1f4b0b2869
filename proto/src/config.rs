//! Configuration as versions: what an orchestrator should run (its content and
//! hash) and what it says it runs (`config_status`).
//!
//! The hash names content, not a revision: a rollback to earlier content has the
//! earlier hash again, so "which configuration runs where" is one comparison.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The capability a client announces in `metadata.capabilities` when it answers
/// every `provision_config` with `config_status`.
pub const CAP_CONFIG_STATUS: &str = "config_status";

/// Longest `error` a `config_status` may carry (characters); longer ones are cut,
/// since the text is for people and the row must stay small.
pub const MAX_STATUS_ERROR_CHARS: usize = 2000;

/// The configuration the controller wants an orchestrator to run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ConfigContent {
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub features: Value,
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub settings: Value,
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub policies: Value,
}

impl ConfigContent {
    /// The lowercase hex SHA-256 of the content's canonical JSON: keys sorted at
    /// every level, no whitespace (what RFC 8785 gives for the JSON this API
    /// accepts), so the same content always has the same hash whoever computes it.
    pub fn hash(&self) -> String {
        let whole = serde_json::json!({
            "features": self.features,
            "policies": self.policies,
            "settings": self.settings,
        });
        let text = serde_json::to_string(&canonical(&whole)).expect("JSON values serialise");
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `value` with every object's keys in sorted order, whatever order the map type
/// keeps (serde_json keeps insertion order when another crate turns on its
/// `preserve_order` feature).
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let sorted: Map<String, Value> = keys
                .into_iter()
                .map(|k| (k.clone(), canonical(&map[k])))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Where an orchestrator is with a configuration it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApplyStatus {
    Applying,
    Applied,
    Failed,
}

impl ApplyStatus {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applying => "applying",
            Self::Applied => "applied",
            Self::Failed => "failed",
        }
    }
}

/// Body of `config_status`: the answer to a `provision_config`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConfigStatus {
    /// The `hash` of the `provision_config` this answers.
    pub hash: String,
    pub status: ApplyStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The configuration the orchestrator actually runs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<Value>,
}

/// Why a `config_status` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("hash must be 64 lowercase hex characters")]
    Hash,
    #[error("NUL character in config_status")]
    Nul,
}

impl ConfigStatus {
    /// Checks what reaches the database: a hash of our form, no NUL (which
    /// `jsonb` and `text` cannot hold); an over-long error is cut, not refused.
    pub fn checked(mut self) -> Result<Self, StatusError> {
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if self.hash.len() != 64 || !self.hash.chars().all(hex) {
            return Err(StatusError::Hash);
        }
        if let Some(error) = &mut self.error {
            if error.contains('\0') {
                return Err(StatusError::Nul);
            }
            if let Some((cut, _)) = error.char_indices().nth(MAX_STATUS_ERROR_CHARS) {
                error.truncate(cut);
            }
        }
        if self.effective.as_ref().is_some_and(crate::nul::holds_nul) {
            return Err(StatusError::Nul);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(features: Value) -> ConfigContent {
        ConfigContent {
            features,
            settings: json!({}),
            policies: json!({}),
        }
    }

    #[test]
    fn the_hash_names_content_whatever_the_key_order() {
        let a = content(json!({"cache": {"enabled": true, "ttl": 5}, "b": {"enabled": false}}));
        let b: Value = serde_json::from_str(
            r#"{"b": {"enabled": false}, "cache": {"ttl": 5, "enabled": true}}"#,
        )
        .unwrap();
        assert_eq!(a.hash(), content(b).hash());
        assert_ne!(a.hash(), content(json!({})).hash());
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn the_hash_is_of_compact_sorted_json() {
        // What another implementation must hash to agree with us.
        let text =
            r#"{"features":{"a":{"enabled":true}},"policies":{},"settings":{"y":[2],"z":1}}"#;
        let expected: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let c = ConfigContent {
            features: json!({"a": {"enabled": true}}),
            settings: json!({"z": 1, "y": [2]}),
            policies: json!({}),
        };
        assert_eq!(c.hash(), expected);
    }

    #[test]
    fn a_status_needs_our_hash_and_no_nul() {
        let ok = ConfigStatus {
            hash: "a".repeat(64),
            status: ApplyStatus::Failed,
            error: Some("x".repeat(5000)),
            effective: None,
        };
        let checked = ok.clone().checked().unwrap();
        assert_eq!(
            checked.error.unwrap().chars().count(),
            MAX_STATUS_ERROR_CHARS
        );
        let short = ConfigStatus {
            hash: "abc".into(),
            ..ok.clone()
        };
        assert_eq!(short.checked(), Err(StatusError::Hash));
        let upper = ConfigStatus {
            hash: "A".repeat(64),
            ..ok.clone()
        };
        assert_eq!(upper.checked(), Err(StatusError::Hash));
        let nul = ConfigStatus {
            effective: Some(json!({"k": "a\u{0}b"})),
            ..ok
        };
        assert_eq!(nul.checked(), Err(StatusError::Nul));
    }
}
