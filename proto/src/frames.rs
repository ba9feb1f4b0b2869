//! WebSocket frames between an orchestrator and an edge (JSON text frames).
//!
//! The shapes follow `shared/spec/` and what the first version's client actually
//! sends and accepts (`first-version-observed.md`), so existing orchestrators work
//! without an upgrade.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{ConfigContent, ConfigStatus};
use crate::nul::holds_nul;

/// The capability a client announces in `metadata.capabilities` when it applies
/// `provision_config`; clients without it also get the legacy `provisioning` frame.
pub const CAP_PROVISION_CONFIG: &str = "provision_config";

/// RFC 3339 in UTC with microseconds, the form every frame and API timestamp uses.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A frame sent by an orchestrator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Handshake {
        #[serde(default)]
        data: Option<HandshakeData>,
    },
    IAmAlive {},
    ProvisioningRequest {},
    OConfigSnapshot {
        #[serde(default)]
        data: Value,
    },
    /// A recommendation or monitoring message sent up by the orchestrator.
    Message {
        data: OrchestratorMessage,
    },
    /// The orchestrator received a controller-written message.
    MessageAck {
        data: MessageAck,
    },
    /// Where the orchestrator is with a `provision_config` (clients announcing
    /// the `config_status` capability answer every one).
    ConfigStatus {
        data: ConfigStatus,
    },
}

impl ClientFrame {
    /// Serialises the frame; our frame types cannot fail to serialise.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialise")
    }
}

/// Body of `message_ack`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct MessageAck {
    pub id: String,
}

/// The body of a `handshake`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct HandshakeData {
    /// Unvalidated here: the edge validates it and answers with a close code.
    #[serde(default)]
    pub orchestrator_id: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// Longest `name` / `location` a handshake may announce: the columns that keep
/// them are `VARCHAR(255)` (characters, not bytes).
pub const MAX_LABEL_CHARS: usize = 255;
/// Longest heartbeat interval a handshake may announce, in seconds (the liveness
/// TTL, 3 intervals, is capped at an hour anyway).
pub const MAX_HEARTBEAT_INTERVAL_SEC: f64 = 3600.0;

/// Why a handshake's metadata cannot be stored. Found at the edge, so the client
/// is told (a close reason) instead of being acknowledged and then lost in the
/// persister's dead letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("{0} over 255 characters")]
    TooLong(&'static str),
    /// PostgreSQL's `jsonb` cannot hold `\u0000`, in a key or in a value.
    #[error("NUL character in metadata")]
    Nul,
    #[error("heartbeat_interval_sec not a number of seconds in (0, 3600]")]
    Interval,
}

impl HandshakeData {
    /// Checks `metadata` against what the persister's columns can hold.
    pub fn check_metadata(&self) -> Result<(), MetadataError> {
        for field in ["name", "location"] {
            if let Some(Value::String(text)) = self.metadata.get(field) {
                if text.chars().count() > MAX_LABEL_CHARS {
                    return Err(MetadataError::TooLong(field));
                }
            }
        }
        if self
            .metadata
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value))
        {
            return Err(MetadataError::Nul);
        }
        match self.metadata.get("heartbeat_interval_sec") {
            None | Some(Value::Null) => Ok(()),
            Some(value) => match value.as_f64() {
                Some(secs) if secs > 0.0 && secs <= MAX_HEARTBEAT_INTERVAL_SEC => Ok(()),
                _ => Err(MetadataError::Interval),
            },
        }
    }

    /// Whether the client applies `provision_config` itself.
    pub fn understands_provision_config(&self) -> bool {
        self.announces(CAP_PROVISION_CONFIG)
    }

    fn announces(&self, capability: &str) -> bool {
        self.metadata
            .get("capabilities")
            .and_then(Value::as_array)
            .is_some_and(|caps| caps.iter().any(|c| c == capability))
    }
}

/// An orchestrator-sent message (`message_type` is `recommendation` or `monitoring`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OrchestratorMessage {
    pub message_type: MessageType,
    pub content: String,
    /// `metadata` on the wire; `message_metadata` (the column's name) is accepted too.
    #[serde(default, alias = "message_metadata")]
    pub metadata: Value,
}

/// The two kinds of message the spec knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Recommendation,
    Monitoring,
}

impl MessageType {
    /// The value stored in `orchestrator_messages.message_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recommendation => "recommendation",
            Self::Monitoring => "monitoring",
        }
    }
}

/// Why a text frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no `type` field")]
    MissingType,
    #[error("unknown frame type `{0}`")]
    UnknownType(String),
    #[error("malformed `{kind}` frame: {reason}")]
    Malformed { kind: String, reason: String },
}

const KNOWN_TYPES: [&str; 7] = [
    "handshake",
    "i_am_alive",
    "provisioning_request",
    "o_config_snapshot",
    "message",
    "message_ack",
    "config_status",
];

