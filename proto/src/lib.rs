//! Shared vocabulary of the Moolai Controller: WebSocket frames, validated ids,
//! bus subjects and the events that travel on them.

pub mod bus;
pub mod commands;
pub mod events;
pub mod frames;
pub mod health;
pub mod id;
pub mod logbuf;
pub mod metrics;
pub mod secret;
pub mod serve;
pub mod subjects;
pub mod telemetry;
pub mod token;

pub use id::{EdgeId, OrchestratorId};
pub use subjects::{EventKind, Subjects};
