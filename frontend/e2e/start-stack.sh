#!/usr/bin/env bash
# A private Moolai stack for the end-to-end tests, built from scripts/lib.sh:
# its own nats-server (free port, temp store), a fresh PostgreSQL database
# (moolai_e2e_<random>), persister, core (serving frontend/dist, issuing
# orchestrator tokens), two edges — edge-e2e, open to the made-up ids of the
# agents, and edge-tokens, which requires orchestrator tokens as production
# edges do — and agents. Every PID goes to a pidfile under <dir>; `down` stops
# exactly those.
#
#   start-stack.sh up <dir> [agent-id...]   prints one JSON line describing the stack
#   start-stack.sh agent <dir> <agent-id>   starts one more agent on the stack's edge
#   start-stack.sh stop <dir> <service>     stops one service (core, persister, edge, edge-tokens, nats)
#   start-stack.sh restart <dir> core       starts core again as `up` did
#   start-stack.sh down <dir>               stops what `up` started, drops the database
#
# Env: NATS_SERVER_BIN (else lib.sh's pinned nats-server), TEST_DATABASE_URL or
# DATABASE_URL (default postgres://moolai:moolai@127.0.0.1:5432/moolai),
# E2E_ADMIN_PASSWORD (default e2e-admin-password), MOOLAI_BIN_DIR (default target/debug).
# Agents: E2E_AGENT_INTERVAL (seconds between heartbeats, default 1), E2E_AGENT_COUNT
# (> 1: one agent process running <id>-0 .. <id>-(N-1)), E2E_AGENT_NAME and
# E2E_AGENT_LOCATION (what the handshake announces; default "E2E <id>", "e2e"),
# E2E_AGENT_FAIL_KEYS (comma-separated features or settings the agent reports as
# failed when a configuration names them: the agent's AGENT_FAIL_CONFIG_KEYS),
# E2E_AGENT_URL (the edge URL(s) to use instead of edge-e2e's) and E2E_AGENT_TOKEN
# (the orchestrator token to connect with: `--token`).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 up|agent|down <dir> [agent-id...]"
shift 2
BIN="${MOOLAI_BIN_DIR:-$MOOLAI_ROOT/target/debug}"
PIDS="$dir/pids"
LOGS="$dir/logs"
# Stop order: clients before what they talk to.
ORDER=(edge edge-tokens core persister nats)

rand_hex() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }

# db_url <base-url> <name>: the same server and credentials, another database.
db_url() {
  local base="$1" name="$2" path query=""
  path="${base%%\?*}"
  [[ "$base" == *\?* ]] && query="?${base#*\?}"
  printf '%s/%s%s' "${path%/*}" "$name" "$query"
}

wait_ready() { # wait_ready <name> <port>: /readyz = 200 within 60 s
  local i
  for ((i = 0; i < 240; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/readyz")" == 200 ]] && return 0
    pid_alive "$PIDS/$1.pid" || break
    sleep 0.25
  done
  tail -n 30 "$LOGS/$1.log" >&2
  die "$1 did not become ready on port $2 (log: $LOGS/$1.log)"
}

start_agent() { # start_agent <id>
  local id="$1"
  [[ "$id" =~ ^[A-Za-z0-9_-]{1,128}$ ]] || die "bad agent id: $id"
  spawn "$PIDS/agent-$id.pid" "$LOGS/agent-$id.log" RUST_LOG=info ${E2E_AGENT_FAIL_KEYS:+"AGENT_FAIL_CONFIG_KEYS=$E2E_AGENT_FAIL_KEYS"} \
    ${E2E_AGENT_TOKEN:+"ORCHESTRATOR_TOKEN=$E2E_AGENT_TOKEN"} \
    "$BIN/moolai-agent" --id "$id" --url "${E2E_AGENT_URL:-ws://127.0.0.1:$(cat "$dir/edge.port")/ws}" \
    --interval "${E2E_AGENT_INTERVAL:-1}" --count "${E2E_AGENT_COUNT:-1}" \
    --name "${E2E_AGENT_NAME:-E2E $id}" --location "${E2E_AGENT_LOCATION:-e2e}" \
    --state-file "$dir/agent-$id.json"
  log "agent $id started (pid $(head -n1 "$PIDS/agent-$id.pid"))"
}

down() {
  local f name
  # Agents first, then the services, then the broker.
  for f in "$PIDS"/agent-*.pid; do [[ -e "$f" ]] && stop_pid "$f"; done
  for name in "${ORDER[@]}"; do stop_pid "$PIDS/$name.pid"; done
  if [[ -f "$dir/db.name" && -f "$dir/db.admin" ]]; then
    psql -qX "$(cat "$dir/db.admin")" -c "DROP DATABASE IF EXISTS $(cat "$dir/db.name") WITH (FORCE)" >&2 ||
      log "could not drop database $(cat "$dir/db.name")"
    rm -f "$dir/db.name"
  fi
  rm -rf "$dir/nats-store" "$dir/nats-credentials"
}

