#!/usr/bin/env bash
# End-to-end heartbeat throughput on this machine: NATS, persister, core and two
# edges (release builds) plus two load-generator processes, all co-located.
#   bench/throughput.sh [orchestrators=10000] [interval_sec=0.5] [seconds=30]
# Prints one markdown row: heartbeats/s sent and processed, rows per statement,
# CPU µs per heartbeat per process, edge RSS per connection. Loopback only; stops
# everything it started.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$MOOLAI_ROOT"
N=${1:-10000}
INTERVAL=${2:-0.5}
SECS=${3:-30}
TMP=$(mktemp -d)
DB="moolai_bench_$$"
cleanup() {
  for p in agent1 agent2 edge1 edge2 core persister nats; do stop_pid "$TMP/$p.pid"; done
  psql -q "${DATABASE_URL%/*}/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

ensure_postgres
cargo build --release -q --bins
ulimit -n "$(ulimit -Hn)"
psql -q "${DATABASE_URL%/*}/postgres" -c "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="${DATABASE_URL%/*}/$DB" RUST_LOG=warn MOOLAI_SUBJECT_PREFIX=bench
nats_port=$(free_port)
# Each role logs in as its own user (nats-auth.conf), as in production.
load_nats_credentials "$TMP/nats-credentials"
start_nats "$nats_port" "$TMP/js" "$TMP/nats.pid"
export NATS_URL="nats://127.0.0.1:$nats_port"
P=$(free_port) C=$(free_port) E1=$(free_port) E2=$(free_port)
B=target/release
PERSISTER_LISTEN=127.0.0.1:$P as_nats_user persister spawn "$TMP/persister.pid" "$TMP/persister.log" $B/moolai-persister
for _ in $(seq 50); do curl -fs "127.0.0.1:$P/readyz" >/dev/null && break; sleep 0.2; done
CORE_LISTEN=127.0.0.1:$C ADMIN_PASSWORD=bench-only-password as_nats_user core spawn "$TMP/core.pid" "$TMP/core.log" $B/moolai-core
EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false EDGE_MAX_CONNECTIONS_PER_ADDRESS=0 HTTP_MAX_CONNECTIONS=0 HTTP_MAX_CONNECTIONS_PER_ADDRESS=0 EDGE_MAX_MESSAGES_PER_MIN=0 EDGE_MAX_MESSAGE_BYTES_PER_MIN=0 EDGE_ID=e1 EDGE_LISTEN=127.0.0.1:$E1 as_nats_user edge spawn "$TMP/edge1.pid" "$TMP/edge1.log" $B/moolai-edge
EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false EDGE_MAX_CONNECTIONS_PER_ADDRESS=0 HTTP_MAX_CONNECTIONS=0 HTTP_MAX_CONNECTIONS_PER_ADDRESS=0 EDGE_MAX_MESSAGES_PER_MIN=0 EDGE_MAX_MESSAGE_BYTES_PER_MIN=0 EDGE_ID=e2 EDGE_LISTEN=127.0.0.1:$E2 as_nats_user edge spawn "$TMP/edge2.pid" "$TMP/edge2.log" $B/moolai-edge
sleep 2
half=$((N / 2))
spawn "$TMP/agent1.pid" "$TMP/agent1.log" $B/moolai-agent --id a --count "$half" --connect-rate 2000 \
  --interval "$INTERVAL" --url "ws://127.0.0.1:$E1/ws"
spawn "$TMP/agent2.pid" "$TMP/agent2.log" $B/moolai-agent --id b --count "$half" --connect-rate 2000 \
  --interval "$INTERVAL" --url "ws://127.0.0.1:$E2/ws"
# Let every agent connect and the rates settle.
sleep $((N / 2000 + 8))

metric() { curl -fs "127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {s += $2} END {print s + 0}'; }
cpu() { awk '{print $14 + $15}' "/proc/$(head -n1 "$TMP/$1.pid")/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$(head -n1 "$TMP/$1.pid")/status"; }
procs=(nats persister core edge1 edge2 agent1 agent2)
declare -A cpu0
for p in "${procs[@]}"; do cpu0[$p]=$(cpu "$p"); done
hb0=$(metric "$C" 'moolai_core_heartbeats_total{decision="processed"}')
rows0=$(metric "$P" moolai_persister_heartbeat_statement_rows_sum)
stmts0=$(metric "$P" moolai_persister_heartbeat_statement_rows_count)
sleep "$SECS"
hb1=$(metric "$C" 'moolai_core_heartbeats_total{decision="processed"}')
rows1=$(metric "$P" moolai_persister_heartbeat_statement_rows_sum)
stmts1=$(metric "$P" moolai_persister_heartbeat_statement_rows_count)
tck=$(getconf CLK_TCK)
processed=$(( (${hb1%.*} - ${hb0%.*}) / SECS ))
echo
echo "| orchestrators | interval | heartbeats/s processed | rows/statement | CPU µs per heartbeat (nats/persister/core/edges/agents) | edge RSS KiB/conn |"
echo "|---|---|---|---|---|---|"
line="| $N | ${INTERVAL} s | $processed | "
line+=$(awk -v r=$((${rows1%.*} - ${rows0%.*})) -v s=$((${stmts1%.*} - ${stmts0%.*})) 'BEGIN {printf "%.0f", (s ? r / s : 0)}')
line+=" | "
total_hb=$(( ${hb1%.*} - ${hb0%.*} ))
parts=()
for group in "nats" "persister" "core" "edge1 edge2" "agent1 agent2"; do
  t=0
  for p in $group; do t=$(( t + $(cpu "$p") - ${cpu0[$p]} )); done
  parts+=("$(awk -v t="$t" -v k="$tck" -v n="$total_hb" 'BEGIN {printf "%.1f", (n ? t / k * 1e6 / n : 0)}')")
done
line+=$(IFS=/; echo "${parts[*]}")
line+=" | $(awk -v a="$(rss edge1)" -v b="$(rss edge2)" -v n="$N" 'BEGIN {printf "%.1f", (a + b) / n}') |"
echo "$line"
tail -n 1 "$TMP/agent1.log"
