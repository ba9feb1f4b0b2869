#!/usr/bin/env bash
# Run the whole Moolai stack locally: NATS, persister, core and two edges.
#   scripts/stack.sh             start in the foreground; Ctrl-C stops what it started
#   scripts/stack.sh --cores N   the same with N core replicas (1-9): core on 8765,
#                                core-2 on 8772, core-3 on 8773, ... (same settings)
#   scripts/stack.sh down        stop a stack left running (PIDs in .data/pids)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

DATA="$MOOLAI_ROOT/.data"
PIDS="$DATA/pids"
LOGS="$DATA/logs"
# Stop order: clients before the broker they talk to.
SERVICES=(edge-2 edge-1 core-9 core-8 core-7 core-6 core-5 core-4 core-3 core-2 core persister nats)

down() {
  local name
  for name in "${SERVICES[@]}"; do
    [[ -f "$PIDS/$name.pid" ]] && log "stopping $name" && stop_pid "$PIDS/$name.pid"
  done
  return 0
}

CORES=1
ACTION=up
while (($#)); do
  case "$1" in
    up | down) ACTION="$1" ;;
    --cores) CORES="${2:-}" && shift ;;
    *) die "usage: $0 [up|down] [--cores N]" ;;
  esac
  shift
done
[[ "$CORES" =~ ^[1-9]$ ]] || die "--cores takes a number from 1 to 9"
if [[ "$ACTION" == down ]]; then
  down
  exit 0
fi

for name in "${SERVICES[@]}"; do
  pid_alive "$PIDS/$name.pid" && die "$name is already running; run '$0 down' first"
done

ensure_build_tools
ensure_postgres
NATS_SERVER_BIN=$(ensure_nats_bin)
export NATS_SERVER_BIN

# kept_secret <VAR> <file> <bytes> <what>: unless VAR is set in the environment,
# sets it from <file>, made once (mode 0600) with <bytes> random bytes and kept,
# so a value a user exported survives restarts.
kept_secret() {
  local var="$1" file="$2" bytes="$3" what="$4"
  [[ -n "${!var:-}" ]] && return 0
  if [[ ! -s "$file" ]]; then
    mkdir -p "$(dirname "$file")"
    (umask 077 && python3 -c "import secrets; print(secrets.token_urlsafe($bytes))" >"$file")
    log "created $what in $file"
  fi
  chmod 600 "$file"
  printf -v "$var" '%s' "$(<"$file")"
}

# A static bearer token for the REST API, so the spec's curl scripts run with only
# the URL and token changed. Made once and kept (mode 0600) so an exported $TOKEN
# survives restarts; DEV_BEARER_TOKEN from the environment wins (at least 16
# characters: core refuses shorter ones, e.g. the spec's fake-dev-token).
TOKEN_FILE="$DATA/dev-token"
kept_secret DEV_BEARER_TOKEN "$TOKEN_FILE" 32 "a bearer token for the API"

# The first admin's password: made once into .data/admin-password (mode 0600) and
# printed below, so core never has to generate one (and nothing writes it to a
# log). ADMIN_PASSWORD from the environment wins; core applies a changed value at
# start (and ends that admin's sessions). At least 12 characters.
ADMIN_PASSWORD_FILE="$DATA/admin-password"
kept_secret ADMIN_PASSWORD "$ADMIN_PASSWORD_FILE" 18 "the admin password"

# Edges require orchestrator tokens: the secret core signs them with (and the edges
# verify them with) is made once into .data (mode 0600). ORCHESTRATOR_TOKEN_SECRET
# from the environment wins (at least 32 bytes). Edges listen on 127.0.0.1 unless
# EDGE_BIND says otherwise (e.g. EDGE_BIND=0.0.0.0 for orchestrators on other
# machines; they need their tokens either way).
SECRET_FILE="$DATA/orchestrator-token-secret"
kept_secret ORCHESTRATOR_TOKEN_SECRET "$SECRET_FILE" 48 "the orchestrator token secret"
EDGE_BIND="${EDGE_BIND:-127.0.0.1}"

# From here on, whatever happens, stop only what we started.
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# NATS users' passwords (nats-auth.conf): made once, kept in .data (mode 0600),
# and each process is given only its own.
NATS_CREDENTIALS="$DATA/nats-credentials"
load_nats_credentials "$NATS_CREDENTIALS"
start_nats 4333 "$DATA/nats" "$PIDS/nats.pid" 8333 "$LOGS/nats.log"
export NATS_URL=nats://127.0.0.1:4333
export RUST_LOG="${RUST_LOG:-info}"

cargo build --release --bins
# The dashboard core serves at /: rebuilt when missing or older than its sources.
ensure_dashboard
export DASHBOARD_DIR="$MOOLAI_ROOT/frontend/dist"

