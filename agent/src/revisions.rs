//! The revisions of the state the controller pushed (configuration, independence,
//! each message's status), so that a push arriving after a newer one — a late
//! frame of an older decision — is ignored instead of undoing it.

use std::collections::HashMap;

/// What this orchestrator has applied, kept across reconnects.
#[derive(Debug, Default)]
pub struct Revisions {
    config: Option<i64>,
    rule: Option<i64>,
    statuses: HashMap<String, i64>,
    /// The hash of the configuration it runs, once one was applied.
    running: Option<String>,
}

/// Which state a push carries.
pub enum Kind<'a> {
    Config,
    Rule,
    Status(&'a str),
}

impl Revisions {
    /// Whether a push of `kind` at `revision` is to be applied; records it if so.
    /// A push without a revision (an older controller, a manual `send`) is applied;
    /// an equal revision too (a resend of the same state changes nothing).
    pub fn accept(&mut self, kind: Kind<'_>, revision: Option<i64>) -> bool {
        let Some(revision) = revision else {
            return true;
        };
        let slot = match kind {
            Kind::Config => &mut self.config,
            Kind::Rule => &mut self.rule,
            Kind::Status(id) => {
                let had = self.statuses.entry(id.to_owned()).or_insert(revision);
                if revision < *had {
                    return false;
                }
                *had = revision;
                return true;
            }
        };
        if slot.is_some_and(|had| revision < had) {
            return false;
        }
        *slot = Some(revision);
        true
    }

    /// Whether the configuration with `hash` is the one running already.
    pub fn runs(&self, hash: &str) -> bool {
        self.running.as_deref() == Some(hash)
    }

    /// The configuration with `hash` now runs.
    pub fn now_running(&mut self, hash: &str) {
        self.running = Some(hash.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_push_is_ignored_and_a_newer_or_equal_one_applied() {
        let mut seen = Revisions::default();
        assert!(seen.accept(Kind::Rule, Some(3)));
        assert!(!seen.accept(Kind::Rule, Some(2)), "older rule applied");
        assert!(seen.accept(Kind::Rule, Some(3)), "a resend is harmless");
        assert!(seen.accept(Kind::Rule, Some(4)));
        assert!(seen.accept(Kind::Rule, None), "no revision: applied");
        // Kinds and messages are counted apart.
        assert!(seen.accept(Kind::Config, Some(1)));
        assert!(seen.accept(Kind::Status("m1"), Some(5)));
        assert!(!seen.accept(Kind::Status("m1"), Some(4)));
        assert!(seen.accept(Kind::Status("m2"), Some(1)));
    }
}
