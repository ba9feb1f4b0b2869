#!/usr/bin/env python3
"""The benchmark harness: starts the whole stack (release builds) on this machine,
drives `moolai-agent --count` load generators against it, and writes a report.

Run it through `bench/run.sh` (which builds, provisions NATS and PostgreSQL, and
passes the environment); `bench/run.sh --help` lists the knobs. Everything runs on
loopback, is bounded in time, and is stopped by PID when the run ends.

What it measures (one JSON report and one markdown row per run):
  connections held; handshake rate and latency (agents' own histograms);
  RSS per connection per edge; CPU µs per heartbeat per process;
  heartbeats/s offered and processed; rows fresh at the end; last_seen lag p50/p99
  (persister histogram); PostgreSQL transactions and rows per second;
  optionally a reconnect storm (one edge killed and restarted), a failover storm
  (--storm-failover: edge0 killed for good, its orchestrators timed onto the
  others, with refusals under admission control), the box's raw limits next to
  ours (--raw-limits: bench/src/bin/raw_limits.rs) and push/delivery latency
  (bench/src/bin/push_latency.rs at N connected).
Speed is read from the report; nothing here asserts it.
"""
import argparse
import datetime
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Release builds unless MOOLAI_BENCH_PROFILE=debug (CI's pass checks the harness).
RELEASE = ROOT / "target" / os.environ.get("MOOLAI_BENCH_PROFILE", "release")
# The NATS users of nats-auth.conf whose passwords the server needs.
NATS_ROLES = ("core", "edge", "persister", "monitor")
TICK = os.sysconf("SC_CLK_TCK")
# The bench stack's admin (loopback only, a throwaway database).
BENCH_ADMIN_PASSWORD = "bench-only-password"
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A process we started: its CPU time and RSS from /proc, stopped by PID."""

    def __init__(self, name, argv, env, logdir):
        self.name = name
        self.log = open(logdir / f"{name}.log", "ab")
        self.popen = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def cpu_secs(self):
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime

    def rss_kib(self):
        return int(Path(f"/proc/{self.popen.pid}/statm").read_text().split()[1]) * PAGE_KIB

    def stop(self, sig=signal.SIGTERM, wait=20):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(wait)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


def http_get(port, path, timeout=2):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read().decode()


def wait_ready(port, what, limit=60):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if http_get(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} on :{port} never became ready")


METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def metrics(port):
    """Prometheus text → {(name, labels): value}."""
    out = {}
    for line in http_get(port, "/metrics", timeout=5)[1].splitlines():
        m = METRIC.match(line)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def total(snapshot, name, labels=None):
    return sum(v for (n, l), v in snapshot.items() if n == name and (labels is None or labels in l))


def buckets(snapshot, name, labels=""):
    """Cumulative histogram buckets {le: count}, summed over the label sets that
    contain `labels`."""
    out = {}
    for (n, l), v in snapshot.items():
        if n == f"{name}_bucket" and labels in l:
            le = re.search(r'le="([^"]+)"', l).group(1)
            le = float("inf") if le == "+Inf" else float(le)
            out[le] = out.get(le, 0) + v
    return out


def quantile(before, after, q):
    """Upper bound of the bucket holding quantile q of the observations between two
    snapshots (Prometheus buckets: an upper bound, not an interpolation)."""
    delta = {le: after.get(le, 0) - before.get(le, 0) for le in after}
    count = delta.get(float("inf"), 0)
    if count <= 0:
        return None
    for le in sorted(delta):
        if delta[le] >= q * count:
            return le
    return None


def psql(db_url, sql):
    return subprocess.run(["psql", "-XAtq", db_url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


class Stack:
    """NATS, persister, core and the edges, each a process of its own."""

    def __init__(self, args, tmp, db_url, env):
        self.procs = {}
        self.max_pending, self.retry_after = args.max_pending_handshakes, args.retry_after
        self.listen_backlog = args.listen_backlog
        self.env = dict(env, RUST_LOG="warn", MOOLAI_SUBJECT_PREFIX="bench")
        self.tmp = tmp
        self.nats_port = free_port()
        self.start("nats", [env["NATS_SERVER_BIN"], "-c", str(ROOT / "nats.conf"),
                            "-p", str(self.nats_port), "-sd", str(tmp / "js")])
        time.sleep(0.5)
        self.env["NATS_URL"] = f"nats://127.0.0.1:{self.nats_port}"
        self.env["DATABASE_URL"] = db_url
        self.ports = {"persister": free_port()}
        self.start("persister", [str(RELEASE / "moolai-persister")],
                   PERSISTER_LISTEN=f"127.0.0.1:{self.ports['persister']}")
        wait_ready(self.ports["persister"], "persister")
        # Core replicas: the same settings, a port and a name each.
        self.cores = ["core"] + [f"core{i}" for i in range(1, args.cores)]
        for name in self.cores:
            self.ports[name] = free_port()
            self.start(name, [str(RELEASE / "moolai-core")], CORE_LISTEN=f"127.0.0.1:{self.ports[name]}",
                       CORE_ID=name, ADMIN_PASSWORD=BENCH_ADMIN_PASSWORD, LIVENESS_SWEEP_MS="5000")
        for name in self.cores:
            wait_ready(self.ports[name], name)
        self.edges = []
        for i in range(args.edges):
            name = f"edge{i}"
            self.ports[name] = free_port()
            self.start_edge(name)
            self.edges.append(name)
        for name in self.edges:
            wait_ready(self.ports[name], name)

    def start(self, name, argv, **extra):
        # Each role logs in to NATS as its own user (edges as `edge`, every
        # core replica as `core`).
        role = "edge" if name.startswith("edge") else "core" if name.startswith("core") else name
        if role in NATS_ROLES:
            extra.setdefault("NATS_USER", role)
            extra.setdefault("NATS_PASSWORD", self.env[f"MOOLAI_NATS_{role.upper()}_PASSWORD"])
        self.procs[name] = Proc(name, argv, dict(self.env, **extra), self.tmp)

    def start_edge(self, name):
        # A few MB per edge for 20,000 sockets' kernel state is outside RSS; the
        # process may open at most the hard limit of files.
        self.start(name, [str(RELEASE / "moolai-edge")], EDGE_ID=name,
                   EDGE_LISTEN=f"127.0.0.1:{self.ports[name]}", EDGE_DRAIN_SEC="2",
                   # Anonymous agents, thousands per address, as fast as asked.
                   EDGE_REQUIRE_ORCHESTRATOR_TOKEN="false", EDGE_MAX_CONNECTIONS_PER_ADDRESS="0",
                   EDGE_MAX_MESSAGES_PER_MIN="0", EDGE_MAX_MESSAGE_BYTES_PER_MIN="0",
                   # A reconnect storm puts thousands of upgrades in flight at once.
                   HTTP_MAX_CONNECTIONS="0", HTTP_MAX_CONNECTIONS_PER_ADDRESS="0",
                   EDGE_MAX_PENDING_HANDSHAKES=str(self.max_pending), EDGE_RETRY_AFTER_SEC=str(self.retry_after),
                   EDGE_LISTEN_BACKLOG=str(self.listen_backlog))

    def edge_url(self, i):
        return f"ws://127.0.0.1:{self.ports[self.edges[i % len(self.edges)]]}/ws"

    def connections(self, edges=None):
        return {e: total(metrics(self.ports[e]), "moolai_edge_connections") for e in (edges or self.edges)}

    def stop(self):
        for name in reversed(list(self.procs)):
            self.procs[name].stop()


def source_ips(agent, per_agent=8):
    """Distinct 127.0.0.x addresses per agent process (x from 2), so ephemeral
    ports (~28,000 per source address) never run out."""
    return ",".join(f"127.0.{(agent * per_agent + k) // 250}.{2 + (agent * per_agent + k) % 250}"
                    for k in range(per_agent))


def start_agents(args, stack, tmp):
    agents = []
    per = args.orchestrators // args.agents
    for a in range(args.agents):
        count = per + (args.orchestrators % args.agents if a == 0 else 0)
        # Each agent process talks to one edge: edges get equal shares. For a
        # failover storm it is given every edge, its own first, and starts there.
        urls = stack.edge_url(a)
        if args.storm_failover:
            urls = ",".join(stack.edge_url(a + k) for k in range(len(stack.edges)))
        argv = [str(RELEASE / "moolai-agent"), "--id", f"b{a}", "--count", str(count),
                "--interval", str(args.interval), "--connect-rate", str(args.connect_rate // args.agents),
                "--url", urls, "--source-ips", source_ips(a),
                "--summary-json", str(tmp / f"agent{a}.json")]
        if args.storm_failover:
            argv.append("--start-at-first")
        stack.start(f"agent{a}", argv)
        agents.append(f"agent{a}")
    return agents


def connect_more(args, stack, tmp):
    """With the fleet connected, opens `--connect-more` further connections at
    `--connect-more-rate` per second over the edges (one agent process per edge,
    bounded in time) and returns their handshake figures from the agents' own
    histograms: the handshake latency a fleet already connected leaves."""
    names, per = [], args.connect_more // len(stack.edges)
    seconds = int(args.connect_more / max(args.connect_more_rate, 1)) + 15
    before, listen0 = edge_latencies(stack), kernel_listen_counts()
    for i in range(len(stack.edges)):
        name = f"more{i}"
        argv = [str(RELEASE / "moolai-agent"), "--id", f"m{i}", "--count", str(per),
                # Their own heartbeats every 30 s: what they measure is handshakes.
                "--interval", "30", "--connect-rate", str(args.connect_more_rate // len(stack.edges)),
                "--url", stack.edge_url(i), "--source-ips", source_ips(args.agents + 10 + i),
                "--duration-sec", str(seconds), "--summary-json", str(tmp / f"{name}.json")]
        stack.start(name, argv)
        names.append(name)
    for name in names:
        try:
            stack.procs[name].popen.wait(seconds + 60)
        except subprocess.TimeoutExpired:
            stack.procs[name].stop()
    summaries = [json.loads((tmp / f"{n}.json").read_text()) for n in names if (tmp / f"{n}.json").exists()]
    if not summaries:
        return None
    return {"connections": per * len(names), "offered_per_s": args.connect_more_rate,
            "already_connected": args.orchestrators,
            "handshake_p50_ms": round(max(x["handshake_p50_ms"] for x in summaries), 2),
            "handshake_p99_ms": round(max(x["handshake_p99_ms"] for x in summaries), 2),
            "errors": sum(x["errors"] for x in summaries),
            **latency_breakdown(before, edge_latencies(stack)), **kernel_listen_delta(listen0)}


def kernel_listen_counts():
    """The kernel's counts (this network namespace) of connections that found a
    listen queue full: an overflow drops the handshake's last ACK or the SYN, and
    the client retransmits after 1 s, then 3 s — whole seconds added to a
    handshake that no process ever saw."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for head, values in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            d = dict(zip(head.split()[1:], (int(v) for v in values.split()[1:])))
            return {k: d.get(n, 0) for k, n in (("listen_overflows", "ListenOverflows"),
                                                 ("listen_drops", "ListenDrops"),
                                                 ("syncookies_sent", "SyncookiesSent"))}
    return {}


def kernel_listen_delta(before):
    return {k: v - before.get(k, 0) for k, v in kernel_listen_counts().items()}


# The edge's histograms that split a handshake's latency: TCP accept → the
# upgrade handler, admitted (upgrade request let in) → ack, first frame → ack,
# and within that the durable write.
EDGE_LATENCIES = {"accept_to_handler": ("moolai_edge_accept_to_handshake_seconds", ""),
                  "admitted": ("moolai_edge_admitted_handshake_seconds", ""),
                  "edge": ("moolai_edge_handshake_seconds", ""),
                  "durable_write": ("moolai_edge_bus_publish_seconds", 'event="handshake"')}


def edge_latencies(stack, edges=None):
    """The edges' latency buckets, one set per edge."""
    snaps = [metrics(stack.ports[e]) for e in (edges or stack.edges)]
    return {key: [buckets(snap, name, labels) for snap in snaps]
            for key, (name, labels) in EDGE_LATENCIES.items()}


def latency_breakdown(before, after):
    """p50/p99 (bucket upper bounds, ms) of each edge-side share between two
    snapshots: what a client's connect → ack spends inside the edge; the rest is
    TCP, the upgrade and scheduling on a shared box."""
    out = {}
    for key in EDGE_LATENCIES:
        merged_before, merged_after = {}, {}
        for b, a in zip(before[key], after[key]):
            for le, v in b.items():
                merged_before[le] = merged_before.get(le, 0) + v
            for le, v in a.items():
                merged_after[le] = merged_after.get(le, 0) + v
        for q in (0.5, 0.99):
            v = quantile(merged_before, merged_after, q)
            out[f"{key}_p{round(q * 100)}_ms"] = None if v is None else round(v * 1000, 1)
    return out


def pg_cpu_secs(db_url, db_name):
    """CPU time of the PostgreSQL backends serving our database (they come and go
    with the pools; the ones alive at both snapshots dominate)."""
    pids = psql(db_url, f"SELECT pid FROM pg_stat_activity WHERE datname = '{db_name}'").split()
    spent = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            spent += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return {int(p): 0 for p in pids}, spent


def snapshot(stack, procs, db_name, db_url):
    cores = [metrics(stack.ports[c]) for c in stack.cores]
    pers = metrics(stack.ports["persister"])
    # Each replica counts what it decided: the fleet's figure is their sum.
    core_total = lambda name, labels=None: sum(total(c, name, labels) for c in cores)
    row = psql(db_url, "SELECT xact_commit, tup_inserted + tup_updated FROM pg_stat_database "
                       f"WHERE datname = '{db_name}'").split("|")
    return {
        "t": time.time(),
        "cpu": {p: stack.procs[p].cpu_secs() for p in procs},
        "processed": core_total("moolai_core_heartbeats_total", 'decision="processed"'),
        "ignored": core_total("moolai_core_heartbeats_total", 'decision="ignored"'),
        "rows_sum": total(pers, "moolai_persister_heartbeat_statement_rows_sum"),
        "rows_count": total(pers, "moolai_persister_heartbeat_statement_rows_count"),
        "lag": buckets(pers, "moolai_persister_last_seen_lag_seconds"),
        "commit": buckets(pers, "moolai_persister_commit_seconds", 'sink="heartbeats"'),
        "core_batches": core_total("moolai_core_heartbeat_batch_size_count"),
        "core_batch_items": core_total("moolai_core_heartbeat_batch_size_sum"),
        "pg_cpu": pg_cpu_secs(db_url, db_name)[1],
        "pg_xacts": int(row[0]),
        "pg_rows": int(row[1]),
    }


def perf_start(stack, out):
    """`perf record` (CPU clock, DWARF stacks from .eh_frame) on one edge, core,
    the persister and NATS for the steady window."""
    recs = {}
    for name in ("edge0", "core", "persister", "nats"):
        data = out / f"{name}.perf.data"
        recs[name] = (data, subprocess.Popen(
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "199", "--call-graph", "dwarf,8192",
             "-p", str(stack.procs[name].popen.pid), "-o", str(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return recs


def perf_finish(recs, out):
    """Stops the recordings; writes a flame graph (SVG) and the top functions by
    self time (text) per process."""
    flamegraph = ROOT / ".tools" / "venv" / "bin" / "flamegraph"
    tops = {}
    for name, (data, proc) in recs.items():
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        report = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children",
                                 "--sort", "symbol", "--percent-limit", "1.5", "-g", "none"],
                                capture_output=True, text=True).stdout
        (out / f"{name}.top.txt").write_text(report)
        tops[name] = [l.strip() for l in report.splitlines() if re.match(r"\s+\d+\.\d+%", l)][:12]
        if flamegraph.exists():
            subprocess.run([str(flamegraph), "--perfdata", str(data), "-o", str(out / f"{name}.svg")],
                           capture_output=True)
        data.unlink(missing_ok=True)
    return tops


def steady(args, stack, agents, db_name, db_url):
    procs = list(stack.procs)
    recs = perf_start(stack, Path(args.out)) if args.perf else None
    a = snapshot(stack, procs, db_name, db_url)
    time.sleep(args.duration)
    b = snapshot(stack, procs, db_name, db_url)
    if recs:
        steady.tops = perf_finish(recs, Path(args.out))
    secs = b["t"] - a["t"]
    processed = b["processed"] - a["processed"]
    cpu_us = {}
    groups = {"nats": ["nats"], "persister": ["persister"], "core": stack.cores,
              "edges": stack.edges, "agents": agents}
    for group, members in groups.items():
        spent = sum(b["cpu"][p] - a["cpu"][p] for p in members)
        cpu_us[group] = round(spent * 1e6 / processed, 2) if processed else None
    cpu_us["postgres"] = round((b["pg_cpu"] - a["pg_cpu"]) * 1e6 / processed, 2) if processed else None
    statements = b["rows_count"] - a["rows_count"]
    return {
        "window_s": round(secs, 1),
        "heartbeats_offered_per_s": round(args.orchestrators / args.interval),
        "heartbeats_processed_per_s": round(processed / secs),
        "heartbeats_ignored_per_s": round((b["ignored"] - a["ignored"]) / secs),
        "cpu_us_per_heartbeat": cpu_us,
        "cpu_us_per_heartbeat_per_edge": round(cpu_us["edges"] / len(stack.edges), 2)
        if cpu_us["edges"] is not None else None,
        "rows_per_heartbeat_statement": round((b["rows_sum"] - a["rows_sum"]) / statements) if statements else None,
        "heartbeat_statements_per_s": round(statements / secs, 1),
        "core_heartbeat_messages_per_s": round((b["core_batches"] - a["core_batches"]) / secs, 1),
        "core_items_per_message": round((b["core_batch_items"] - a["core_batch_items"])
                                        / max(b["core_batches"] - a["core_batches"], 1)),
        "persister_commit_p50_s": quantile(a["commit"], b["commit"], 0.5),
        "persister_commit_p99_s": quantile(a["commit"], b["commit"], 0.99),
        "last_seen_lag_p50_s": quantile(a["lag"], b["lag"], 0.5),
        "last_seen_lag_p99_s": quantile(a["lag"], b["lag"], 0.99),
        "pg_transactions_per_s": round((b["pg_xacts"] - a["pg_xacts"]) / secs),
        "pg_rows_written_per_s": round((b["pg_rows"] - a["pg_rows"]) / secs),
    }


def ramp(args, stack):
    """Waits until every orchestrator is connected; returns (seconds, connected)."""
    started = time.time()
    limit = args.orchestrators / max(args.connect_rate, 1) + 60
    while True:
        held = sum(stack.connections().values())
        if held >= args.orchestrators or time.time() - started > limit:
            return time.time() - started, held
        time.sleep(1)


def storm(args, stack):
    """Kills edge0 (SIGKILL), restarts it on its port, and times its orchestrators'
    return; a handshake refused by the restarted edge counts as failed."""
    name = stack.edges[0]
    before = stack.connections()[name]
    stack.procs[name].stop(signal.SIGKILL)
    stack.start_edge(name)
    wait_ready(stack.ports[name], name)
    back_from = time.time()
    while time.time() - back_from < 120:
        if stack.connections()[name] >= before:
            break
        time.sleep(0.25)
    took = time.time() - back_from
    refused = total(metrics(stack.ports[name]), "moolai_edge_handshakes_refused_total")
    held = stack.connections()[name]
    return {"orchestrators": int(before), "back_s": round(took, 2), "reconnected": int(held),
            "handshakes_refused": int(refused)}


def cpu_by_group(stack, agents, db_name, db_url, edges):
    """CPU seconds spent so far by each group of processes (PostgreSQL: the
    backends serving our database)."""
    groups = {"nats": ["nats"], "persister": ["persister"], "core": stack.cores,
              "edges": edges, "agents": agents}
    out = {g: sum(stack.procs[p].cpu_secs() for p in members) for g, members in groups.items()}
    out["postgres"] = pg_cpu_secs(db_url, db_name)[1]
    return out


def storm_failover(args, stack, agents, db_name, db_url):
    """Kills edge0 for good (SIGKILL, not restarted) and times until every
    orchestrator is connected again on the other edges. Agents hold every edge's
    URL and rotate on failure; SIGUSR1 starts their stats window at the kill, so
    the handshake p50/p99/max reported are those of the storm alone (each agent
    process's own histogram; the report takes the worst process)."""
    name, rest = stack.edges[0], stack.edges[1:]
    conns = stack.connections()
    before, moved = sum(conns.values()), conns[name]
    refused0 = sum(total(metrics(stack.ports[e]), "moolai_edge_handshakes_refused_total", 'reason="backlog"')
                   for e in rest)
    latencies0, listen0 = edge_latencies(stack, rest), kernel_listen_counts()
    cpu0 = cpu_by_group(stack, agents, db_name, db_url, rest)
    for a in agents:
        stack.procs[a].popen.send_signal(signal.SIGUSR1)
    time.sleep(0.2)  # the marks land before the storm starts
    stack.procs[name].stop(signal.SIGKILL)
    killed_at = time.time()
    peak_pending, held, took = 0, 0, None
    while time.time() - killed_at < 120:
        snaps = {e: metrics(stack.ports[e]) for e in rest}
        held = sum(total(m, "moolai_edge_connections") for m in snaps.values())
        peak_pending = max(peak_pending, max(total(m, "moolai_edge_handshakes_pending") for m in snaps.values()))
        if held >= before:
            took = time.time() - killed_at
            break
        time.sleep(0.1)
    cpu1 = cpu_by_group(stack, agents, db_name, db_url, rest)
    refused = sum(total(metrics(stack.ports[e]), "moolai_edge_handshakes_refused_total", 'reason="backlog"')
                  for e in rest) - refused0
    # What one moved orchestrator cost each process group, refusals included:
    # where a storm's CPU goes on a box where every group shares 2 cores.
    cpu_us = {g: round((cpu1[g] - cpu0[g]) * 1e6 / moved) if moved else None for g in cpu1}
    return {"cpu_us_per_moved": cpu_us, "killed": name, "orchestrators_moved": int(moved), "connected_before": int(before),
            "connected_after": int(held), "recovered_s": round(took, 2) if took is not None else None,
            "handshakes_per_s": round(moved / took) if took else None,
            "refused_backlog_edges": int(refused), "peak_pending_sampled": int(peak_pending),
            "max_pending_handshakes": stack.max_pending, "retry_after_s": stack.retry_after,
            "listen_backlog": stack.listen_backlog,
            "connections_per_edge_after": {e: int(v) for e, v in stack.connections(rest).items()},
            **latency_breakdown(latencies0, edge_latencies(stack, rest)), **kernel_listen_delta(listen0)}


def storm_window(summaries):
    """The agents' figures since the storm's mark (worst process for latency)."""
    windows = [s["window"] for s in summaries if s.get("window")]
    if not windows:
        return {}
    return {"handshakes_in_window": sum(w["connects"] for w in windows),
            "handshake_p50_ms": round(max(w["handshake_p50_ms"] for w in windows), 2),
            "handshake_p99_ms": round(max(w["handshake_p99_ms"] for w in windows), 2),
            "handshake_max_ms": round(max(w["handshake_max_ms"] for w in windows), 2),
            "refused_with_hint_agents": sum(w["refused_with_hint"] for w in windows)}


def raw_limits(env, nats_port):
    """Raw WebSocket upgrades/s and NATS publishes/s on this box (bench's
    raw_limits binary, on the harness's nats-server)."""
    argv = [str(RELEASE / "raw_limits")]
    if RELEASE.name == "debug":  # CI's small pass checks that it runs, quickly
        argv += ["--seconds", "2", "--publishes", "100000", "--js-publishes", "10000"]
    out = subprocess.run(argv, env=dict(env, NATS_URL=f"nats://127.0.0.1:{nats_port}"),
                         capture_output=True, text=True, timeout=600)
    figures = {}
    for line in out.stdout.splitlines():
        m = re.match(r"(\w+): (\d+) /s", line)
        if m:
            figures[m.group(1)] = int(m.group(2))
    if not figures:
        log(f"raw_limits printed nothing usable:\n{out.stdout}\n{out.stderr[-2000:]}")
    return figures


def side_by_side(report):
    """Our figures next to the raw limits, as ratios."""
    raw = report.get("raw_limits") or {}
    ratio = lambda ours, limit: round(ours / limit, 3) if ours and limit else None
    storm_rate = (report.get("storm_failover") or {}).get("handshakes_per_s")
    return {
        "ramp_handshakes_per_s": report["handshakes_per_s"],
        "storm_handshakes_per_s": storm_rate,
        "raw_ws_upgrades_per_s": raw.get("raw_ws_upgrades"),
        "ramp_handshakes_vs_raw_upgrades": ratio(report["handshakes_per_s"], raw.get("raw_ws_upgrades")),
        "storm_handshakes_vs_raw_upgrades": ratio(storm_rate, raw.get("raw_ws_upgrades")),
        "storm_handshakes_vs_raw_jetstream_publishes": ratio(storm_rate, raw.get("raw_jetstream_publishes")),
        "heartbeats_processed_per_s": report["steady"]["heartbeats_processed_per_s"],
        "raw_nats_publishes_per_s": raw.get("raw_nats_publishes"),
        "raw_jetstream_publishes_per_s": raw.get("raw_jetstream_publishes"),
        "heartbeats_vs_raw_nats_publishes": ratio(report["steady"]["heartbeats_processed_per_s"],
                                                  raw.get("raw_nats_publishes")),
    }


def api(port, method, path, body=None, token=None, timeout=10):
    """One JSON call to core's API; returns (status, body)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read().decode() or "null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")
    except OSError as e:  # a timeout or a refused connection: the caller polls again
        return None, str(e)


def rollout(args, stack):
    """Rolls a features change out to every orchestrator in waves (the API's
    rollout, threshold 0) and times it until the rollout completes, with the
    time each wave ended and how many targets say `applied`."""
    port = stack.ports["core"]
    status, body = api(port, "POST", "/api/v1/internal/auth/login",
                       {"username": "admin", "password": BENCH_ADMIN_PASSWORD})
    if status != 200:
        log(f"rollout skipped: login answered {status} {body}")
        return None
    token = body["token"]
    request = {"change": {"features": {"bench_rollout": {"enabled": True}}}, "selector": {"all": True},
               "waves": args.rollout_waves, "failure_threshold_pct": 0, "wave_timeout_sec": 300}
    started = time.time()
    status, body = api(port, "POST", "/api/v1/controller/rollouts", request, token, timeout=60)
    if status != 201:
        log(f"rollout not created: {status} {body}")
        return None
    rid = body["data"]["rollout"]["id"]
    wave_ends, wave, rollout_now = [], 0, body["data"]["rollout"]
    while time.time() - started < 900:
        status, body = api(port, "GET", f"/api/v1/controller/rollouts/{rid}?page_size=1", None, token)
        if status == 200:
            rollout_now = body["data"]["rollout"]
            while wave < min(rollout_now["wave"], len(args.rollout_waves)):
                wave_ends.append(round(time.time() - started, 2))
                wave += 1
            if rollout_now["state"] != "running":
                break
        time.sleep(0.25)
    took = round(time.time() - started, 2)
    if rollout_now["state"] == "completed" and len(wave_ends) < len(args.rollout_waves):
        wave_ends.append(took)
    o = rollout_now["outcomes"]
    return {"targets": o["total"], "waves": args.rollout_waves, "state": rollout_now["state"],
            "completed_s": took, "wave_ends_s": wave_ends, "applied": o["applied"], "failed": o["failed"],
            "not_applied": o["total"] - o["applied"]}


def push_latency(args, env):
    """Push and delivery latency at N connected, from bench's push_latency binary."""
    out = subprocess.run([str(RELEASE / "push_latency"), "--connected", str(args.push_connected),
                          "--pushes", "300"], env=env, capture_output=True, text=True, timeout=900)
    figures = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(\S+): .*p50 ([\d.]+) ms\s+p99 ([\d.]+) ms", line)
        if m:
            figures[m.group(1)] = {"p50_ms": float(m.group(2)), "p99_ms": float(m.group(3))}
    if not figures:
        log(f"push_latency printed nothing usable:\n{out.stdout}\n{out.stderr[-2000:]}")
    return figures


def markdown_row(r):
    s = r["steady"]
    cpu = s["cpu_us_per_heartbeat"]
    fmt = lambda v: "–" if v is None else f"{v:g}"
    storm_txt = "–"
    if r.get("storm"):
        st = r["storm"]
        storm_txt = f"{st['reconnected']:,}/{st['orchestrators']:,} in {st['back_s']} s, {st['handshakes_refused']} refused"
    push = r.get("push") or {}
    push_txt = ", ".join(f"{k} {v['p99_ms']} ms" for k, v in push.items()) or "–"
    cores = f" / {r['cores']} cores" if r.get("cores", 1) > 1 else ""
    return (f"| {r['commit']} | {r['orchestrators']:,} / {r['edges']} edges{cores} | {r['interval_s']} s | "
            f"{r['connected']:,} | {r['handshakes_per_s']:,} /s, p50 {fmt(r['handshake_p50_ms'])} p99 {fmt(r['handshake_p99_ms'])} ms | "
            f"{fmt(r['rss_kib_per_connection'])} | {s['heartbeats_offered_per_s']:,} / {s['heartbeats_processed_per_s']:,} | "
            f"{r['fresh_rows']:,} | {fmt(s['last_seen_lag_p50_s'])} / {fmt(s['last_seen_lag_p99_s'])} s | "
            f"{' / '.join(fmt(cpu.get(k)) for k in ('nats', 'persister', 'core', 'edges', 'agents', 'postgres'))} | "
            f"{fmt(s['rows_per_heartbeat_statement'])} rows, {s['pg_transactions_per_s']:,} tx/s, {s['pg_rows_written_per_s']:,} rows/s | "
            f"{storm_txt} | {push_txt} |")


def storm_lines(r):
    """The failover storm and the side-by-side figures, printed after the row."""
    lines = []
    f = r.get("storm_failover")
    if f:
        lines.append(f"storm (edge killed for good): {f['orchestrators_moved']:,} moved, "
                     f"{f['connected_after']:,}/{f['connected_before']:,} connected after "
                     f"{f['recovered_s'] if f['recovered_s'] is not None else 'never (120 s)'} s; "
                     f"handshake p50 {f.get('handshake_p50_ms')} p99 {f.get('handshake_p99_ms')} "
                     f"max {f.get('handshake_max_ms')} ms; refused with hint: {f['refused_backlog_edges']:,} "
                     f"(edges) / {f.get('refused_with_hint_agents', 0):,} (agents); backlog bound "
                     f"{f['max_pending_handshakes']}, peak sampled {f['peak_pending_sampled']}, "
                     f"Retry-After {f['retry_after_s']} s; CPU µs per moved orchestrator "
                     + ", ".join(f"{g} {v}" for g, v in f["cpu_us_per_moved"].items()))
    for label, part in (("connects with the fleet connected", r.get("connect_more")),
                        ("storm (edge killed for good)", f)):
        if part and "edge_p99_ms" in part:
            lines.append(f"{label}, where a handshake's time goes: client connect → ack p50 "
                         f"{part.get('handshake_p50_ms')} p99 {part.get('handshake_p99_ms')} ms; edge accept → upgrade handler "
                         f"p50 {part['accept_to_handler_p50_ms']} p99 {part['accept_to_handler_p99_ms']} ms; admitted → ack p50 "
                         f"{part['admitted_p50_ms']} p99 {part['admitted_p99_ms']} ms; inside the edge "
                         f"(first frame → ack) p50 {part['edge_p50_ms']} p99 {part['edge_p99_ms']} ms, of which the "
                         f"handshake's durable write p50 {part['durable_write_p50_ms']} p99 {part['durable_write_p99_ms']} ms "
                         "(edge figures: bucket upper bounds); listen queue overflows "
                         f"{part.get('listen_overflows')}, drops {part.get('listen_drops')}, "
                         f"SYN cookies {part.get('syncookies_sent')} (kernel, whole box)")
    s = r.get("side_by_side")
    if s:
        lines.append(f"side by side: handshakes/s ramp {s['ramp_handshakes_per_s']} (offered-limited), "
                     f"storm {s['storm_handshakes_per_s']} vs raw upgrades {s['raw_ws_upgrades_per_s']} /s "
                     f"(ratio {s['ramp_handshakes_vs_raw_upgrades']} / {s['storm_handshakes_vs_raw_upgrades']}); "
                     f"storm handshakes vs raw JetStream publishes {s['raw_jetstream_publishes_per_s']} /s "
                     f"(ratio {s['storm_handshakes_vs_raw_jetstream_publishes']}); heartbeats processed "
                     f"{s['heartbeats_processed_per_s']} /s vs raw NATS publishes {s['raw_nats_publishes_per_s']} /s "
                     f"(ratio {s['heartbeats_vs_raw_nats_publishes']})")
    return lines


HEADER = ("| commit | orchestrators | interval | connected | handshakes | edge RSS KiB/conn | heartbeats/s offered / processed | "
          "rows fresh | last_seen lag p50 / p99 | CPU µs/heartbeat nats / persister / core / edges / agents / postgres | PostgreSQL | "
          "reconnect storm | push p99 |\n|" + "---|" * 13)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orchestrators", type=int, default=10000)
    p.add_argument("--edges", type=int, default=2)
    p.add_argument("--cores", type=int, default=1, help="core replicas (same settings; the figures add up over them)")
    p.add_argument("--agents", type=int, default=0, help="load-generator processes (default: one per 15,000, at least one per edge)")
    p.add_argument("--interval", type=float, default=0.5, help="heartbeat interval of every orchestrator, seconds")
    p.add_argument("--duration", type=float, default=30, help="seconds of the steady window")
    p.add_argument("--connect-rate", type=int, default=2000, help="connections opened per second, all agents together")
    p.add_argument("--storm", action="store_true", help="then kill and restart one edge and time the reconnections")
    p.add_argument("--connect-more", type=int, default=0,
                   help="then open this many more connections with the fleet connected and report their handshakes")
    p.add_argument("--connect-more-rate", type=int, default=2000, help="connections per second for --connect-more")
    p.add_argument("--storm-failover", action="store_true",
                   help="then kill edge0 for good (agents hold every edge's URL) and time until every "
                        "orchestrator is back on the others; implies --raw-limits")
    p.add_argument("--raw-limits", action="store_true",
                   help="then measure raw WebSocket upgrades/s and NATS publishes/s on this box (bench's "
                        "raw_limits) and print ours next to them")
    p.add_argument("--max-pending-handshakes", type=int, default=512,
                   help="each edge's EDGE_MAX_PENDING_HANDSHAKES (0: no bound)")
    p.add_argument("--retry-after", type=int, default=1, help="each edge's EDGE_RETRY_AFTER_SEC")
    p.add_argument("--listen-backlog", type=int, default=4096, help="each edge's EDGE_LISTEN_BACKLOG")
    p.add_argument("--rollout", action="store_true",
                   help="then roll a features change out to every orchestrator and time it until all applied")
    p.add_argument("--rollout-waves", type=lambda v: [int(x) for x in v.split(",")], default=[1, 5, 25, 100],
                   help="cumulative percentages of the rollout's waves (default 1,5,25,100)")
    p.add_argument("--push-connected", type=int, default=0, help="then measure push latency at this many connected (0: skip)")
    p.add_argument("--record", action="store_true", help="append the markdown row to docs/benchmarks.md")
    p.add_argument("--perf", action="store_true", help="profile edge0, core, persister and NATS during the window "
                                                       "(perf; flame graphs and top functions in --out)")
    p.add_argument("--out", default=str(ROOT / "target" / "bench"), help="where reports go")
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    args.agents = args.agents or max(args.edges, -(-args.orchestrators // 15000))

    env = dict(os.environ)
    # nats.conf makes each role log in (nats-auth.conf): passwords for its users,
    # unless the caller (scripts/test.sh) gave some.
    for role in NATS_ROLES:
        env.setdefault(f"MOOLAI_NATS_{role.upper()}_PASSWORD", "n" + secrets.token_hex(24))
    base_url = env["DATABASE_URL"]
    db_name = f"moolai_bench_{os.getpid()}"
    admin_url = base_url.rsplit("/", 1)[0] + "/postgres"
    psql(admin_url, f"CREATE DATABASE {db_name}")
    db_url = base_url.rsplit("/", 1)[0] + "/" + db_name
    tmp = Path(tempfile.mkdtemp(prefix="moolai-bench-"))
    stack = None
    try:
        log(f"logs in {tmp}")
        stack = Stack(args, tmp, db_url, env)
        time.sleep(1)
        rss0 = {e: stack.procs[e].rss_kib() for e in stack.edges}
        agents = start_agents(args, stack, tmp)
        log(f"{len(agents)} agent processes connecting {args.orchestrators:,} orchestrators over {args.edges} edges")
        ramp_s, held = ramp(args, stack)
        log(f"{int(held):,} connected after {ramp_s:.1f} s; steady window {args.duration:g} s")
        conns = stack.connections()
        rss = {e: round((stack.procs[e].rss_kib() - rss0[e]) / conns[e], 2) if conns[e] else None for e in stack.edges}
        # Let the first heartbeats of the last connections land before measuring.
        time.sleep(min(5, args.interval * 3))
        measured = steady(args, stack, agents, db_name, db_url)
        fresh_within = max(3 * args.interval + 2, 5)
        fresh = int(psql(db_url, "SELECT count(*) FROM orchestrator_instances WHERE status = 'active' "
                                 f"AND last_seen > now() - interval '{fresh_within} seconds'"))
        rollout_figures = rollout(args, stack) if args.rollout else None
        if rollout_figures:
            log(f"rollout: {rollout_figures}")
        # After the rollout (whose selector `all` would take these in too).
        more = connect_more(args, stack, tmp) if args.connect_more else None
        if more:
            log(f"connects with the fleet connected: {more}")
        storm_figures = storm(args, stack) if args.storm else None
        failover = storm_failover(args, stack, agents, db_name, db_url) if args.storm_failover else None
        if failover:
            log(f"storm (failover): {failover}")
        for a in agents:
            stack.procs[a].stop(signal.SIGTERM, wait=60)
        summaries = [json.loads((tmp / f"{a}.json").read_text()) for a in agents if (tmp / f"{a}.json").exists()]
        if failover:
            failover.update(storm_window(summaries))
        # With the load gone, on the same box and the same nats-server.
        raw = raw_limits(env, stack.nats_port) if args.raw_limits or args.storm_failover else None
        report = {
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True).stdout.strip() or "unknown",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "profile": os.environ.get("MOOLAI_BENCH_PROFILE", "release"),
            "machine": f"{os.cpu_count()} cores, {round(os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30)} GiB, all co-located",
            "orchestrators": args.orchestrators, "edges": args.edges, "cores": args.cores,
            "agent_processes": len(agents),
            "interval_s": args.interval,
            "connected": int(held), "connect_ramp_s": round(ramp_s, 1),
            "handshakes_per_s": round(held / ramp_s) if ramp_s else None,
            "handshake_p50_ms": round(max((s["handshake_p50_ms"] for s in summaries), default=0), 2) if summaries else None,
            "handshake_p99_ms": round(max((s["handshake_p99_ms"] for s in summaries), default=0), 2) if summaries else None,
            "agent_errors": sum(s["errors"] for s in summaries),
            "connections_per_edge": {e: int(v) for e, v in conns.items()},
            "rss_kib_per_connection_per_edge": rss,
            "rss_kib_per_connection": round(sum(v for v in rss.values() if v) / len(rss), 2) if rss else None,
            "steady": measured,
            "fresh_rows": fresh, "fresh_within_s": fresh_within,
            "storm": storm_figures,
            "storm_failover": failover,
            "raw_limits": raw,
            "rollout": rollout_figures,
            "connect_more": more,
            "profile_top_functions": getattr(steady, "tops", None),
        }
    finally:
        if stack:
            stack.stop()
        try:
            psql(admin_url, f"DROP DATABASE IF EXISTS {db_name}")
        except subprocess.CalledProcessError:
            pass
    if args.push_connected:
        log(f"push latency at {args.push_connected:,} connected")
        push_env = dict(env, NATS_URL=f"nats://127.0.0.1:{stack.nats_port}", TEST_DATABASE_URL=base_url, RUST_LOG="warn")
        nats = Proc("nats-push", [env["NATS_SERVER_BIN"], "-c", str(ROOT / "nats.conf"), "-p",
                                  str(stack.nats_port), "-sd", str(tmp / "js-push")], env, tmp)
        time.sleep(0.5)
        try:
            report["push"] = push_latency(args, push_env)
        finally:
            nats.stop()
    if report.get("raw_limits"):
        report["side_by_side"] = side_by_side(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{report['commit']}-{args.orchestrators}x{args.edges}x{args.cores}"
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    row = markdown_row(report)
    (out / f"{name}.md").write_text(HEADER + "\n" + row + "\n")
    print(json.dumps(report, indent=2))
    print(HEADER)
    print(row)
    for line in storm_lines(report):
        print(line)
    if args.record:
        with open(ROOT / "docs" / "benchmarks.md", "a") as f:
            f.write(row + "\n")
        log("row appended to docs/benchmarks.md")


if __name__ == "__main__":
    main()
