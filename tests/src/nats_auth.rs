//! The NATS logins of the roles: the users of the shipped nats.conf and their
//! passwords, shared by the in-process roles and the nats-servers tests start.

/// The NATS users of the shipped nats.conf: one per role, and the read-only one.
pub const NATS_ROLES: [&str; 4] = ["core", "edge", "persister", "monitor"];

/// The password of a role's NATS user: `MOOLAI_NATS_<ROLE>_PASSWORD` as
/// scripts/test.sh exports it (the variable nats.conf reads), else one made up
/// once per test process, which the private servers of [`faults`] and
/// [`netns`] are started with too. A server that asks for no credentials
/// ignores them.
pub fn nats_password(role: &str) -> String {
    static MADE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    std::env::var(nats_password_var(role)).unwrap_or_else(|_| {
        let made = MADE.get_or_init(|| uuid::Uuid::new_v4().simple().to_string());
        format!("p{made}{role}")
    })
}

/// The environment variable nats.conf reads a role's password from.
pub fn nats_password_var(role: &str) -> String {
    format!("MOOLAI_NATS_{}_PASSWORD", role.to_uppercase())
}

/// Every role's password variable, for a nats-server started with nats.conf.
pub fn nats_server_env() -> Vec<(String, String)> {
    NATS_ROLES
        .iter()
        .map(|role| (nats_password_var(role), nats_password(role)))
        .collect()
}
