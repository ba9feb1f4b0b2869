#!/usr/bin/env bash
# What an idle orchestrator connection costs an edge: starts a private NATS and
# one edge (release build), opens N agent connections, and prints the edge's RSS
# growth per connection. Loopback only; stops everything it started.
#   bench/conn-memory.sh [N=5000]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$MOOLAI_ROOT"
N=${1:-5000}
TMP=$(mktemp -d)
cleanup() { stop_pid "$TMP/agent.pid"; stop_pid "$TMP/edge.pid"; stop_pid "$TMP/nats.pid"; rm -rf "$TMP"; }
trap cleanup EXIT

cargo build --release -q --bin moolai-edge --bin moolai-agent
nats_port=$(free_port)
edge_port=$(free_port)
# A server without authorization: the lone edge declares the streams itself
# (with nats.conf only core or the persister may).
start_nats_open "$nats_port" "$TMP/js" "$TMP/nats.pid"
export NATS_URL="nats://127.0.0.1:$nats_port" MOOLAI_SUBJECT_PREFIX=memb RUST_LOG=warn
EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false EDGE_MAX_CONNECTIONS_PER_ADDRESS=0 HTTP_MAX_CONNECTIONS=0 HTTP_MAX_CONNECTIONS_PER_ADDRESS=0 EDGE_MAX_MESSAGES_PER_MIN=0 EDGE_MAX_MESSAGE_BYTES_PER_MIN=0 EDGE_ID=mem EDGE_LISTEN="127.0.0.1:$edge_port" spawn "$TMP/edge.pid" "$TMP/edge.log" target/release/moolai-edge
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$(head -n1 "$TMP/edge.pid")/status"; }
before=$(rss)
ulimit -n 20000
spawn "$TMP/agent.pid" "$TMP/agent.log" target/release/moolai-agent --id mem --count "$N" \
  --connect-rate 2000 --interval 30 --url "ws://127.0.0.1:$edge_port/ws"
for _ in $(seq 1 60); do
  sleep 1
  grep -q "connected=$N " "$TMP/agent.log" 2>/dev/null && break
done
sleep 2
after=$(rss)
tail -n 1 "$TMP/agent.log"
echo "edge RSS: ${before} KiB idle, ${after} KiB with $N connections"
awk -v b="$before" -v a="$after" -v n="$N" 'BEGIN { printf "per connection: %.1f KiB\n", (a - b) / n }'
