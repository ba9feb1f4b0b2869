#!/usr/bin/env python3
"""Check the rendered Kubernetes manifests (deploy/k8s) against our binaries,
nats.conf and docs/operations.md, without a cluster.

Run by scripts/check_k8s.sh, which installs the tools and passes the
binaries' --help here. Renders each kustomization with `kubectl kustomize`,
validates the objects strictly against the Kubernetes schemas
(kubernetes-validate, offline), then checks them.
Usage: check_k8s.py --help-dir DIR --kubectl BIN --validator BIN
                    [--kubernetes-version V] [--nats-server BIN] NAME=KUSTOMIZATION_DIR...
(DIR holds moolai-edge.help, moolai-core.help, moolai-persister.help.)
Prints one line per failure and a closing `k8s-check: N passed, M failed`.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import yaml

import checks
from checks import check

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
# kustomize loads no file outside its root: these are copies, kept identical.
COPIES = {
    BASE / "nats" / "nats.conf": ROOT / "nats.conf",
    BASE / "nats" / "nats-auth.conf": ROOT / "nats-auth.conf",
    BASE / "nats" / "entrypoint.sh": ROOT / "deploy" / "entrypoint.sh",
}
OUR_IMAGE = "moolai-controller"
ROLES = {"moolai-edge": "edge", "moolai-core": "core", "moolai-persister": "persister"}
MIN_REPLICAS = {"edge": 2, "core": 2, "persister": 1}
# RUST_LOG is read by the tracing filter and PGPASSWORD by sqlx (when
# DATABASE_URL has no password), not clap, so --help never lists them.
NOT_CLAP = {"RUST_LOG", "PGPASSWORD"}
# deploy/entrypoint.sh turns NAME_FILE into NAME for these names only.
SECRET_FILE_VAR = re.compile(r"^([A-Z][A-Z0-9_]*(PASSWORD|SECRET|TOKEN))_FILE$")
SECRET_VAR = re.compile(r"^[A-Z][A-Z0-9_]*(PASSWORD|SECRET|TOKEN)$")
LISTEN = {"edge": ("EDGE_LISTEN", 8766), "core": ("CORE_LISTEN", 8765), "persister": ("PERSISTER_LISTEN", 8767)}
# Seconds each binary may take to stop after SIGTERM beyond its HTTP server's
# 5 s (as scripts/check_compose.py): core and persister 20 s; the edge
# EDGE_DRAIN_SEC + 30 s of disconnect retries + 5 s (edge/src/lib.rs).
HTTP_GRACE = 5
EDGE_DRAIN_DEFAULT = 10
STOP_DEADLINE = {
    "edge": lambda env: int(env.get("EDGE_DRAIN_SEC") or EDGE_DRAIN_DEFAULT) + 35,
    "core": lambda env: 20,
    "persister": lambda env: 20,
}
NATS_PASSWORD_VARS = [f"MOOLAI_NATS_{r}_PASSWORD" for r in ("CORE", "EDGE", "PERSISTER", "MONITOR")]

def quantity(q):
    """A Kubernetes quantity (`250m`, `2`, `256Mi`, `1G`) as a float."""
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(q))
    if not m:
        return None
    units = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    return float(m.group(1)) * units[m.group(2)] if m.group(2) in units else None


def help_sets(help_dir):
    """Per binary: the env names and long flags its --help documents."""
    out = {}
    for binary in ROLES:
        path = Path(help_dir) / f"{binary}.help"
        text = path.read_text() if path.is_file() else ""
        check(text, f"no --help text of {binary} in {help_dir}")
        envs = set(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)", text))
        check(envs, f"{binary} --help shows no [env: NAME]")
        # clap leaves out the value (`[env: NAME]`, not `[env: NAME=...]`) of
        # the settings that are secrets (hide_env_values).
        hidden = set(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)\]", text))
        check(hidden, f"{binary} --help marks no setting as secret")
        out[binary] = (envs, set(re.findall(r"(--[a-z0-9][a-z0-9-]*)", text)), hidden)
    return out


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container, port):
    """A probe's or Service's port (a number or a container port's name) as a number."""
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p["containerPort"]
    return None


def pre_stop_sleep(container):
    cmd = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    if len(cmd) == 2 and cmd[0] == "sleep":
        return int(cmd[1])
    sleep = ((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep")
    return int(sleep["seconds"]) if sleep else 0


def secret_files(pod):
    """{mount path of each file from a Secret: (secret, key)} of a pod's volumes."""
    volumes = {}
    for v in pod.get("volumes") or []:
        files = {}
        sources = [{"secret": v["secret"]}] if "secret" in v else (v.get("projected") or {}).get("sources") or []
        if "secret" in v:
            sources[0]["secret"] = {"name": v["secret"]["secretName"], "items": v["secret"].get("items")}
        for s in sources:
            sec = s.get("secret")
            if not sec:
                continue
            check(sec.get("items"), f"volume {v['name']}: secret {sec.get('name')} mounts every key, not named items")
            for item in sec.get("items") or []:
                files[item["path"]] = (sec["name"], item["key"])
        if files:
            volumes[v["name"]] = files
    return volumes


def mounted_secret_files(pod, container):
    vols = secret_files(pod)
    out = {}
    for m in container.get("volumeMounts") or []:
        if m["name"] in vols:
            check(m.get("readOnly"), f"{container['name']}: secrets mounted at {m['mountPath']} are not read-only")
            for path, ref in vols[m["name"]].items():
                out[f"{m['mountPath'].rstrip('/')}/{path}"] = ref
    return out


def env_map(container):
    return {e["name"]: e for e in container.get("env") or []}


def env_values(container):
    return {n: str(e["value"]) for n, e in env_map(container).items() if "value" in e}


def secret_refs(objs):
    """(secret, key) pairs every workload reads."""
    refs = set()
    for obj in objs:
        pod = pod_spec(obj)
        if not pod:
            continue
        for files in secret_files(pod).values():
            refs |= set(files.values())
        for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
            for ef in c.get("envFrom") or []:
                check("secretRef" not in ef, f"{c['name']}: envFrom a whole Secret (its keys are unchecked)")
    return refs


def documented_secrets():
    """{secret: keys} of the `kubectl create secret generic` commands in docs/operations.md."""
    path = ROOT / "docs" / "operations.md"
    text = path.read_text() if path.is_file() else ""
    docs = {}
    for m in re.finditer(r"create secret generic ([a-z0-9-]+)((?:[^\n]*\\\n)*[^\n]*)", text):
        keys = set(re.findall(r"--from-(?:literal|file)=([A-Za-z0-9._-]+)=", m.group(2)))
        docs.setdefault(m.group(1), set()).update(keys)
    return docs


def pod_spec(obj):
    if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def check_security(name, pod, helps):
    ctx = pod.get("securityContext") or {}
    check(ctx.get("runAsNonRoot") is True, f"{name}: pod runAsNonRoot is not true")
    check(isinstance(ctx.get("runAsUser"), int) and ctx["runAsUser"] > 0,
          f"{name}: no numeric non-root runAsUser (an image's named USER cannot be verified as non-root)")
    check((ctx.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{name}: seccomp is not RuntimeDefault")
    check(pod.get("automountServiceAccountToken") is False, f"{name}: mounts a service account token")
    for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        sc = c.get("securityContext") or {}
        cn = f"{name}/{c['name']}"
        check(sc.get("allowPrivilegeEscalation") is False, f"{cn}: allowPrivilegeEscalation is not false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{cn}: root filesystem is writable")
        check("ALL" in ((sc.get("capabilities") or {}).get("drop") or []), f"{cn}: does not drop ALL capabilities")
        check(not sc.get("privileged"), f"{cn}: privileged")
        res = c.get("resources") or {}
        for kind in ("cpu", "memory"):
            req = quantity((res.get("requests") or {}).get(kind))
            lim = quantity((res.get("limits") or {}).get(kind))
            if check(req and lim, f"{cn}: no {kind} request and limit"):
                check(req <= lim, f"{cn}: {kind} request above its limit")
        # A secret's value is never in a manifest: ours are the settings each
        # binary hides the value of, the others' go by their names.
        args = [str(a) for a in c.get("args") or []]
        secret = (lambda var: var in helps[args[0]][2] | {"PGPASSWORD"}) if args and args[0] in helps \
            else SECRET_VAR.match
        for var, e in env_map(c).items():
            check(not (secret(var) and ("value" in e or "valueFrom" in e)),
                  f"{cn}: {var} is set in the manifest (a secret belongs in a Secret file, {var}_FILE)")


def check_nats(sts, objs, nats_server):
    """The NATS StatefulSet: 3 nodes of the cluster config, routes naming its
    pods, the four passwords as files, and nats-server accepting the config."""
    name, svc, replicas = sts["metadata"]["name"], sts["spec"].get("serviceName"), sts["spec"].get("replicas")
    check(replicas == 3, f"NATS StatefulSet has {replicas} replicas, not 3")
    pod = pod_spec(sts)
    c = pod["containers"][0]
    args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
    check(any(a.endswith("entrypoint.sh") for a in args), "NATS does not start through the entry point, so no password reaches it")
    check("-c" in args, "NATS runs no config file (-c)")
    conf_path = args[args.index("-c") + 1] if "-c" in args else ""
    check("--name" in args and args[args.index("--name") + 1] == "$(POD_NAME)",
          "NATS nodes are not named after their pods (--name $(POD_NAME))")
    check(env_map(c).get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
          "POD_NAME is not the pod's name")
    check("-sd" in args and any(m["mountPath"] == args[args.index("-sd") + 1] for m in c.get("volumeMounts") or []),
          "NATS's store directory (-sd) is not a volume")
    files = mounted_secret_files(pod, c)
    env = env_values(c)
    for var in NATS_PASSWORD_VARS:
        role = var.split("_")[2].lower()
        path = env.get(var + "_FILE")
        check(path in files and files[path] == ("moolai-nats-users", role),
              f"NATS: {var}_FILE={path} is not the key {role!r} of moolai-nats-users")
    # Exactly the passwords nats-auth.conf reads, each from a file; the rest of
    # its environment is POD_NAME (for --name) and the Go runtime's GOMEMLIMIT.
    wanted = set(re.findall(r"\$(MOOLAI_[A-Z0-9_]+)", re.sub(r"#.*", "", (ROOT / "nats-auth.conf").read_text())))
    given = {SECRET_FILE_VAR.match(v).group(1) for v in env_map(c) if SECRET_FILE_VAR.match(v)}
    check(wanted == given and wanted, f"NATS is given {sorted(given)} as files, nats-auth.conf reads {sorted(wanted)}")
    for var in env_map(c):
        check(var in {"POD_NAME", "GOMEMLIMIT"} or SECRET_FILE_VAR.match(var), f"NATS: {var} is read by nothing")
    # The ConfigMap mounted where the config is read from.
    cms = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    data = {}
    for m in c.get("volumeMounts") or []:
        vol = next((v for v in pod.get("volumes") or [] if v["name"] == m["name"]), {})
        cm = cms.get((vol.get("configMap") or {}).get("name"))
        if cm:
            data.update({f"{m['mountPath'].rstrip('/')}/{k}": v for k, v in (cm.get("data") or {}).items()})
    check(conf_path in data, f"NATS config {conf_path} is not in a mounted ConfigMap")
    entry = next((a for a in args if a.endswith("entrypoint.sh")), None)
    check(entry in data, f"NATS entry point {entry} is not in a mounted ConfigMap")
    if entry in data:
        check(data[entry] == (ROOT / "deploy/entrypoint.sh").read_text(), "NATS's entry point differs from deploy/entrypoint.sh")
    conf = re.sub(r"#.*", "", data.get(conf_path, ""))
    routes = set(re.findall(r"nats-route://([^:\s]+):(\d+)", conf))
    want = {(f"{name}-{i}.{svc}", "6222") for i in range(replicas or 0)}
    check(routes == want, f"NATS routes {sorted(routes)} are not the StatefulSet's pods {sorted(want)}")
    headless = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == svc]
    check(headless and headless[0]["spec"].get("clusterIP") == "None", f"NATS's serviceName {svc} is not a headless Service")
    if headless:
        check(headless[0]["spec"].get("publishNotReadyAddresses") is True,
              "the NATS Service does not publish unready pods, so the routes cannot form")
    if nats_server and Path(nats_server).is_file() and conf_path in data:
        with tempfile.TemporaryDirectory() as tmp:
            for path, text in data.items():
                if path.startswith(str(Path(conf_path).parent)):
                    (Path(tmp) / Path(path).name).write_text(text)
            local = str(Path(tmp) / Path(conf_path).name)
            env = {k: v for k, v in os.environ.items() if k not in NATS_PASSWORD_VARS}
            r = subprocess.run([nats_server, "-t", "-c", local], capture_output=True, text=True, timeout=30, env=env)
            check(r.returncode != 0, "the NATS config is accepted without the passwords")
            env.update({v: "check" + v.lower().replace("_", "") for v in NATS_PASSWORD_VARS})
            r = subprocess.run([nats_server, "-t", "-c", local], capture_output=True, text=True, timeout=30, env=env)
            check(r.returncode == 0, f"nats-server -t rejects the NATS config: {r.stderr.strip()}")
    return {f"{name}-{i}.{svc}" for i in range(replicas or 0)}, replicas


def nats_client_port():
    conf = re.sub(r"#.*", "", (ROOT / "nats.conf").read_text())
    m = re.search(r"^\s*listen\s*[:=]?\s*\"?[^\s\"]*:(\d+)", conf, re.M)
    return int(m.group(1)) if m else 4222


def check_role(dep, helps, nats_hosts, nats_replicas):
    pod = pod_spec(dep)
    ours = [c for c in pod["containers"] if str(c.get("image", "")).split(":")[0].split("/")[-1] == OUR_IMAGE]
    if not check(len(ours) == 1, f"{dep['metadata']['name']}: not one container of {OUR_IMAGE}"):
        return None
    c = ours[0]
    cn = f"{dep['metadata']['name']}/{c['name']}"
    check("command" not in c, f"{cn}: `command` replaces the image's entry point, which reads the NAME_FILE secrets")
    args = [str(a) for a in c.get("args") or []]
    binary = args[0] if args else None
    if not check(binary in ROLES, f"{cn}: args {args} run none of {sorted(ROLES)}"):
        return None
    role = ROLES[binary]
    envs, flags, hidden = helps[binary]
    for arg in args[1:]:
        if arg.startswith("--"):
            check(arg.split("=")[0] in flags, f"{cn}: {arg} is not a flag of `{binary} --help`")
    check(pod.get("enableServiceLinks") is False,
          f"{cn}: enableServiceLinks is on, so Kubernetes adds variables of its own to the environment")
    files = mounted_secret_files(pod, c)
    env = env_values(c)
    for e in c.get("env") or []:
        name = e["name"]
        secret = SECRET_FILE_VAR.match(name)
        key = secret.group(1) if secret else name
        check(key in NOT_CLAP or key in envs,
              f"{cn}: {name} is not a setting of {binary} (`{binary} --help` has no [env: {key}])")
        if secret:
            check(env.get(name) in files, f"{cn}: {name}={env.get(name)} is not a file of a mounted Secret")
        if secret:
            check(key in hidden | {"PGPASSWORD"},
                  f"{cn}: {name}: {binary} does not take {key} as a secret (`--help` shows its value)")
    # The role's own NATS user and only its password.
    check(env.get("NATS_USER") == role, f"{cn}: NATS_USER is {env.get('NATS_USER')!r}, not {role!r}")
    path = env.get("NATS_PASSWORD_FILE")
    check(files.get(path) == ("moolai-nats-users", role), f"{cn}: NATS_PASSWORD_FILE is not the key {role!r} of moolai-nats-users")
    other = [ref for ref in files.values() if ref[0] == "moolai-nats-users" and ref[1] != role]
    check(not other, f"{cn}: mounts other users' NATS passwords {other}")
    urls = [urlsplit(u.strip()) for u in (env.get("NATS_URL") or "").split(",") if u.strip()]
    check({u.hostname for u in urls} == nats_hosts, f"{cn}: NATS_URL lists {sorted(u.hostname for u in urls)}, not every node {sorted(nats_hosts)}")
    check(all(u.port == nats_client_port() for u in urls), f"{cn}: NATS_URL's port is not nats.conf's {nats_client_port()}")
    check(env.get("STREAM_REPLICAS") == str(nats_replicas), f"{cn}: STREAM_REPLICAS is {env.get('STREAM_REPLICAS')}, not one per node")
    if role in ("core", "persister"):
        db = env_map(c).get("DATABASE_URL", {})
        check((db.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == "moolai-database",
              f"{cn}: DATABASE_URL does not come from the Secret moolai-database")
        check(files.get(env.get("PGPASSWORD_FILE")) == ("moolai-database", "password"),
              f"{cn}: PGPASSWORD_FILE is not the key `password` of moolai-database")
    if role in ("core", "edge"):
        check(files.get(env.get("ORCHESTRATOR_TOKEN_SECRET_FILE")) == ("moolai-tokens", "orchestrator-token-secret"),
              f"{cn}: ORCHESTRATOR_TOKEN_SECRET_FILE is not moolai-tokens' orchestrator-token-secret")
    if role == "edge":
        check(env.get("EDGE_REQUIRE_ORCHESTRATOR_TOKEN", "true") == "true", f"{cn}: orchestrator tokens are not required")
    id_var = {"edge": "EDGE_ID", "core": "CORE_ID"}.get(role)
    if id_var:
        check(env_map(c).get(id_var, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
              f"{cn}: {id_var} is not the pod's name, so replicas would share or make up ids")
    # Listening port, probes, replicas, stopping time.
    var, default = LISTEN[role]
    listen = int(env[var].rsplit(":", 1)[1]) if env.get(var) else default
    check(any(p["containerPort"] == listen for p in c.get("ports") or []), f"{cn}: no container port {listen} ({var})")
    for probe, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        check(get.get("path") == want, f"{cn}: {probe} is not GET {want}")
        check(container_port(c, get.get("port")) == listen, f"{cn}: {probe} is not on :{listen}")
    start = (c.get("startupProbe") or {}).get("httpGet") or {}
    if start:
        check(start.get("path") == "/healthz" and container_port(c, start.get("port")) == listen,
              f"{cn}: startupProbe is not GET /healthz on :{listen}")
    replicas = dep["spec"].get("replicas", 1)
    check(replicas >= MIN_REPLICAS[role], f"{cn}: {replicas} replicas, fewer than {MIN_REPLICAS[role]}")
    need = pre_stop_sleep(c) + HTTP_GRACE + STOP_DEADLINE[role](env)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(grace > need, f"{cn}: terminationGracePeriodSeconds {grace} is not above the {need} s it may take to stop")
    return role


def render(label, directory, a, tmp):
    """`kubectl kustomize` of directory, validated strictly; the file or None."""
    out = Path(tmp) / f"{label}.yaml"
    r = subprocess.run([a.kubectl, "kustomize", directory], capture_output=True, text=True, timeout=120)
    if not check(r.returncode == 0, f"`kubectl kustomize {directory}` failed: {r.stderr.strip()}"):
        return None
    out.write_text(r.stdout)
    # --strict: a field the schema does not know fails too.
    r = subprocess.run([a.validator, "--strict", "--kubernetes-version", a.kubernetes_version, "--quiet", str(out)],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"{directory} does not validate against Kubernetes {a.kubernetes_version}:\n"
          + (r.stdout + r.stderr).strip())
    return out


def check_rendering(label, path, helps, nats_server, documented):
    checks.context = f"{label}: "
    objs = [o for o in yaml.safe_load_all(Path(path).read_text()) if o]
    check(objs, f"{path} renders nothing")
    kinds = {}
    for o in objs:
        kinds.setdefault(o["kind"], []).append(o)
    # No secret value is shipped: every Secret is the operator's.
    check(not kinds.get("Secret"), f"renders Secrets {[o['metadata']['name'] for o in kinds.get('Secret', [])]}")
    namespaces = {o["metadata"].get("namespace") for o in objs if o["kind"] != "Namespace"}
    check(namespaces == {"moolai"}, f"objects in namespaces {namespaces}, not only moolai")
    for o in objs:
        pod = pod_spec(o)
        if pod:
            check_security(f"{o['kind']}/{o['metadata']['name']}", pod, helps)
    nats = [o for o in kinds.get("StatefulSet", []) if o["metadata"]["name"] == "nats"]
    nats_hosts, nats_replicas = set(), None
    if check(nats, "no StatefulSet nats"):
        nats_hosts, nats_replicas = check_nats(nats[0], objs, nats_server)
    roles = {}
    for dep in kinds.get("Deployment", []):
        role = check_role(dep, helps, nats_hosts, nats_replicas)
        if role:
            roles[role] = dep
    check(set(roles) == set(MIN_REPLICAS), f"Deployments for {sorted(roles)}, not {sorted(MIN_REPLICAS)}")
    workloads = [o for o in objs if pod_spec(o)]
    # Every Service selects pods and reaches a port they have.
    services = {o["metadata"]["name"]: o for o in kinds.get("Service", [])}
    for name, svc in services.items():
        targets = [w for w in workloads if matches(svc["spec"].get("selector"), w["spec"]["template"]["metadata"].get("labels") or {})]
        check(targets, f"Service {name} selects no pods")
        for port in svc["spec"].get("ports") or []:
            for w in targets:
                target = port.get("targetPort", port["port"])
                check(any(container_port(c, target) for c in pod_spec(w)["containers"]),
                      f"Service {name}: targetPort {target} is no port of {w['metadata']['name']}")
    check("core" in services, "no Service for core (the API and dashboard)")
    edge_svc = services.get("edge")
    if check(edge_svc, "no Service for the edges"):
        if label == "base":
            check(edge_svc["spec"].get("type") == "LoadBalancer", "the edges' Service is not a LoadBalancer")
            check(edge_svc["spec"].get("externalTrafficPolicy") == "Local",
                  "the edges' Service hides client addresses, which the per-address limits count by")
    # A PodDisruptionBudget for each role and NATS, none of which blocks every eviction.
    for w in [o for o in (list(roles.values()) + nats)]:
        labels = w["spec"]["template"]["metadata"].get("labels") or {}
        pdbs = [p for p in kinds.get("PodDisruptionBudget", []) if matches(p["spec"]["selector"].get("matchLabels"), labels)]
        if check(len(pdbs) == 1, f"{w['metadata']['name']}: {len(pdbs)} PodDisruptionBudgets, not one"):
            spec = pdbs[0]["spec"]
            replicas = w["spec"].get("replicas", 1)
            allowed = spec["maxUnavailable"] if "maxUnavailable" in spec else replicas - spec.get("minAvailable", 0)
            check(isinstance(allowed, int) and allowed >= 1, f"{w['metadata']['name']}: its PodDisruptionBudget allows no eviction")
    # Every Secret read is one docs/operations.md tells how to create, with that key.
    for name, key in sorted(secret_refs(objs)):
        check(key in documented.get(name, set()),
              f"Secret {name} key {key} is read, but docs/operations.md creates no such key")
    # The dev PostgreSQL takes the password core and the persister read.
    for sts in kinds.get("StatefulSet", []):
        if sts["metadata"]["name"] == "postgres":
            pod = pod_spec(sts)
            c = pod["containers"][0]
            files = mounted_secret_files(pod, c)
            check(files.get(env_values(c).get("POSTGRES_PASSWORD_FILE")) == ("moolai-database", "password"),
                  "postgres: POSTGRES_PASSWORD_FILE is not the key `password` of moolai-database")
    checks.context = ""


def check_comments():
    """Each container's resources in the sources cite the figure they rest on."""
    for path in sorted(BASE.glob("*.yaml")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "resources:" and line.startswith("          "):
                above = "\n".join(lines[max(0, i - 14):i])
                check(re.search(r"docs/(benchmarks|performance|security)\.md", above),
                      f"{path.relative_to(ROOT)}:{i + 1}: resources cite no measured figure (docs/benchmarks.md, ...)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--help-dir", required=True)
    ap.add_argument("--nats-server")
    ap.add_argument("--kubectl", required=True)
    ap.add_argument("--validator", required=True, help="the kubernetes-validate program")
    ap.add_argument("--kubernetes-version", default="1.30.0")
    ap.add_argument("kustomizations", nargs="+", help="NAME=DIR of each kustomization")
    a = ap.parse_args()
    for copy, original in COPIES.items():
        check(copy.is_file() and copy.read_bytes() == original.read_bytes(),
              f"{copy.relative_to(ROOT)} is not a byte-for-byte copy of {original.relative_to(ROOT)}")
    check_comments()
    helps = help_sets(a.help_dir)
    documented = documented_secrets()
    check(documented, "docs/operations.md has no `kubectl create secret generic` command")
    with tempfile.TemporaryDirectory() as tmp:
        for item in a.kustomizations:
            label, directory = item.split("=", 1)
            path = render(label, directory, a, tmp)
            if path:
                check_rendering(label, path, helps, a.nats_server, documented)
    return checks.summary("k8s-check")


if __name__ == "__main__":
    sys.exit(main())
