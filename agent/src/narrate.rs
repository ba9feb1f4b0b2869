//! What an orchestrator tells the person watching it, in the words of the first
//! version's client where it had some (`[O-CCS] handshake_ack received`,
//! `[O-CCS] i_am_alive sent #1`, ...): one readable line per thing that happened.
//!
//! A process running one orchestrator narrates at info. The load generator runs
//! thousands in one process, and a line per heartbeat each would bury its figures,
//! so there the same lines are at debug (`RUST_LOG=moolai_agent=debug` shows them).

use moolai_proto::frames::ProvisionData;
use serde_json::Value;

/// The level an orchestrator's story is told at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Narration {
    /// One orchestrator in the process, and likely someone reading along.
    Info,
    /// One of many (load mode, tests): only when asked for.
    #[default]
    Debug,
}

impl Narration {
    /// Info for a process running a single orchestrator, debug for a crowd.
    pub fn for_count(count: usize) -> Self {
        if count == 1 {
            Self::Info
        } else {
            Self::Debug
        }
    }
}

/// `say!(narration, fields..., "message")`: a `tracing` event at the narration's
/// level (the level of a `tracing` call site must be a constant, hence the match).
macro_rules! say {
    ($narration:expr, $($arg:tt)+) => {
        match $narration {
            $crate::narrate::Narration::Info => tracing::info!($($arg)+),
            $crate::narrate::Narration::Debug => tracing::debug!($($arg)+),
        }
    };
}
pub(crate) use say;

/// The keys of a JSON object, comma-separated (`-` for none or not an object).
pub fn keys(value: &Value) -> String {
    match value.as_object() {
        Some(map) if !map.is_empty() => map.keys().cloned().collect::<Vec<_>>().join(","),
        _ => "-".into(),
    }
}

/// What a `provision_config` changes, for its log line: the features named, and
/// which settings and policies keys came with it.
pub fn provision_summary(data: &ProvisionData) -> String {
    format!(
        "features [{}], settings [{}], policies [{}]",
        keys(&data.features),
        keys(&data.settings),
        keys(&data.policies)
    )
}

/// A message frame's id and type, as text for its log line.
pub fn message_summary(data: &Value) -> (String, String) {
    let text = |key: &str| match data.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    };
    (text("id"), text("message_type"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_provisioning_line_names_the_features_and_keys_it_brought() {
        let data = ProvisionData {
            features: json!({"cache": {"enabled": true}, "firewall": false}),
            settings: json!({"region": "eu"}),
            policies: json!(null),
            ..ProvisionData::default()
        };
        assert_eq!(
            provision_summary(&data),
            "features [cache,firewall], settings [region], policies [-]"
        );
    }

    #[test]
    fn a_message_line_shows_its_id_and_type_even_when_the_id_is_a_number() {
        let data = json!({"id": 42, "message_type": "notice", "content": "hi"});
        assert_eq!(message_summary(&data), ("42".into(), "notice".into()));
        assert_eq!(message_summary(&json!({})), ("-".into(), "-".into()));
    }

    #[test]
    fn only_a_single_orchestrator_narrates_at_info() {
        assert_eq!(Narration::for_count(1), Narration::Info);
        assert_eq!(Narration::for_count(2), Narration::Debug);
        assert_eq!(Narration::for_count(10_000), Narration::Debug);
    }
}
