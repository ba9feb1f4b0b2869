//! A nats-server in a network namespace of its own, reached over veth links, any
//! of which can be cut (both ends down: nothing crosses, no RST, no FIN). Needs
//! root and `ip` (iproute2); without them [`NatsBehindLinks::start`] says why and
//! tests skip. (Packet-loss qdiscs such as netem are not in every kernel; taking
//! the link down needs nothing but the veth driver.)

use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// One veth pair: our end's name, and the server's address on it.
pub struct Link {
    host_end: String,
    ns_end: String,
    pub server_ip: String,
}

pub struct NatsBehindLinks {
    namespace: String,
    pub links: Vec<Link>,
    pub port: u16,
    store: std::path::PathBuf,
    child: Option<Child>,
}

/// Runs `ip`/`tc` with `args`; `Err` carries what it printed.
fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NatsBehindLinks {
    /// As [`NatsBehindLinks::start`], or `None` after saying why the test is
    /// skipped (no root, no iproute2).
    pub async fn start_or_skip(links: usize) -> Option<Self> {
        match Self::start(links).await {
            Ok(nats) => Some(nats),
            Err(why) => {
                eprintln!("skipping the network-namespace test: {why}");
                None
            }
        }
    }

    /// A namespace with `links` veth links to it and JetStream listening on all.
    pub async fn start(links: usize) -> Result<Self, String> {
        let bin = std::env::var("NATS_SERVER_BIN").map_err(|_| "NATS_SERVER_BIN not set")?;
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let octet = u8::from_str_radix(&tag[..2], 16).unwrap();
        let mut made = Self {
            namespace: format!("moolai-{tag}"),
            links: Vec::new(),
            port: 4222,
            store: std::env::temp_dir().join(format!("moolai-netns-{tag}")),
            child: None,
        };
        run("ip", &["netns", "add", &made.namespace])?;
        made.ns(&["ip", "link", "set", "lo", "up"])?;
        for i in 0..links {
            let link = Link {
                host_end: format!("mo{tag}h{i}"),
                ns_end: format!("mo{tag}n{i}"),
                server_ip: format!("10.213.{octet}.{}", 4 * i + 2),
            };
            let host_ip = format!("10.213.{octet}.{}/30", 4 * i + 1);
            run(
                "ip",
                &[
                    "link",
                    "add",
                    &link.host_end,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &link.ns_end,
                ],
            )?;
            run(
                "ip",
                &["link", "set", &link.ns_end, "netns", &made.namespace],
            )?;
            run("ip", &["addr", "add", &host_ip, "dev", &link.host_end])?;
            run("ip", &["link", "set", &link.host_end, "up"])?;
            let ns_ip = format!("{}/30", link.server_ip);
            made.ns(&["ip", "addr", "add", &ns_ip, "dev", &link.ns_end])?;
            made.ns(&["ip", "link", "set", &link.ns_end, "up"])?;
            made.links.push(link);
        }
        let child = Command::new("ip")
            .args(["netns", "exec", &made.namespace, &bin, "-c"])
            .arg(crate::repo_file("nats.conf"))
            .args(["-a", "0.0.0.0", "-p"])
            .arg(made.port.to_string())
            .arg("-sd")
            .arg(&made.store)
            .envs(crate::nats_server_env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("start nats-server: {e}"))?;
        made.child = Some(child);
        let addr = format!("{}:{}", made.links[0].server_ip, made.port);
        for _ in 0..100 {
            if TcpStream::connect(&addr).await.is_ok() {
                return Ok(made);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("nats-server never listened on {addr}"))
    }

    fn ns(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", &self.namespace];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// The server's URL over link `i`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://{}:{}", self.links[i].server_ip, self.port)
    }

    /// Cuts link `i` as a pulled cable would: both ends go down, so nothing
    /// crosses it and nobody is told (established TCP connections just stop
    /// getting answers; no RST, no FIN).
    pub fn cut(&self, i: usize) {
        let link = &self.links[i];
        run("ip", &["link", "set", &link.host_end, "down"]).expect("cut our end");
        self.ns(&["ip", "link", "set", &link.ns_end, "down"])
            .expect("cut the server's end");
    }
}

impl Drop for NatsBehindLinks {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        // Deleting the namespace removes its veth ends, and with them ours.
        let _ = run("ip", &["netns", "del", &self.namespace]);
        for link in &self.links {
            let _ = run("ip", &["link", "del", &link.host_end]);
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
