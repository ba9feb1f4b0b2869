//! Issue 12, admins and secrets: `ADMIN_PASSWORD` rotation at start, changing
//! one's own password, adding and removing admins (never the last), all
//! audited; secrets too short or empty refuse to start.

use clap::Parser;
use moolai_tests::api::{login_as, Api, I};
use moolai_tests::stacks::persister_and_core;
use moolai_tests::{start_core, start_persister, TestEnv, ADMIN_PASSWORD};
use serde_json::json;

const MESSAGES: &str = "/api/v1/internal/messages";

async fn token(addr: std::net::SocketAddr, user: &str, password: &str) -> String {
    let (status, body) = login_as(addr, user, password).await;
    assert_eq!(status, 200, "login of {user}: {body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn actions(api: &Api) -> Vec<String> {
    let (status, v) = api.get(&format!("{I}/audit?limit=1000")).await;
    assert_eq!(status, 200, "{v}");
    v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_admin_password_at_restart_applies_and_ends_that_admins_sessions() {
    let env = TestEnv::new().await;
    let _p = start_persister(env.persister_config()).await;
    let core = start_core(env.core_config()).await;
    let old_session = token(core.addr, "admin", ADMIN_PASSWORD).await;
    core.stop().await;

    let rotated = "a rotated password, long enough";
    let mut config = env.core_config();
    config.admin_password = Some(rotated.to_owned().into());
    let core = start_core(config.clone()).await;
    let (status, body) = Api::new(core.addr, Some(&old_session)).get(MESSAGES).await;
    assert_eq!(
        status, 401,
        "a session of the old password survived: {body}"
    );
    let (status, _) = login_as(core.addr, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 401, "the old password still works");
    let new_session = token(core.addr, "admin", rotated).await;
    let api = Api::new(core.addr, Some(&new_session));
    assert!(actions(&api)
        .await
        .contains(&"admin_password_rotated".to_owned()));
    core.stop().await;

    // The same value again changes nothing: sessions stay.
    let core = start_core(config).await;
    let (status, body) = Api::new(core.addr, Some(&new_session)).get(MESSAGES).await;
    assert_eq!(
        status, 200,
        "an unchanged ADMIN_PASSWORD ended sessions: {body}"
    );
}

#[tokio::test]
async fn an_admin_changes_its_password_with_the_current_one_and_other_sessions_end() {
    let env = TestEnv::new().await;
    let _p = start_persister(env.persister_config()).await;
    let config = env.core_config();
    let core = start_core(config.clone()).await;
    let mine = Api::new(
        core.addr,
        Some(&token(core.addr, "admin", ADMIN_PASSWORD).await),
    );
    let other = Api::new(
        core.addr,
        Some(&token(core.addr, "admin", ADMIN_PASSWORD).await),
    );
    let path = format!("{I}/auth/password");
    let new = "my own new password";
    let (status, v) = mine
        .post(
            &path,
            json!({"current_password": "not it at all", "new_password": new}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        moolai_tests::assertions::names_field(&v, "current_password"),
        "{v}"
    );
    let (status, v) = mine
        .post(
            &path,
            json!({"current_password": ADMIN_PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(status, 422, "a 5-character password: {v}");
    let (status, v) = mine
        .post(
            &path,
            json!({"current_password": ADMIN_PASSWORD, "new_password": new}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["sessions_ended"], 1, "{v}");
    assert_eq!(
        mine.get(MESSAGES).await.0,
        200,
        "the changing session ended"
    );
    assert_eq!(other.get(MESSAGES).await.0, 401, "another session survived");
    assert_eq!(login_as(core.addr, "admin", ADMIN_PASSWORD).await.0, 401);
    token(core.addr, "admin", new).await;
    assert!(actions(&mine)
        .await
        .contains(&"password_changed".to_owned()));
    // An unchanged ADMIN_PASSWORD does not undo it at the next start.
    core.stop().await;
    let core = start_core(config).await;
    assert_eq!(login_as(core.addr, "admin", ADMIN_PASSWORD).await.0, 401);
    token(core.addr, "admin", new).await;
}

#[tokio::test]
async fn superadmins_add_and_remove_admins_but_never_the_last_one() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |c| {
        c.dev_bearer_token = Some("a-static-token-for-tests".to_owned().into())
    })
    .await;
    let root = Api::new(
        core.addr,
        Some(&token(core.addr, "admin", ADMIN_PASSWORD).await),
    );
    let admins = format!("{I}/admins");
    let ops_body = json!({"username": "ops", "password": "ops password 123"});
    for (body, want) in [
        (json!({"username": "ops", "password": "short"}), 422),
        (
            json!({"username": "bad\nname", "password": "long enough password"}),
            422,
        ),
        (ops_body.clone(), 200),
        (ops_body, 409), // a second ops
    ] {
        let (status, v) = root.post(&admins, body.clone()).await;
        assert_eq!(status, want, "{body}: {v}");
    }
    let ops = Api::new(
        core.addr,
        Some(&token(core.addr, "ops", "ops password 123").await),
    );
    let (status, v) = ops.get(&admins).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["total"], 2, "{v}");
    let (status, v) = ops.get(&format!("{I}/auth/me")).await;
    assert_eq!(
        (status.as_u16(), v["superadmin"].clone()),
        (200, json!(false)),
        "{v}"
    );
    // Not a superadmin, nor the static token: 403.
    let dev = Api::new(core.addr, Some("a-static-token-for-tests"));
    for api in [&ops, &dev] {
        let (status, v) = api
            .post(
                &admins,
                json!({"username": "x", "password": "long enough password"}),
            )
            .await;
        assert_eq!(status, 403, "{v}");
        assert_eq!(api.delete(&format!("{admins}/admin")).await.0, 403);
    }
    // The last superadmin stays; the other admin goes, with its sessions.
    let (status, v) = root.delete(&format!("{admins}/admin")).await;
    assert_eq!(status, 409, "the last superadmin was removed: {v}");
    let (status, v) = root.delete(&format!("{admins}/nobody")).await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = root.delete(&format!("{admins}/ops")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        ops.get(MESSAGES).await.0,
        403,
        "a removed admin's session works"
    );
    let (status, v) = root.delete(&format!("{admins}/admin")).await;
    assert_eq!(status, 409, "the last admin was removed: {v}");
    let done = actions(&root).await;
    for wanted in ["admin_added", "admin_removed"] {
        assert!(
            done.contains(&wanted.to_owned()),
            "{wanted} not audited: {done:?}"
        );
    }
    let text = root
        .get(&format!("{I}/audit?limit=1000"))
        .await
        .1
        .to_string();
    assert!(
        !text.contains("ops password 123"),
        "a password in the audit log"
    );
}

/// Parses core's settings as its command line would.
#[tokio::test]
async fn the_development_token_is_told_it_cannot_manage_admins_and_which_login_can() {
    let env = TestEnv::new().await;
    let (_p, core) = persister_and_core(&env, |c| {
        c.dev_bearer_token = Some("a-static-token-for-tests".to_owned().into())
    })
    .await;
    let dev = Api::new(core.addr, Some("a-static-token-for-tests"));
    let admins = format!("{I}/admins");
    // It may read the list (the Admins page), not change it.
    assert_eq!(dev.get(&admins).await.0, 200);
    let add = json!({"username": "x", "password": "long enough password"});
    for (status, v) in [
        dev.post(&admins, add).await,
        dev.delete(&format!("{admins}/admin")).await,
    ] {
        assert_eq!(status, 403, "{v}");
        let detail = v["detail"].as_str().unwrap_or_default();
        for hint in ["development token", "log in as a superadmin", "auth/login"] {
            assert!(detail.contains(hint), "`{hint}` not in {v}");
        }
    }
}

fn core_args(extra: &[&str]) -> Result<moolai_core::Config, clap::Error> {
    let mut args = vec!["moolai-core", "--database-url", "postgres://u@localhost/db"];
    args.extend_from_slice(extra);
    moolai_core::Config::try_parse_from(args)
}

#[test]
fn short_or_empty_secrets_are_refused_by_the_settings() {
    let long_secret = "s".repeat(32);
    for (flag, short, ok) in [
        (
            "--orchestrator-token-secret",
            "s".repeat(31),
            long_secret.clone(),
        ),
        (
            "--dev-bearer-token",
            "fake-dev-token".into(),
            "a-static-token-16".into(),
        ),
        (
            "--admin-password",
            "eleven char".into(),
            "twelve chars".into(),
        ),
    ] {
        for bad in ["", short.as_str()] {
            let err = core_args(&[flag, bad]).expect_err(&format!("{flag}={bad:?} accepted"));
            let text = err.to_string();
            assert!(text.contains(flag), "{text}");
            assert!(
                bad.is_empty() || !text.contains(bad),
                "the value is echoed: {text}"
            );
        }
        assert!(core_args(&[flag, &ok]).is_ok(), "{flag}={ok:?} refused");
    }
    let edge = |secret: &str| {
        moolai_edge::Config::try_parse_from(["moolai-edge", "--orchestrator-token-secret", secret])
    };
    assert!(edge("").is_err());
    assert!(edge(&"s".repeat(31)).is_err());
    assert!(edge(&long_secret).is_ok());
}

/// Runs a binary with one variable set and waits (at most 20 s) for it to
/// exit; its stderr, or `None` if it kept running.
async fn refused_at_start(bin: &str, var: &str, value: &str) -> Option<String> {
    let mut cmd = tokio::process::Command::new(moolai_tests::workspace_bin(bin));
    cmd.env_clear()
        .env("DATABASE_URL", "postgres://u@127.0.0.1:1/db")
        .env("NATS_URL", "nats://127.0.0.1:1")
        .env(var, value)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("start the binary");
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .ok()?
        .unwrap();
    assert!(!out.status.success());
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn an_empty_secret_in_the_environment_counts_as_set_and_is_refused() {
    for (bin, var, value) in [
        ("moolai-core", "ORCHESTRATOR_TOKEN_SECRET", ""),
        ("moolai-core", "DEV_BEARER_TOKEN", ""),
        ("moolai-core", "ADMIN_PASSWORD", ""),
        ("moolai-core", "ADMIN_PASSWORD", "hunter2-ish"),
        ("moolai-edge", "ORCHESTRATOR_TOKEN_SECRET", ""),
    ] {
        let err = refused_at_start(bin, var, value)
            .await
            .unwrap_or_else(|| panic!("{bin} with {var}={value:?} did not exit"));
        assert!(err.contains(var), "{bin} {var}={value:?}: {err}");
        assert!(
            err.contains(&format!("{var}> refused")),
            "{bin} {var}={value:?}: {err}"
        );
        assert!(
            value.is_empty() || !err.contains(value),
            "value echoed: {err}"
        );
    }
}