/// Parses a text frame; the typed parse is the fast path, and only a failure pays
/// for a second look to say precisely what was wrong.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    // serde_json (with the `raw_value` feature other crates enable) reads an
    // object with this key as embedded raw JSON, which lets a small frame nest
    // past the depth limit and publish an event nobody can decode again. No
    // real frame contains it. Found by the `frames` fuzz target.
    if text.contains(RAW_VALUE_TOKEN) {
        return Err(FrameError::NotJson("reserved key in frame".into()));
    }
    // A frame is an object: serde would also take `["handshake", {...}]`.
    if !text.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<Value>(text) {
            Err(e) => FrameError::NotJson(e.to_string()),
            Ok(_) => FrameError::MissingType,
        });
    }
    // PostgreSQL stores no NUL in text or jsonb: such a frame would be accepted
    // here and dead-lettered later, lost without a word to its sender. The
    // escape is rare, so only a frame that has it pays for the precise look.
    if text.contains("\\u0000") {
        if let Some(refusal) = nul_refusal(text) {
            return Err(refusal);
        }
    }
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => Ok(frame),
        Err(err) => Err(classify(text, err)),
    }
}

/// `Malformed` if a key or string of the frame holds a NUL character.
fn nul_refusal(text: &str) -> Option<FrameError> {
    let value: Value = serde_json::from_str(text).ok()?;
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
    // A handshake's metadata has its own answer (`check_metadata`); an unknown
    // or missing type keeps its own error.
    if kind == "handshake" || !KNOWN_TYPES.contains(&kind) || !holds_nul(&value) {
        return None;
    }
    Some(FrameError::Malformed {
        kind: kind.to_owned(),
        reason: "a string holds a NUL character (\\u0000), which cannot be stored".into(),
    })
}

const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

fn classify(text: &str, err: serde_json::Error) -> FrameError {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return FrameError::NotJson(e.to_string()),
    };
    match value.get("type").and_then(Value::as_str) {
        None => FrameError::MissingType,
        Some(kind) if !KNOWN_TYPES.contains(&kind) => FrameError::UnknownType(kind.to_owned()),
        Some(kind) => FrameError::Malformed {
            kind: kind.to_owned(),
            reason: err.to_string(),
        },
    }
}

/// The configuration pushed to an orchestrator.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ProvisionData {
    pub features: Value,
    pub settings: Value,
    pub policies: Value,
    /// The configuration's revision: it grows with every change, so an orchestrator
    /// ignores a configuration older than one it applied. Absent from a push that
    /// carries no stored state (a manual `send`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

impl ProvisionData {
    /// The content the hash is made of.
    pub fn content(&self) -> ConfigContent {
        ConfigContent {
            features: self.features.clone(),
            settings: self.settings.clone(),
            policies: self.policies.clone(),
        }
    }
}

/// A frame sent to an orchestrator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Always the first frame after a handshake: the existing client drops the
    /// connection if anything else comes first.
    HandshakeAck {
        orch_id: String,
        ts: String,
    },
    ProvisionConfig {
        data: ProvisionData,
        /// The configuration's revision (also in `data`, where the first
        /// `provision_config` clients read it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<i64>,
        /// The hash of the content (`ConfigContent::hash`): what `config_status`
        /// answers with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
        timestamp: String,
    },
    /// The first version's configuration frame, the only one its client applies.
    Provisioning {
        data: LegacyProvisioning,
    },
    ControllerHeartbeat {
        orch_id: String,
        ts: String,
    },
    /// The orchestrator's independence, sent when it changes and at every handshake.
    IndependenceUpdate {
        data: Independence,
        timestamp: String,
    },
    /// A controller-written message; the orchestrator answers `message_ack`.
    Message {
        data: Value,
    },
    /// A message's status changed (accepted / dismissed by an administrator).
    MessageStatus {
        data: Value,
    },
    /// A frame could not be used; the connection stays open.
    Error {
        data: Value,
    },
}

/// Body of `independence_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Independence {
    pub is_independent: bool,
    pub privacy_mode: bool,
    /// Grows with every change: an orchestrator ignores an older one arriving late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// Body of the legacy `provisioning` frame.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct LegacyProvisioning {
    pub orchestrator_id: String,
    pub features: Value,
    pub metadata: Value,
    pub name: String,
    pub location: String,
}

