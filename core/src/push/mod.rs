//! Frames core sends to orchestrators: the one edge holding a socket
//! ([`route`]), state pushed in order ([`ordered`]) from the desired
//! configurations held in memory ([`desired`]), queued sends, answers to
//! provisioning requests and the resend of configurations reported out of date.

pub mod desired;
pub mod now;
pub mod ordered;
pub mod queued;
pub mod reconcile;
pub mod requests;
pub mod route;
