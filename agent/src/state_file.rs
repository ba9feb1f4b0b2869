//! The state file an orchestrator keeps between runs: its last provisioning,
//! its independence rule and, once enrolled, its token.

use std::path::Path;

use chrono::Utc;
use moolai_proto::frames::timestamp;
use serde_json::{json, Value};

/// Sets `key` in the state file of orchestrator `id`. Written to a temporary file
/// and renamed, so a crash never leaves half a file; readable by its owner only,
/// since it may hold the orchestrator's token.
pub fn keep_state(path: &Path, id: &str, key: &str, value: Value) {
    let mut state = read_state(path).unwrap_or_else(|| json!({}));
    state["orchestrator_id"] = json!(id);
    state[key] = value;
    state["updated_at"] = json!(timestamp(Utc::now()));
    let tmp = path.with_extension("tmp");
    let written = serde_json::to_vec_pretty(&state)
        .map_err(std::io::Error::other)
        .and_then(|bytes| write_private(&tmp, &bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(err) = written {
        tracing::warn!(%err, path = %path.display(), "could not keep the state file");
    }
}

/// The state file's JSON object, if there is one.
pub fn read_state(path: &Path) -> Option<Value> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(Value::is_object)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