case "$cmd" in
up)
  for b in moolai-persister moolai-core moolai-edge moolai-agent; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: run 'cargo build --bins' in $MOOLAI_ROOT first"
  done
  command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client)"
  mkdir -p "$PIDS" "$LOGS"
  # Anything that fails from here on (die exits) leaves nothing running behind.
  trap 'down' EXIT

  base="${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://moolai:moolai@127.0.0.1:5432/moolai}}"
  db="moolai_e2e_$(rand_hex)"
  printf '%s\n' "$base" >"$dir/db.admin"
  psql -qX -v ON_ERROR_STOP=1 "$base" -c "CREATE DATABASE $db" >&2
  printf '%s\n' "$db" >"$dir/db.name"
  dburl="$(db_url "$base" "$db")"

  nats_port=$(free_port)
  # The shipped nats.conf: each role logs in as its own user (nats-auth.conf).
  load_nats_credentials "$dir/nats-credentials"
  start_nats "$nats_port" "$dir/nats-store" "$PIDS/nats.pid" "" "$LOGS/nats.log"

  prefix="e2e$(rand_hex)"
  persister_port=$(free_port)
  core_port=$(free_port)
  edge_port=$(free_port)
  printf '%s\n' "$edge_port" >"$dir/edge.port"
  token_edge_port=$(free_port)
  # Made for this stack only: core signs orchestrator tokens with it, edge-tokens checks them.
  token_secret="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  password="${E2E_ADMIN_PASSWORD:-e2e-admin-password}"
  dist="$(cd "$(dirname "$0")/.." && pwd)/dist"
  common=(NATS_URL="nats://127.0.0.1:$nats_port" MOOLAI_SUBJECT_PREFIX="$prefix" RUST_LOG="${RUST_LOG:-info}")

  # The persister applies the migrations, so it goes first.
  as_nats_user persister spawn "$PIDS/persister.pid" "$LOGS/persister.log" "${common[@]}" DATABASE_URL="$dburl" \
    PERSISTER_LISTEN="127.0.0.1:$persister_port" "$BIN/moolai-persister"
  wait_ready persister "$persister_port"
  core_cmd=("${common[@]}" DATABASE_URL="$dburl" CORE_LISTEN="127.0.0.1:$core_port"
    PERSISTER_LISTEN="127.0.0.1:$persister_port" ADMIN_USERNAME=admin ADMIN_PASSWORD="$password"
    DASHBOARD_DIR="$dist" HEARTBEAT_TTL_SEC=120 ORCHESTRATOR_TOKEN_SECRET="$token_secret" "$BIN/moolai-core")
  # Kept so that `restart` can start core again the same way.
  declare -p core_cmd core_port >"$dir/core.cmd"
  as_nats_user core spawn "$PIDS/core.pid" "$LOGS/core.log" "${core_cmd[@]}"
  as_nats_user edge spawn "$PIDS/edge.pid" "$LOGS/edge.log" "${common[@]}" EDGE_ID=edge-e2e \
    EDGE_LISTEN="127.0.0.1:$edge_port" EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false \
    EDGE_MAX_CONNECTIONS_PER_ADDRESS=0 "$BIN/moolai-edge"
  as_nats_user edge spawn "$PIDS/edge-tokens.pid" "$LOGS/edge-tokens.log" "${common[@]}" EDGE_ID=edge-tokens \
    EDGE_LISTEN="127.0.0.1:$token_edge_port" EDGE_REQUIRE_ORCHESTRATOR_TOKEN=true \
    ORCHESTRATOR_TOKEN_SECRET="$token_secret" "$BIN/moolai-edge"
  wait_ready core "$core_port"
  wait_ready edge "$edge_port"
  wait_ready edge-tokens "$token_edge_port"
  for id in "$@"; do start_agent "$id"; done
  trap - EXIT
  printf '{"core":"http://127.0.0.1:%s","edge":"ws://127.0.0.1:%s/ws","tokenEdge":"ws://127.0.0.1:%s/ws","database":"%s","prefix":"%s","nats":"nats://127.0.0.1:%s","username":"admin","password":"%s"}\n' \
    "$core_port" "$edge_port" "$token_edge_port" "$db" "$prefix" "$nats_port" "$password"
  ;;
agent)
  [[ -f "$dir/edge.port" ]] || die "no stack in $dir"
  for id in "$@"; do start_agent "$id"; done
  ;;
stop)
  name="${1:-}"
  [[ " ${ORDER[*]} " == *" $name "* || ( "$name" == agent-* && -f "$PIDS/$name.pid" ) ]] ||
    die "stop: unknown service '$name' (one of: ${ORDER[*]}, agent-<id>)"
  stop_pid "$PIDS/$name.pid"
  log "$name stopped"
  ;;
restart)
  [[ "${1:-}" == core ]] || die "restart: only core can be restarted"
  [[ -f "$dir/core.cmd" ]] || die "no stack in $dir"
  source "$dir/core.cmd"
  load_nats_credentials "$dir/nats-credentials"
  stop_pid "$PIDS/core.pid"
  as_nats_user core spawn "$PIDS/core.pid" "$LOGS/core.log" "${core_cmd[@]}"
  wait_ready core "$core_port"
  log "core restarted (pid $(head -n1 "$PIDS/core.pid"))"
  ;;
down)
  down
  ;;
*)
  die "usage: $0 up|agent|down <dir> [agent-id...]"
  ;;
esac
