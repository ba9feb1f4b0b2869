#!/usr/bin/env bash
# The same load against 1, 2 and 3 core replicas, side by side (issue 14).
#   bench/replicas.sh                         10,000 orchestrators, 2 edges, 0.5 s
#   bench/replicas.sh --orchestrators 20000   any bench/run.sh option but --cores
# Every process shares this machine's cores, so the figures say what
# replication costs and how the work spreads, not how far it scales out.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench/replicas-$(date +%s)
mkdir -p "$OUT"
for cores in 1 2 3; do
  bench/run.sh --cores "$cores" --out "$OUT" "$@" >"$OUT-$cores.log" 2>&1 ||
    { tail -n 30 "$OUT-$cores.log" >&2; exit 1; }
done
python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
reports = sorted((json.loads(p.read_text()) for p in Path(sys.argv[1]).glob("*.json")), key=lambda r: r["cores"])
print("| cores | handshakes/s | handshake p50 / p99 ms | heartbeats/s offered / processed | last_seen lag p50 / p99 s | core CPU µs/heartbeat (all replicas) | rows fresh |")
print("|---|---|---|---|---|---|---|")
for r in reports:
    s = r["steady"]
    print(f"| {r['cores']} | {r['handshakes_per_s']:,} | {r['handshake_p50_ms']} / {r['handshake_p99_ms']} | "
          f"{s['heartbeats_offered_per_s']:,} / {s['heartbeats_processed_per_s']:,} | "
          f"{s['last_seen_lag_p50_s']} / {s['last_seen_lag_p99_s']} | {s['cpu_us_per_heartbeat']['core']} | "
          f"{r['fresh_rows']:,} |")
PY
