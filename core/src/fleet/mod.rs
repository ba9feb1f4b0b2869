//! The fleet as core sees it: who is connected where ([`live`]), handshakes and
//! disconnects followed from the events stream ([`sessions`]), heartbeats
//! decided ([`heartbeats`]) and the liveness sweep ([`liveness`]), with what the
//! dashboard reads of them: the activity feed and heartbeat rates.

pub mod activity;
pub mod heartbeats;
pub mod live;
pub mod liveness;
pub mod rates;
pub mod sessions;
pub mod waiting;
