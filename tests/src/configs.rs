//! Each role's `Config` for a test: the binary's own flag parsing, with the
//! settings a test stack needs (its database, its prefix, generous caps).

use crate::{nats_password, TestEnv, ADMIN_PASSWORD};

impl TestEnv {
    /// The flags every role shares: `role`'s NATS login and this test's prefix.
    fn service_args(&self, role: &str) -> Vec<String> {
        [
            "--nats-url",
            &self.nats_url,
            "--nats-user",
            role,
            "--nats-password",
            &nats_password(role),
            "--subject-prefix",
            &self.prefix,
            "--stream-replicas",
            "1",
            "--listen",
            "127.0.0.1:0",
        ]
        .map(str::to_owned)
        .into()
    }

    pub fn persister_config(&self) -> moolai_persister::Config {
        let mut args = self.service_args("persister");
        args.extend(flag_pairs(&[
            ("--database-url", self.db_url.as_str()),
            ("--batch", "2000"),
            ("--session-ttl-sec", "28800"),
            ("--database-max-connections", "2"),
        ]));
        parse_config("moolai-persister", args)
    }

    pub fn core_config(&self) -> moolai_core::Config {
        let mut args = self.service_args("core");
        args.extend(flag_pairs(&[
            ("--database-url", self.db_url.as_str()),
            ("--heartbeat-ttl-sec", "120"),
            ("--liveness-sweep-ms", "250"),
            ("--header-timeout-sec", "10"),
            ("--body-timeout-sec", "10"),
            // Tests open thousands of connections from 127.0.0.1; tests of
            // the caps set their own.
            ("--http-max-connections", "100000"),
            ("--http-max-connections-per-address", "100000"),
            ("--heartbeat-flush-ms", "100"),
            ("--config-status-within-sec", "2"),
            ("--admin-username", "admin"),
            ("--admin-password", ADMIN_PASSWORD),
            ("--session-ttl-sec", "3600"),
            ("--session-idle-sec", "1800"),
            ("--log-buffer-size", "1000"),
            ("--dashboard-dir", "frontend/dist"),
        ]));
        parse_config("moolai-core", args)
    }

    pub fn edge_config(&self, edge_id: &str) -> moolai_edge::Config {
        let mut args = self.service_args("edge");
        args.extend(flag_pairs(&[
            ("--edge-id", edge_id),
            ("--handshake-timeout-sec", "15"),
            ("--controller-heartbeat-sec", "20"),
            ("--idle-timeout-sec", "100"),
            ("--header-timeout-sec", "10"),
            ("--body-timeout-sec", "10"),
            // Tests open thousands of connections from 127.0.0.1; tests of
            // the caps set their own.
            ("--http-max-connections", "100000"),
            ("--http-max-connections-per-address", "100000"),
            ("--drain-sec", "10"),
            // Tests open hundreds of upgrades at once from raw clients that do
            // not retry; admission's own test sets a bound.
            ("--max-pending-handshakes", "0"),
            ("--max-frames-per-sec", "50"),
            ("--bus-lost-sec", "15"),
            // Explicit opt-outs (the binary's defaults are on): most tests
            // speak raw WebSockets as made-up ids, many from one address,
            // some at load. The tests of these limits turn them on.
            ("--require-orchestrator-token", "false"),
            ("--max-connections-per-address", "0"),
            ("--max-messages-per-min", "0"),
            ("--max-message-bytes-per-min", "0"),
        ]));
        parse_config("moolai-edge", args)
    }
}

/// `--flag value` pairs as arguments.
fn flag_pairs(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(flag, value)| [(*flag).to_owned(), (*value).to_owned()])
        .collect()
}

/// A role's `Config` as its binary would parse these flags; settings left out
/// keep the binary's defaults. The variables of the test's own environment
/// (`NATS_URL`, `ORCHESTRATOR_TOKEN_SECRET`, ...) are not read: every role of a
/// test is configured by the test alone.
fn parse_config<C: clap::Parser>(binary: &str, args: Vec<String>) -> C {
    let command = C::command().mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(std::iter::once(binary.to_owned()).chain(args))
        .unwrap_or_else(|err| panic!("{binary} refused the test's flags: {err}"));
    C::from_arg_matches(&matches).unwrap_or_else(|err| panic!("{binary}: {err}"))
}
