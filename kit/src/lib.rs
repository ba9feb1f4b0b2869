//! The service kit: what core, edge and persister share beyond the wire types of
//! `moolai-proto` — the HTTP server loop and TLS, logging and shutdown, metrics,
//! health endpoints, the NATS connection and stream definitions, clap parsers for
//! secret settings, and why a service could not start.

pub mod address;
pub mod bus;
pub mod error;
pub mod flags;
pub mod health;
pub mod logbuf;
pub mod metrics;
pub mod secret_arg;
pub mod serve;
pub mod telemetry;

pub use error::StartError;
