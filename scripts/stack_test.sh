#!/usr/bin/env bash
# scripts/stack.sh keeps the local stack up when one role dies (issue 32): a stack
# of its own (private ports, data directory and database, debug binaries, no
# dashboard build) beside any developer's; an agent on both edges; one edge
# killed by PID: the stack says so, starts it again, reports no role it never
# started, and the agent fails over to the other edge; `stop`, `start` and
# `restart` of one role; Ctrl-C's TERM stops everything it started. Every wait is
# for an effect, bounded; the test ends only the processes it started (the stack
# through its own `down`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

ADMIN_URL="${TEST_DATABASE_URL:-${DATABASE_URL:-}}"
[[ -n "$ADMIN_URL" ]] || die "TEST_DATABASE_URL must name a PostgreSQL role that may CREATE DATABASE"

TMP=$(mktemp -d)
DB="moolai_stack_test_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
STACK_PID="" AGENT_PID=""
export MOOLAI_STACK_DATA="$TMP/data" MOOLAI_STACK_PROFILE=debug MOOLAI_STACK_NO_DASHBOARD=1
# Seven distinct ports the kernel says are free.
ports=()
while ((${#ports[@]} < 7)); do
  p=$(free_port)
  [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
export MOOLAI_STACK_NATS_PORT=${ports[0]} MOOLAI_STACK_NATS_MONITOR_PORT=${ports[1]} \
  MOOLAI_STACK_CORE_PORT=${ports[2]} MOOLAI_STACK_EDGE1_PORT=${ports[3]} \
  MOOLAI_STACK_PERSISTER_PORT=${ports[4]} MOOLAI_STACK_EDGE2_PORT=${ports[5]} \
  MOOLAI_STACK_CORE_REPLICA_PORT=${ports[6]}
E1="ws://127.0.0.1:$MOOLAI_STACK_EDGE1_PORT/ws" E2="ws://127.0.0.1:$MOOLAI_STACK_EDGE2_PORT/ws"
# The stack's own output, the role commands' (another writer: not in the same
# file), and the agent's.
PIDS="$MOOLAI_STACK_DATA/pids" STACK_LOG="$TMP/stack.log" COMMANDS_LOG="$TMP/commands.log"
AGENT_LOG="$TMP/agent.log"
export DATABASE_URL
DATABASE_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ADMIN_URL" "$DB")

cleanup() {
  local code=$?
  set +e
  [[ -n "$AGENT_PID" ]] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  if [[ -n "$STACK_PID" ]] && kill -0 "$STACK_PID" 2>/dev/null; then
    kill -TERM "$STACK_PID" 2>/dev/null || true
    wait "$STACK_PID" 2>/dev/null || true
  fi
  # Whatever a stack that did not stop cleanly left in our data directory.
  scripts/stack.sh down >>"$COMMANDS_LOG" 2>&1
  psql -qX "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  if ((code != 0)); then
    log "stack_test: FAILED; the stack said:"
    tail -n 40 "$STACK_LOG" >&2
    log "the role commands said:"
    tail -n 20 "$COMMANDS_LOG" >&2
    log "the agent said:"
    tail -n 20 "$AGENT_LOG" >&2
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { die "stack_test: $*"; }

# wait_for <seconds> <what> <cmd...>: until cmd succeeds; fails the test after.
wait_for() {
  local limit="$1" what="$2" end
  shift 2
  end=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < end)) || fail "$what: not within $limit s"
    kill -0 "$STACK_PID" 2>/dev/null || fail "$what: scripts/stack.sh exited"
    sleep 0.2
  done
}

said() { grep -qF -- "$1" "$STACK_LOG"; }
ready_on() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/readyz"; }
pid_of() { head -n1 "$PIDS/$1.pid" 2>/dev/null || true; }
new_pid() { local pid; pid=$(pid_of "$1"); [[ -n "$pid" && "$pid" != "$2" ]] && kill -0 "$pid" 2>/dev/null; }
# agent_on <url>: the agent's newest session is on that edge (its last connect
# line names it, and an ack followed).
agent_on() {
  local last
  last=$(grep -E 'Connecting to|handshake_ack received' "$AGENT_LOG" | tail -n 2 | tr '\n' ' ')
  [[ "$last" == *"Connecting to $1 "*"handshake_ack received"* ]]
}
stack_up() { ready_on "$MOOLAI_STACK_CORE_PORT" && ready_on "$MOOLAI_STACK_EDGE1_PORT" && ready_on "$MOOLAI_STACK_EDGE2_PORT"; }

psql -qX -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null

log "stack_test: starting scripts/stack.sh on ports ${ports[*]}, data in $MOOLAI_STACK_DATA"
scripts/stack.sh >"$STACK_LOG" 2>&1 &
STACK_PID=$!
wait_for 300 "the stack comes up" said "Moolai stack is up"

# The agent command the stack printed, on both edges, edge-1 first.
ENROLLMENT=$(grep -o 'me1\.[^ ]*' "$STACK_LOG" | head -n1)
[[ -n "$ENROLLMENT" ]] || fail "the stack printed no enrollment token"
RUST_LOG=info NO_COLOR=1 target/debug/moolai-agent --id stack-test-1 --url "$E1,$E2" --start-at-first \
  --interval 1 --state-file "$TMP/agent.json" --enrollment-token "$ENROLLMENT" \
  --api-url "http://127.0.0.1:$MOOLAI_STACK_CORE_PORT" >"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
wait_for 30 "the agent connects to edge-1" agent_on "$E1"

# One edge dies: the stack says so, keeps running, and starts it again.
old=$(pid_of edge-1)
kill -KILL "$old"
wait_for 30 "the stack says edge-1 died" said "edge-1 exited (killed by SIGKILL); the rest of the stack keeps running"
wait_for 30 "the agent fails over to edge-2" agent_on "$E2"
wait_for 60 "edge-1 comes back" new_pid edge-1 "$old"
wait_for 60 "edge-1 is ready again" ready_on "$MOOLAI_STACK_EDGE1_PORT"
wait_for 30 "the stack says edge-1 is back" said "edge-1 is ready again"
stack_up || fail "the stack is not up after edge-1 came back"
kill -0 "$STACK_PID" || fail "scripts/stack.sh exited"
if grep -E 'core-[2-9]' "$STACK_LOG"; then fail "the stack reported roles it never started"; fi

# One role stopped by hand stays stopped until started. (edge-1, which the agent
# left: a restarted edge refuses the tokens issued before its start until issue
# 32's item 1 is fixed, so the agent is not sent back to it here.)
scripts/stack.sh stop edge-1 >>"$COMMANDS_LOG" 2>&1 || fail "stop edge-1 failed"
port_open "$MOOLAI_STACK_EDGE1_PORT" && fail "edge-1 still listens after stop"
wait_for 10 "the stack says edge-1 was stopped" said "edge-1 stopped (exit status 0), as asked"
scripts/stack.sh status >"$TMP/status" 2>&1 || fail "status failed"
grep -q '^edge-1 *stopped' "$TMP/status" || fail "status does not say edge-1 is stopped: $(cat "$TMP/status")"
grep -q '^edge-2 *running' "$TMP/status" || fail "status does not say edge-2 runs: $(cat "$TMP/status")"
scripts/stack.sh start edge-1 >>"$COMMANDS_LOG" 2>&1 || fail "start edge-1 failed"
ready_on "$MOOLAI_STACK_EDGE1_PORT" || fail "edge-1 not ready after start"
agent_on "$E2" || fail "the agent left edge-2 while edge-1 was stopped and started"

# restart: a new process, ready when the command returns.
old=$(pid_of persister)
scripts/stack.sh restart persister >>"$COMMANDS_LOG" 2>&1 || fail "restart persister failed"
new_pid persister "$old" || fail "restart persister left the same process"
ready_on "$MOOLAI_STACK_PERSISTER_PORT" || fail "the persister is not ready after restart"

# Ctrl-C (TERM here): everything it started stops, and nothing else.
kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=""
recorded=()
for f in "$PIDS"/*.pid; do
  [[ "$f" == */stack.pid ]] || recorded+=("$(head -n1 "$f")")
done
((${#recorded[@]} == 5)) || fail "expected 5 roles, found ${#recorded[@]} PID files"
kill -TERM "$STACK_PID"
code=0
wait "$STACK_PID" || code=$?
STACK_PID=""
((code == 143)) || fail "scripts/stack.sh exited with $code after TERM, not 143"
for pid in "${recorded[@]}"; do
  kill -0 "$pid" 2>/dev/null && fail "PID $pid still runs after the stack stopped"
done
[[ -z "$(ls "$PIDS")" ]] || fail "PID files left: $(ls "$PIDS")"
log "stack_test: ok (an edge killed came back, the agent failed over, stop/start/restart, clean stop)"
