//! Configuration rollouts in waves; the HTTP side is `api::rollouts`.

pub mod conductor;
