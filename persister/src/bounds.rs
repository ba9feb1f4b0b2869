//! What a command may ask, whoever sent it. Only core may publish commands (the
//! bus's permissions, docs/security.md), but the persister is the last line
//! before the database: a command asking for something no core would ask for
//! is refused here rather than written.

use std::time::Duration;

use chrono::{DateTime, Utc};
use moolai_proto::commands::{Command, QUEUED_SEND_MAX_SEC};

/// Slack for clocks: core stamps `expires_at` a moment before we check it.
const CLOCK_SLACK: Duration = Duration::from_secs(60);

/// The limits commands are held to.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Longest session a `create_session` may ask for (`SESSION_TTL_SEC`, the
    /// same setting core gives its sessions).
    pub session_ttl: Duration,
}

impl Bounds {
    /// `Err(why)` when `command` asks for more than the limits allow at `now`.
    pub fn check(&self, command: &Command, now: DateTime<Utc>) -> Result<(), String> {
        match command {
            Command::CreateSession { expires_at, .. } => {
                let latest = now + self.session_ttl + CLOCK_SLACK;
                if *expires_at <= now {
                    Err(format!(
                        "session expires_at {expires_at} is not in the future"
                    ))
                } else if *expires_at > latest {
                    Err(format!(
                        "session expires_at {expires_at} is beyond the session lifetime ({} s)",
                        self.session_ttl.as_secs()
                    ))
                } else {
                    Ok(())
                }
            }
            Command::QueueSend(q) => {
                let longest = chrono::Duration::seconds(QUEUED_SEND_MAX_SEC);
                // A send that expires while it is being stored is harmless (it is
                // never delivered): only one from the past beyond clock slack is refused.
                if q.expires_at <= now - CLOCK_SLACK {
                    Err(format!(
                        "queued send expires_at {} is in the past",
                        q.expires_at
                    ))
                } else if q.expires_at > now + longest + CLOCK_SLACK {
                    Err(format!(
                        "queued send expires_at {} is beyond {QUEUED_SEND_MAX_SEC} s",
                        q.expires_at
                    ))
                } else {
                    Ok(())
                }
            }
            Command::ExpireStale { ttl_sec, .. } if *ttl_sec == 0 => {
                Err("expire_stale with ttl_sec 0 would expire every orchestrator".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sessions of at most an hour.
    fn an_hour() -> Bounds {
        Bounds {
            session_ttl: Duration::from_secs(3600),
        }
    }

    fn session(expires_at: DateTime<Utc>) -> Command {
        Command::CreateSession {
            token_hash: "h".into(),
            username: "admin".into(),
            expires_at,
        }
    }

    #[test]
    fn a_session_within_the_lifetime_passes_and_others_are_refused() {
        let bounds = an_hour();
        let now = Utc::now();
        assert!(bounds
            .check(&session(now + chrono::Duration::seconds(3600)), now)
            .is_ok());
        assert!(bounds
            .check(&session(now + chrono::Duration::days(3650)), now)
            .is_err());
        assert!(bounds
            .check(&session(now - chrono::Duration::seconds(1)), now)
            .is_err());
    }

    #[test]
    fn clocks_may_differ_by_a_minute() {
        let bounds = an_hour();
        let now = Utc::now();
        let within = now + chrono::Duration::seconds(3600 + 59);
        assert!(bounds.check(&session(within), now).is_ok());
        let beyond = now + chrono::Duration::seconds(3600 + 61);
        let why = bounds.check(&session(beyond), now).unwrap_err();
        assert!(
            why.contains("beyond the session lifetime (3600 s)"),
            "{why}"
        );
    }

    #[test]
    fn expiring_with_no_ttl_is_refused_and_other_commands_pass() {
        let bounds = an_hour();
        let now = Utc::now();
        assert!(bounds
            .check(
                &Command::ExpireStale {
                    ttl_sec: 0,
                    fence: None
                },
                now
            )
            .is_err());
        assert!(bounds
            .check(
                &Command::ExpireStale {
                    ttl_sec: 1,
                    fence: None
                },
                now
            )
            .is_ok());
        assert!(bounds.check(&Command::Ping, now).is_ok());
    }

    fn queued(expires_at: DateTime<Utc>) -> Command {
        Command::QueueSend(moolai_proto::commands::QueuedSend {
            id: "send_1".into(),
            orchestrator_id: moolai_proto::OrchestratorId::parse("org-1").unwrap(),
            frame: serde_json::json!({"type": "restart"}),
            frame_type: "restart".into(),
            created_by: "admin".into(),
            expires_at,
        })
    }

    #[test]
    fn a_queued_send_waits_at_most_thirty_days() {
        let bounds = an_hour();
        let now = Utc::now();
        let days = |d| now + chrono::Duration::days(d);
        assert!(bounds
            .check(&queued(now + chrono::Duration::seconds(1)), now)
            .is_ok());
        assert!(bounds.check(&queued(days(30)), now).is_ok());
        assert!(bounds.check(&queued(days(31)), now).is_err());
        assert!(bounds.check(&queued(days(-1)), now).is_err());
    }
}
