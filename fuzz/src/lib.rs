//! Oracles shared by the fuzz targets. They are written independently of
//! `moolai-proto` on purpose: a target that checked proto against proto's own
//! code would only prove that the code agrees with itself.

use serde_json::Value;

/// The id rule `^[A-Za-z0-9_-]{1,128}$`, spelled out character by character
/// (counted in characters, as a regex engine counts them, not in bytes).
pub fn id_rule(s: &str) -> bool {
    let mut count = 0usize;
    for c in s.chars() {
        let allowed = matches!(c, 'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-');
        if !allowed {
            return false;
        }
        count += 1;
    }
    (1..=128).contains(&count)
}

/// What an accepted id must never contain, whatever the rule above says: NATS
/// subject separators and wildcards, whitespace, control characters, NUL, `$`
/// (JetStream's `$JS` API prefix) and anything outside ASCII.
pub fn assert_safe_subject_token(s: &str) {
    assert!(!s.is_empty(), "empty id accepted");
    assert!(s.len() <= 128, "id of {} bytes accepted", s.len());
    assert!(s.is_ascii(), "non-ASCII id accepted: {s:?}");
    for c in s.chars() {
        assert!(
            !matches!(c, '.' | '*' | '>' | '$' | '\0' | '/' | '\\')
                && !c.is_whitespace()
                && !c.is_control(),
            "id with {c:?} accepted: {s:?}"
        );
    }
}

/// JSON equality where two floats count as equal when they are within a few
/// units in the last place. serde_json (without its `float_roundtrip` feature,
/// which proto does not enable) may parse a long decimal 1 ulp off, so a value
/// that went text -> f64 -> text -> f64 can move by an ulp; that is serde_json's
/// documented trade-off, not a frame bug.
pub fn json_equiv(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(p), Some(q)) if x.is_f64() || y.is_f64() => floats_close(p, q),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equiv(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equiv(v, w)))
        }
        _ => a == b,
    }
}

fn floats_close(p: f64, q: f64) -> bool {
    if p == q {
        return true;
    }
    if p.is_sign_negative() != q.is_sign_negative() {
        return false;
    }
    let (a, b) = (p.abs().to_bits(), q.abs().to_bits());
    a.abs_diff(b) <= 4
}

/// The magic key of serde_json's `RawValue`. With serde_json's `raw_value`
/// feature on (axum turns it on, so the services have it too), deserializing a
/// `serde_json::Value` from an object whose first key is this token does not
/// give that object: it parses the member's *string* as a JSON document of its
/// own (with a fresh recursion limit) and returns that instead.
pub const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Reads `text` as JSON with a visitor of its own, so serde_json's special
/// treatment of [`RAW_VALUE_TOKEN`] does not apply: `None` if it is not JSON
/// (same syntax, number range and recursion limit as serde_json), else whether any
/// object key anywhere in it is the token (after unescaping).
pub fn scan_json(text: &str) -> Option<bool> {
    serde_json::from_str::<KeyScan>(text).ok().map(|s| s.0)
}

struct KeyScan(bool);

impl<'de> serde::Deserialize<'de> for KeyScan {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyScanVisitor)
    }
}

struct KeyScanVisitor;

impl<'de> serde::de::Visitor<'de> for KeyScanVisitor {
    type Value = KeyScan;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<KeyScan, E> {
        Ok(KeyScan(false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<KeyScan, E> {
        Ok(KeyScan(false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<KeyScan, E> {
        Ok(KeyScan(false))
    }
    fn visit_f64<E>(self, _: f64) -> Result<KeyScan, E> {
        Ok(KeyScan(false))
    }
    fn visit_str<E>(self, _: &str) -> Result<KeyScan, E> {
        Ok(KeyScan(false))
    }
    fn visit_unit<E>(self) -> Result<KeyScan, E> {
        Ok(KeyScan(false))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<KeyScan, A::Error> {
        let mut found = false;
        while let Some(KeyScan(f)) = seq.next_element()? {
            found |= f;
        }
        Ok(KeyScan(found))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<KeyScan, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            found |= key == RAW_VALUE_TOKEN;
            let KeyScan(f) = map.next_value()?;
            found |= f;
        }
        Ok(KeyScan(found))
    }
}
