//! Id validation: `validate_id`, `OrchestratorId`/`EdgeId` (parse, FromStr,
//! Deserialize) and `Subjects::new` must all implement exactly
//! `^[A-Za-z0-9_-]{1,128}$`, and an accepted id must be one literal NATS
//! subject token.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use moolai_fuzz::{assert_safe_subject_token, id_rule};
use moolai_proto::id::{validate_id, IdError, MAX_ID_LEN};
use moolai_proto::subjects::{EventKind, Subjects};
use moolai_proto::{EdgeId, OrchestratorId};

fuzz_target!(|data: &[u8]| {
    // Ids arrive as text (JSON strings, URL path segments, env vars), so only
    // valid UTF-8 can reach the validators.
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    check(raw);
    // The same bytes as a JSON document: a quoted string with escapes
    // (`"a\u002eb"`) must be validated after unescaping.
    check_json_document(raw);
});

fn check(raw: &str) {
    let expected = id_rule(raw);
    let verdict = validate_id(raw);
    assert_eq!(
        verdict.is_ok(),
        expected,
        "validate_id({raw:?}) = {verdict:?}"
    );

    // The refusal names a reason that is actually true of the input.
    match &verdict {
        Ok(()) => assert_safe_subject_token(raw),
        Err(IdError::Empty) => assert!(raw.is_empty()),
        Err(IdError::TooLong) => assert!(raw.len() > MAX_ID_LEN),
        Err(IdError::InvalidCharacter) => {
            assert!(!raw.is_empty() && raw.len() <= MAX_ID_LEN);
            assert!(raw
                .chars()
                .any(|c| !matches!(c, 'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-')));
        }
    }

    // Every way in agrees with the rule, and keeps the text unchanged.
    let orch = OrchestratorId::parse(raw);
    let edge = EdgeId::parse(raw.to_owned());
    assert_eq!(orch.is_ok(), expected);
    assert_eq!(edge.is_ok(), expected);
    assert_eq!(OrchestratorId::from_str(raw).is_ok(), expected);
    assert_eq!(EdgeId::from_str(raw).is_ok(), expected);
    assert_eq!(Subjects::new(raw).is_ok(), expected);
    if let Err(e) = &orch {
        assert_eq!(
            verdict.as_ref().err(),
            Some(e),
            "parse and validate_id give different reasons"
        );
    }

    let json = serde_json::to_string(raw).expect("a str always serialises");
    let via_serde = serde_json::from_str::<OrchestratorId>(&json);
    assert_eq!(
        via_serde.is_ok(),
        expected,
        "Deserialize disagrees for {json}"
    );
    assert_eq!(serde_json::from_str::<EdgeId>(&json).is_ok(), expected);

    if let (Ok(orch), Ok(edge), Ok(from_serde)) = (orch, edge, via_serde) {
        assert_eq!(orch.as_str(), raw);
        assert_eq!(orch.to_string(), raw);
        assert_eq!(edge.as_str(), raw);
        assert_eq!(from_serde, orch);
        // Serialize is transparent: the id goes back out as the same JSON string.
        assert_eq!(serde_json::to_string(&orch).unwrap(), json);

        // One id is exactly one subject token, never a wildcard.
        let subjects = Subjects::new("fz").unwrap();
        for subject in [
            subjects.event(EventKind::Handshake, &orch),
            subjects.provisioning_request(&orch),
            subjects.edge_commands(&edge),
            subjects.edge_presence(&edge),
        ] {
            let tokens: Vec<&str> = subject.split('.').collect();
            assert!(
                tokens.contains(&raw),
                "{subject} does not hold {raw} as one token"
            );
            assert!(tokens
                .iter()
                .all(|t| !t.is_empty() && *t != "*" && *t != ">"));
        }
        assert_eq!(
            subjects
                .event(EventKind::Handshake, &orch)
                .split('.')
                .count(),
            4
        );

        // A prefix made of an id is one token too.
        let prefixed = Subjects::new(raw).unwrap();
        assert_eq!(
            prefixed.event(EventKind::Message, &orch).split('.').count(),
            4
        );
        assert_eq!(prefixed.prefix(), raw);
    }
}

fn check_json_document(raw: &str) {
    let as_id = serde_json::from_str::<OrchestratorId>(raw);
    // Read as a plain `String` (not `serde_json::Value`, which with serde_json's
    // `raw_value` feature turns `{"$serde_json::private::RawValue":"\"x\""}`
    // into the string "x").
    match serde_json::from_str::<String>(raw).ok() {
        Some(text) => {
            assert_eq!(as_id.is_ok(), id_rule(&text), "{raw} decodes to {text:?}");
            if let Ok(id) = as_id {
                assert_eq!(id.as_str(), text);
                assert_safe_subject_token(id.as_str());
            }
        }
        None => assert!(
            as_id.is_err(),
            "a non-string JSON document became an id: {raw}"
        ),
    }
}