# start_service <name> <binary> [VAR=value...]: log and PID under .data.
start_service() {
  local name="$1" bin="$MOOLAI_ROOT/target/release/$2"
  shift 2
  log "starting $name (log: $LOGS/$name.log)"
  spawn "$PIDS/$name.pid" "$LOGS/$name.log" "$@" "$bin"
}

# wait_ready <name> <port>: poll /readyz for up to 60 s.
wait_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:$2/readyz" && return 0
    pid_alive "$PIDS/$1.pid" || break
    sleep 0.5
  done
  tail -n 20 "$LOGS/$1.log" >&2
  die "$1 did not become ready on port $2"
}

# The persister applies migrations, so the others wait for it.
as_nats_user persister start_service persister moolai-persister PERSISTER_LISTEN=127.0.0.1:8767
wait_ready persister 8767
as_nats_user core start_service core moolai-core CORE_LISTEN=127.0.0.1:8765 CORE_ID=core-1 DEV_BEARER_TOKEN="$DEV_BEARER_TOKEN" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  ORCHESTRATOR_TOKEN_SECRET="$ORCHESTRATOR_TOKEN_SECRET"
as_nats_user edge start_service edge-1 moolai-edge EDGE_ID=edge-1 EDGE_LISTEN="$EDGE_BIND:8766" \
  ORCHESTRATOR_TOKEN_SECRET="$ORCHESTRATOR_TOKEN_SECRET"
as_nats_user edge start_service edge-2 moolai-edge EDGE_ID=edge-2 EDGE_LISTEN="$EDGE_BIND:8768" \
  ORCHESTRATOR_TOKEN_SECRET="$ORCHESTRATOR_TOKEN_SECRET"
# More core replicas: the same settings, another port each (docs/architecture.md,
# "Core replicas").
for ((n = 2; n <= CORES; n++)); do
  as_nats_user core start_service "core-$n" moolai-core CORE_LISTEN="127.0.0.1:$((8770 + n))" CORE_ID="core-$n" \
    DEV_BEARER_TOKEN="$DEV_BEARER_TOKEN" ADMIN_PASSWORD="$ADMIN_PASSWORD" ORCHESTRATOR_TOKEN_SECRET="$ORCHESTRATOR_TOKEN_SECRET"
done
wait_ready core 8765
for ((n = 2; n <= CORES; n++)); do wait_ready "core-$n" $((8770 + n)); done
wait_ready edge-1 8766
wait_ready edge-2 8768

# An enrollment token for the agent command printed below (24 h, any new id): an
# agent enrolls once with it and keeps its own orchestrator token in its state file.
ENROLLMENT_TOKEN=$(curl -fsS -X POST -H "Authorization: Bearer $DEV_BEARER_TOKEN" \
  -H 'Content-Type: application/json' -d '{"description": "scripts/stack.sh", "expires_in_sec": 86400}' \
  http://127.0.0.1:8765/api/v1/internal/enrollment-tokens |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["enrollment_token"])') ||
  die "could not create an enrollment token (see $LOGS/core.log)"

cat <<EOF

Moolai stack is up (logs in .data/logs, Ctrl-C to stop):
  dashboard         http://127.0.0.1:8765/   user ${ADMIN_USERNAME:-admin}, password $(printf %q "$ADMIN_PASSWORD")
                    (kept in .data/admin-password unless ADMIN_PASSWORD was given)
  REST API          http://127.0.0.1:8765/api/v1/   (OpenAPI page at /docs)
  core replicas     $CORES (GET /api/v1/controller/cores; others on 8772..)
  edges             ws://127.0.0.1:8766/ws  ws://127.0.0.1:8768/ws
  NATS              nats://127.0.0.1:4333   (monitoring http://127.0.0.1:8333); users and
                    passwords in .data/nats-credentials (read-only: user monitor)
  database          $DATABASE_URL
Start an agent (edges require tokens: it enrolls once with this enrollment token,
valid 24 h, and keeps its own token in its state file for later starts):
  target/release/moolai-agent --id org-001 --url ws://127.0.0.1:8766/ws,ws://127.0.0.1:8768/ws \\
    --state-file .data/agent-org-001.json --enrollment-token $ENROLLMENT_TOKEN
A first-version client: register its id (POST /api/v1/internal/orchestrators/register) and
  put the orchestrator_token it answers in CONTROLLER_WS_URL=ws://127.0.0.1:8766/ws?token=…
Use the REST API (the token is kept in .data/dev-token; docs/demo.md walks the demo with it):
  export CONTROLLER=http://127.0.0.1:8765
  export TOKEN=$(printf %q "$DEV_BEARER_TOKEN")
  curl -H "Authorization: Bearer \$TOKEN" \$CONTROLLER/api/v1/controller/organizations

EOF

# Return as soon as any service exits, so a crash does not go unnoticed.
wait -n || true
for name in "${SERVICES[@]}"; do
  pid_alive "$PIDS/$name.pid" || log "$name exited; see $LOGS/$name.log"
done
exit 1
