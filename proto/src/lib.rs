//! Shared vocabulary of the Moolai Controller: WebSocket frames, validated ids,
//! bus subjects and the events that travel on them.

pub mod bus;
pub mod events;
pub mod frames;
pub mod id;
pub mod subjects;

pub use id::{EdgeId, OrchestratorId};
pub use subjects::{EventKind, Subjects};
