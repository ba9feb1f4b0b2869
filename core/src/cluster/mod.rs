//! Core among its peers: this replica ([`replica`]), the others ([`peers`]),
//! the edges ([`edges`]), the singleton duties and their lease ([`duties`]),
//! what replicas tell each other ([`told`], [`changes`]) and the cluster's
//! logs ([`logs`]).

pub mod changes;
pub mod duties;
pub mod edges;
pub mod logs;
pub mod peers;
pub mod replica;
pub mod told;
