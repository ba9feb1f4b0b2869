//! NATS over TLS: the shipped nats.conf with the `tls` block docs/security.md
//! shows, and a role given `tls://` and the private CA (`NATS_CA_FILE`) logs in
//! and works; a client that does not trust the CA is refused.

use std::process::Stdio;
use std::time::Duration;

use async_nats::ConnectOptions;
use moolai_tests::{
    free_port, nats_password, nats_server_env, repo_file, start_persister, wait_until, TestEnv,
};
use tokio::net::TcpStream;
use tokio::process::Command;

#[tokio::test]
async fn a_role_given_the_ca_logs_in_over_tls_and_a_client_without_it_is_refused() {
    let Ok(bin) = std::env::var("NATS_SERVER_BIN") else {
        eprintln!("NATS_SERVER_BIN not set; skipping (scripts/test.sh sets it)");
        return;
    };
    // The shipped files, plus the documented tls block, in a directory of their own
    // (nats-server resolves `include nats-auth.conf` beside nats.conf).
    let dir =
        std::env::temp_dir().join(format!("moolai-nats-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("server.pem"), dir.join("server-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    std::fs::copy(repo_file("nats-auth.conf"), dir.join("nats-auth.conf")).unwrap();
    let conf = format!(
        "{}\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
        std::fs::read_to_string(repo_file("nats.conf")).unwrap(),
        cert.display(),
        key.display()
    );
    std::fs::write(dir.join("nats.conf"), conf).unwrap();
    let port = free_port();
    let _server = Command::new(bin)
        .arg("-c")
        .arg(dir.join("nats.conf"))
        .args(["-p", &port.to_string(), "-sd"])
        .arg(dir.join("store"))
        .envs(nats_server_env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start nats-server");
    let listening = wait_until(Duration::from_secs(10), || async move {
        TcpStream::connect(("127.0.0.1", port)).await.is_ok()
    })
    .await;
    assert!(listening.is_some(), "nats-server did not listen");
    let url = format!("tls://localhost:{port}");

    // Without the CA, the server's certificate is not trusted.
    let untrusted =
        ConnectOptions::with_user_and_password("persister".into(), nats_password("persister"))
            .connect(url.as_str())
            .await;
    assert!(
        untrusted.is_err(),
        "a client that does not trust the CA got in"
    );

    // The persister with `tls://` and NATS_CA_FILE logs in and gets ready (its
    // readiness asks NATS).
    let mut env = TestEnv::new().await;
    env.nats_url = url;
    let mut config = env.persister_config();
    config.service.nats.ca_file = Some(cert.clone());
    let persister = start_persister(config).await;
    persister.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
