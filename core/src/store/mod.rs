//! What core reads from PostgreSQL (it never writes: the persister does):
//! the fleet's rules and registrations at start ([`fleet`]) and the rows the
//! API answers with ([`read`]).

pub mod fleet;
pub mod read;
