//! Who may act: admin passwords and their hashing threads, the login throttle,
//! session idle expiry. The endpoints are in `api::auth` and `api::admins`.

pub mod hashing;
pub mod login_guard;
pub mod orchestrator_tokens;
pub mod passwords;
pub mod session_use;
