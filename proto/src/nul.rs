//! NUL characters, which PostgreSQL stores in neither text nor jsonb: what
//! orchestrators send is checked for them where it enters (frames, statuses).

use serde_json::Value;

/// Whether a NUL character hides anywhere in `value`. Recursion is bounded by
/// serde_json's nesting limit (128) on the frame it came from.
pub(crate) fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}