impl ServerFrame {
    /// Serialises the frame; our frame types cannot fail to serialise.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_version_clients_handshake() {
        let text = r#"{"type": "handshake", "service": "orchestrator", "data": {"orchestrator_id": "rec-1", "metadata": {"version": "1.0.0", "name": "Default Orchestrator", "features": {}}}, "timestamp": "2026-11-22T21:26:50.599223+00:00"}"#;
        let ClientFrame::Handshake { data: Some(data) } = parse_client_frame(text).unwrap() else {
            panic!("not a handshake");
        };
        assert_eq!(data.orchestrator_id.as_deref(), Some("rec-1"));
        assert!(!data.understands_provision_config());
    }

    /// Inputs the `frames` fuzz target found accepted (fuzz/regressions/frames).
    #[test]
    fn shapes_no_frame_has_are_refused() {
        let raw = r#"{"type": "o_config_snapshot", "data": {"$serde_json::private::RawValue": "[[[[1]]]]"}}"#;
        assert!(matches!(
            parse_client_frame(raw),
            Err(FrameError::NotJson(_))
        ));
    }

    #[test]
    fn a_nul_anywhere_is_refused_and_an_escaped_backslash_is_not_one() {
        for raw in [
            r#"{"type": "message", "data": {"content": "a\u0000b"}}"#,
            r#"{"type": "o_config_snapshot", "data": {"k\u0000": 1}}"#,
            r#"{"type": "config_status", "data": {"v": ["\u0000"]}}"#,
        ] {
            assert!(
                matches!(parse_client_frame(raw), Err(FrameError::Malformed { ref reason, .. }) if reason.contains("NUL")),
                "{raw}"
            );
        }
        let fine = r#"{"type": "i_am_alive", "data": {"note": "\\u0000"}}"#;
        assert!(parse_client_frame(fine).is_ok(), "a backslash, then u0000");
    }

    #[test]
    fn the_reserved_raw_value_key_is_refused_again() {
        let raw = r#"{"type": "o_config_snapshot", "data": {"$serde_json::private::RawValue": "[[[[1]]]]"}}"#;
        assert!(matches!(
            parse_client_frame(raw),
            Err(FrameError::NotJson(_))
        ));
        let array = r#"["handshake", {"orchestrator_id": "org-1"}]"#;
        assert_eq!(parse_client_frame(array), Err(FrameError::MissingType));
    }

    #[test]
    fn heartbeat_with_timestamp_parses() {
        let text = r#"{"type": "i_am_alive", "timestamp": "2026-11-22T21:26:50.600206+00:00"}"#;
        assert_eq!(parse_client_frame(text).unwrap(), ClientFrame::IAmAlive {});
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert!(matches!(
            parse_client_frame("nope"),
            Err(FrameError::NotJson(_))
        ));
        assert_eq!(parse_client_frame("{}"), Err(FrameError::MissingType));
        assert_eq!(
            parse_client_frame(r#"{"type":"dance"}"#),
            Err(FrameError::UnknownType("dance".into()))
        );
        assert!(matches!(
            parse_client_frame(r#"{"type":"message","data":{"message_type":"x"}}"#),
            Err(FrameError::Malformed { .. })
        ));
    }

    #[test]
    fn capabilities_are_read_from_metadata() {
        let text = r#"{"type":"handshake","data":{"orchestrator_id":"a","metadata":{"capabilities":["provision_config"]}}}"#;
        let ClientFrame::Handshake { data: Some(data) } = parse_client_frame(text).unwrap() else {
            panic!()
        };
        assert!(data.understands_provision_config());
    }

    #[test]
    fn metadata_the_columns_cannot_hold_is_named() {
        let check = |metadata: Value| {
            let frame = serde_json::json!({"type": "handshake", "data": {"orchestrator_id": "a", "metadata": metadata}});
            let ClientFrame::Handshake { data: Some(data) } =
                parse_client_frame(&frame.to_string()).unwrap()
            else {
                panic!()
            };
            data.check_metadata()
        };
        let long = "é".repeat(256);
        assert_eq!(
            check(serde_json::json!({"name": "é".repeat(255), "location": "lab"})),
            Ok(())
        );
        assert_eq!(
            check(serde_json::json!({"name": long})),
            Err(MetadataError::TooLong("name"))
        );
        assert_eq!(
            check(serde_json::json!({"location": long})),
            Err(MetadataError::TooLong("location"))
        );
        assert_eq!(
            check(serde_json::json!({"a": [{"b": "x\0"}]})),
            Err(MetadataError::Nul)
        );
        assert_eq!(
            check(serde_json::json!({"a\0": 1})),
            Err(MetadataError::Nul)
        );
        for bad in [
            serde_json::json!(1e308),
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!("30"),
        ] {
            assert_eq!(
                check(serde_json::json!({"heartbeat_interval_sec": bad})),
                Err(MetadataError::Interval),
                "{bad}"
            );
        }
        for good in [
            serde_json::json!(0.2),
            serde_json::json!(30),
            serde_json::json!(3600),
            Value::Null,
        ] {
            assert_eq!(
                check(serde_json::json!({"heartbeat_interval_sec": good})),
                Ok(()),
                "{good}"
            );
        }
        assert!(MetadataError::TooLong("name").to_string().len() < 100);
    }

    #[test]
    fn ack_serialises_as_the_spec_shows() {
        let ack = ServerFrame::HandshakeAck {
            orch_id: "org-002".into(),
            ts: "t".into(),
        };
        assert_eq!(
            ack.to_json(),
            r#"{"type":"handshake_ack","orch_id":"org-002","ts":"t"}"#
        );
    }
}
