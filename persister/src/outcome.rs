//! What a command's SQL comes to, shared by the command dispatcher
//! ([`crate::commands`]) and the statements it calls (e.g. [`crate::config_sql`]).

use moolai_proto::commands::Failure;
use serde_json::Value;

/// `Ok(Err(..))` is a refusal decided by the command itself (e.g. unknown id).
pub(crate) type Outcome = Result<Result<Value, (Failure, String)>, sqlx::Error>;
