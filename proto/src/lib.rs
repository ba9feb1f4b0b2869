//! The wire of the Moolai Controller: WebSocket frames, validated ids, bus
//! subjects, the events and commands that travel on them, orchestrator tokens and
//! secret settings. Only serde-level dependencies, so that clients (the agent) and
//! the fuzzers take none of the services' infrastructure; that lives in
//! `moolai-kit`.

pub mod close;
pub mod commands;
pub mod config;
pub mod events;
pub mod frames;
pub mod id;
mod nul;
pub mod secret;
pub mod subjects;
pub mod token;

pub use id::{CoreId, EdgeId, OrchestratorId};
pub use subjects::{EventKind, Subjects};
