#!/usr/bin/env bash
# Run the whole Moolai stack locally: NATS, persister, core and two edges.
#   scripts/stack.sh               start in the foreground; Ctrl-C stops what it started.
#                                  A role that exits is said and started again; the
#                                  rest of the stack keeps running meanwhile.
#   scripts/stack.sh --cores N     the same with N core replicas (1-9): core on 8765,
#                                  core-2 on 8772, core-3 on 8773, ... (same settings)
#   scripts/stack.sh stop ROLE     stop one role of the running stack and keep it
#                                  stopped (e.g. edge-1, to watch failover)
#   scripts/stack.sh start ROLE    start it again
#   scripts/stack.sh restart ROLE  stop it and start it again at once
#   scripts/stack.sh status        each role: running (pid), stopped, or starting
#   scripts/stack.sh down          stop a stack left running (PIDs in .data/pids)
# ROLE is nats, persister, core, core-N or edge-N. A second stack can run beside
# the first (scripts/stack_test.sh does) with these, given to every command:
#   MOOLAI_STACK_DATA (default .data), MOOLAI_STACK_NATS_PORT (4333),
#   MOOLAI_STACK_NATS_MONITOR_PORT (8333), MOOLAI_STACK_CORE_PORT (8765),
#   MOOLAI_STACK_EDGE1_PORT (8766), MOOLAI_STACK_PERSISTER_PORT (8767),
#   MOOLAI_STACK_EDGE2_PORT (8768), MOOLAI_STACK_CORE_REPLICA_PORT (8770: core-N
#   listens on it + N), MOOLAI_STACK_PROFILE (release; debug runs target/debug),
#   MOOLAI_STACK_NO_DASHBOARD=1 (no dashboard build: core serves the API only) and
#   DATABASE_URL.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

DATA="${MOOLAI_STACK_DATA:-$MOOLAI_ROOT/.data}"
PIDS="$DATA/pids"
LOGS="$DATA/logs"
NATS_PORT="${MOOLAI_STACK_NATS_PORT:-4333}"
NATS_MONITOR_PORT="${MOOLAI_STACK_NATS_MONITOR_PORT:-8333}"
CORE_PORT="${MOOLAI_STACK_CORE_PORT:-8765}"
EDGE1_PORT="${MOOLAI_STACK_EDGE1_PORT:-8766}"
PERSISTER_PORT="${MOOLAI_STACK_PERSISTER_PORT:-8767}"
EDGE2_PORT="${MOOLAI_STACK_EDGE2_PORT:-8768}"
CORE_REPLICA_PORT="${MOOLAI_STACK_CORE_REPLICA_PORT:-8770}"
PROFILE="${MOOLAI_STACK_PROFILE:-release}"
# Every role a stack may have, in stop order: clients before the broker they
# talk to. `down` goes through all of them (only those with a PID file).
SERVICES=(edge-2 edge-1 core-9 core-8 core-7 core-6 core-5 core-4 core-3 core-2 core persister nats)
# A role that exits this soon after it started, this many times in a row, is left
# stopped: starting it again would only fill its log.
QUICK_EXIT_SEC=10
QUICK_EXITS_MAX=5

usage() {
  die "usage: $0 [up] [--cores N] | stop ROLE | start ROLE | restart ROLE | status | down"
}

# port_of <role>: the port it serves (NATS: its client port).
port_of() {
  case "$1" in
    nats) echo "$NATS_PORT" ;;
    persister) echo "$PERSISTER_PORT" ;;
    core) echo "$CORE_PORT" ;;
    core-[2-9]) echo $((CORE_REPLICA_PORT + ${1#core-})) ;;
    edge-1) echo "$EDGE1_PORT" ;;
    edge-2) echo "$EDGE2_PORT" ;;
    *) return 1 ;;
  esac
}

# ready <role>: NATS takes connections; any other role answers /readyz.
ready() {
  local port
  port=$(port_of "$1")
  if [[ "$1" == nats ]]; then
    port_open "$port"
  else
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null
  fi
}

supervisor_alive() { pid_alive "$PIDS/stack.pid"; }

# down: from another shell, stop a running stack (its supervisor first, so that
# nothing is started again), then whatever a crashed one left behind.
down() {
  local pid i name
  if supervisor_alive; then
    pid=$(head -n1 "$PIDS/stack.pid")
    log "stopping the stack (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    # It stops each role in turn, up to 10 s each.
    for ((i = 0; i < 10 * 10 * ${#SERVICES[@]}; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  for name in "${SERVICES[@]}"; do
    [[ -f "$PIDS/$name.pid" ]] && log "stopping $name" && stop_pid "$PIDS/$name.pid"
  done
  rm -f "$PIDS"/*.held "$PIDS"/*.restart "$PIDS/stack.pid" "$PIDS/roles"
  return 0
}

# role_command stop|start|restart <role>: acts on the running stack, whose
# supervisor does the starting and owns the PID files (a role it did not start
# is not ours to touch).
role_command() {
  local action="$1" name="$2" old=""
  supervisor_alive || die "no stack is running with its data in $DATA (start one with $0)"
  grep -qx "$name" "$PIDS/roles" || die "$name is not a role of the running stack ($(tr '\n' ' ' <"$PIDS/roles"))"
  case "$action" in
    stop)
      touch "$PIDS/$name.held"
      end_pid "$PIDS/$name.pid"
      log "$name stopped; '$0 start $name' starts it again"
      return 0
      ;;
    start)
      if pid_alive "$PIDS/$name.pid" && [[ ! -f "$PIDS/$name.held" ]]; then
        log "$name is running already (pid $(head -n1 "$PIDS/$name.pid"))"
        return 0
      fi
      rm -f "$PIDS/$name.held"
      ;;
    restart)
      old=$(head -n1 "$PIDS/$name.pid" 2>/dev/null || true)
      rm -f "$PIDS/$name.held"
      touch "$PIDS/$name.restart"
      end_pid "$PIDS/$name.pid"
      ;;
  esac
  wait_back "$name" "$old"
}

# wait_back <role> <old pid>: until the supervisor has started it anew and it
# is ready, for up to 60 s.
wait_back() {
  local name="$1" old="$2" pid i
  for ((i = 0; i < 120; i++)); do
    pid=$(head -n1 "$PIDS/$name.pid" 2>/dev/null || true)
    if [[ -n "$pid" && "$pid" != "$old" ]] && pid_alive "$PIDS/$name.pid" && ready "$name"; then
      log "$name is up (pid $pid)"
      return 0
    fi
    sleep 0.5
  done
  die "$name did not come back within 60 s; see $LOGS/$name.log"
}

show_status() {
  local name state
  supervisor_alive || die "no stack is running with its data in $DATA"
  while read -r name; do
    if [[ -f "$PIDS/$name.held" ]]; then
      state="stopped ('$0 start $name')"
    elif pid_alive "$PIDS/$name.pid" && ready "$name"; then
      state="running (pid $(head -n1 "$PIDS/$name.pid"), port $(port_of "$name"))"
    else
      state="starting"
    fi
    printf '%-10s %s\n' "$name" "$state"
  done <"$PIDS/roles"
}

CORES=1
ACTION=up
ROLE=""
while (($#)); do
  case "$1" in
    up | down | status) ACTION="$1" ;;
    stop | start | restart) ACTION="$1" ROLE="${2:-}" && shift ;;
    --cores) CORES="${2:-}" && shift ;;
    *) usage ;;
  esac
  shift
done
[[ "$CORES" =~ ^[1-9]$ ]] || die "--cores takes a number from 1 to 9"
[[ "$PROFILE" == release || "$PROFILE" == debug ]] || die "MOOLAI_STACK_PROFILE is release or debug"
case "$ACTION" in
  down) down && exit 0 ;;
  status) show_status && exit 0 ;;
  stop | start | restart)
    [[ -n "$ROLE" ]] || usage
    role_command "$ACTION" "$ROLE"
    exit 0
    ;;
esac

supervisor_alive && die "a stack is already running here (pid $(head -n1 "$PIDS/stack.pid")); run '$0 down' first"
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

# The roles of this stack, in start order.
ROLES=(nats persister core)
for ((n = 2; n <= CORES; n++)); do ROLES+=("core-$n"); done
ROLES+=(edge-1 edge-2)

# stop_started: on exit, whatever happens, stop only what we started, clients
# before the broker.
stop_started() {
  local i name
  for ((i = ${#ROLES[@]} - 1; i >= 0; i--)); do
    name="${ROLES[i]}"
    [[ -f "$PIDS/$name.pid" ]] && log "stopping $name" && stop_pid "$PIDS/$name.pid"
  done
  rm -f "$PIDS"/*.held "$PIDS"/*.restart "$PIDS/stack.pid" "$PIDS/roles"
  return 0
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$PIDS" "$LOGS"
rm -f "$PIDS"/*.held "$PIDS"/*.restart
printf '%s\n%s\n' "$$" "$(readlink -f /proc/$$/exe)" >"$PIDS/stack.pid"
printf '%s\n' "${ROLES[@]}" >"$PIDS/roles"

# NATS users' passwords (nats-auth.conf): made once, kept in .data (mode 0600),
# and each process is given only its own.
NATS_CREDENTIALS="$DATA/nats-credentials"
load_nats_credentials "$NATS_CREDENTIALS"
export NATS_URL="nats://127.0.0.1:$NATS_PORT"
export RUST_LOG="${RUST_LOG:-info}"

if [[ "$PROFILE" == release ]]; then
  cargo build --release --bins
else
  cargo build --bins
fi
# The dashboard core serves at /: rebuilt when missing or older than its sources.
[[ "${MOOLAI_STACK_NO_DASHBOARD:-}" == 1 ]] || ensure_dashboard
export DASHBOARD_DIR="$MOOLAI_ROOT/frontend/dist"

# start_service <name> <binary> [VAR=value...]: log and PID under .data.
start_service() {
  local name="$1" bin="$MOOLAI_ROOT/target/$PROFILE/$2"
  shift 2
  log "starting $name (log: $LOGS/$name.log)"
  spawn "$PIDS/$name.pid" "$LOGS/$name.log" "$@" "$bin"
}

# launch <role>: starts it in the background, as a child of this shell (so that
# `wait` sees it end); its settings are the same every time.
launch() {
  local name="$1" port
  port=$(port_of "$name")
  case "$name" in
    nats) spawn_nats "$port" "$DATA/nats" "$PIDS/nats.pid" "$NATS_MONITOR_PORT" "$LOGS/nats.log" ;;
    persister) as_nats_user persister start_service persister moolai-persister PERSISTER_LISTEN="127.0.0.1:$port" ;;
    core | core-*)
      # core-1 is the first replica's id; the others' id is their role's name.
      local id="$name"
      [[ "$name" == core ]] && id=core-1
      as_nats_user core start_service "$name" moolai-core CORE_LISTEN="127.0.0.1:$port" CORE_ID="$id" \
        DEV_BEARER_TOKEN="$DEV_BEARER_TOKEN" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        ORCHESTRATOR_TOKEN_SECRET="$ORCHESTRATOR_TOKEN_SECRET"
      ;;
    edge-*)
      as_nats_user edge start_service "$name" moolai-edge EDGE_ID="$name" EDGE_LISTEN="$EDGE_BIND:$port" \
        ORCHESTRATOR_TOKEN_SECRET="$ORCHESTRATOR_TOKEN_SECRET"
      ;;
  esac
}

# wait_ready <role>: for up to 60 s; the stack does not come up without it.
wait_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    ready "$1" && return 0
    pid_alive "$PIDS/$1.pid" || break
    sleep 0.5
  done
  tail -n 20 "$LOGS/$1.log" >&2
  die "$1 did not become ready on port $(port_of "$1")"
}

# What the supervisor knows of each role: its PID, when it started, its quick
# exits in a row, when it may start again, and whether it was said to be ready.
declare -A PID_OF STARTED_AT QUICK NOT_BEFORE READY_SAID

# started <role>: records the PID that launch just wrote.
started() {
  PID_OF[$1]=$(head -n1 "$PIDS/$1.pid")
  STARTED_AT[$1]=$SECONDS
}

# The persister applies migrations, so the others wait for it; NATS first of all.
launch nats || die "could not start NATS"
started nats
wait_ready nats
log "NATS up on 127.0.0.1:$NATS_PORT (pid ${PID_OF[nats]})"
for name in "${ROLES[@]:1}"; do
  launch "$name"
  started "$name"
  if [[ "$name" == persister ]]; then wait_ready persister; fi
done
for name in "${ROLES[@]:2}"; do
  wait_ready "$name"
  READY_SAID[$name]=1
done
READY_SAID[nats]=1 READY_SAID[persister]=1

# An enrollment token for the agent command printed below (24 h, any new id): an
# agent enrolls once with it and keeps its own orchestrator token in its state file.
CONTROLLER="http://127.0.0.1:$CORE_PORT"
ENROLLMENT_TOKEN=$(curl -fsS -X POST -H "Authorization: Bearer $DEV_BEARER_TOKEN" \
  -H 'Content-Type: application/json' -d '{"description": "scripts/stack.sh", "expires_in_sec": 86400}' \
  "$CONTROLLER/api/v1/internal/enrollment-tokens" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["enrollment_token"])') ||
  die "could not create an enrollment token (see $LOGS/core.log)"

EDGES="ws://127.0.0.1:$EDGE1_PORT/ws,ws://127.0.0.1:$EDGE2_PORT/ws"
cat <<EOF

Moolai stack is up (logs in $LOGS, Ctrl-C to stop):
  dashboard         $CONTROLLER/   user ${ADMIN_USERNAME:-admin}, password $(printf %q "$ADMIN_PASSWORD")
                    (kept in $DATA/admin-password unless ADMIN_PASSWORD was given)
  REST API          $CONTROLLER/api/v1/   (OpenAPI page at /docs)
  core replicas     $CORES (GET /api/v1/controller/cores; others on $((CORE_REPLICA_PORT + 2))..)
  edges             ws://127.0.0.1:$EDGE1_PORT/ws  ws://127.0.0.1:$EDGE2_PORT/ws
  NATS              nats://127.0.0.1:$NATS_PORT   (monitoring http://127.0.0.1:$NATS_MONITOR_PORT); users and
                    passwords in $DATA/nats-credentials (read-only: user monitor)
  database          $DATABASE_URL
A role that exits is started again, the rest keeps running; to watch failover:
  $0 stop edge-1, then $0 start edge-1 (also restart ROLE, status; docs/demo.md, Part 12)
Start an agent (edges require tokens: it enrolls once with this enrollment token,
valid 24 h, and keeps its own token in its state file for later starts):
  target/$PROFILE/moolai-agent --id org-001 --url $EDGES \\
    --state-file $DATA/agent-org-001.json --enrollment-token $ENROLLMENT_TOKEN
A first-version client: register its id (POST /api/v1/internal/orchestrators/register) and
  put the orchestrator_token it answers in CONTROLLER_WS_URL=ws://127.0.0.1:$EDGE1_PORT/ws?token=…
Use the REST API (the token is kept in $DATA/dev-token; docs/demo.md walks the demo with it):
  export CONTROLLER=$CONTROLLER
  export TOKEN=$(printf %q "$DEV_BEARER_TOKEN")
  curl -H "Authorization: Bearer \$TOKEN" \$CONTROLLER/api/v1/controller/organizations

EOF

# exited <pid> [status]: a role's process ended; say which, how, and what next.
exited() {
  local pid="$1" status="${2:-}" name="" n how
  for n in "${ROLES[@]}"; do
    [[ "${PID_OF[$n]:-}" == "$pid" ]] && name="$n"
  done
  [[ -n "$name" ]] || return 0 # the supervisor's own timer
  unset "PID_OF[$name]"
  READY_SAID[$name]=""
  how="exit status ${status:-unknown}"
  if [[ -n "$status" ]] && ((status > 128)); then how="killed by SIG$(kill -l $((status - 128)))"; fi
  if [[ -f "$PIDS/$name.held" ]]; then
    rm -f "$PIDS/$name.pid"
    log "$name stopped ($how), as asked; '$0 start $name' starts it again"
  elif [[ -f "$PIDS/$name.restart" ]]; then
    rm -f "$PIDS/$name.restart"
    log "$name stopped ($how) for a restart; starting it again"
    NOT_BEFORE[$name]=0
  elif backoff "$name"; then
    local when=now wait=$((${NOT_BEFORE[$name]} - SECONDS))
    ((wait > 0)) && when="in $wait s"
    log "$name exited ($how); the rest of the stack keeps running; starting $name again $when (log: $LOGS/$name.log)"
  else
    touch "$PIDS/$name.held"
    rm -f "$PIDS/$name.pid"
    log "$name exited ($how), $QUICK_EXITS_MAX times within $QUICK_EXIT_SEC s of starting; left stopped: see $LOGS/$name.log, then '$0 start $name'"
  fi
}

# backoff <role>: when it may start again after a crash: at once, unless it keeps
# exiting soon after it starts (then 1, 2, 4, 8 s); fails when it has done so
# QUICK_EXITS_MAX times in a row.
backoff() {
  local name="$1" quick=0
  if ((SECONDS - ${STARTED_AT[$name]:-0} < QUICK_EXIT_SEC)); then
    quick=$((${QUICK[$name]:-0} + 1))
  fi
  QUICK[$name]=$quick
  ((quick < QUICK_EXITS_MAX)) || return 1
  NOT_BEFORE[$name]=$((SECONDS + (quick ? 1 << (quick - 1) : 0)))
}

# keep_up <role>: starts it if it is down and not held, says when it is ready.
keep_up() {
  local name="$1"
  if [[ -n "${PID_OF[$name]:-}" ]]; then
    if ! kill -0 "${PID_OF[$name]}" 2>/dev/null; then
      exited "${PID_OF[$name]}" # ended without `wait` seeing it
    elif [[ -z "${READY_SAID[$name]:-}" ]] && ready "$name"; then
      READY_SAID[$name]=1
      log "$name is ready again (pid ${PID_OF[$name]})"
    fi
    return 0
  fi
  [[ -f "$PIDS/$name.held" ]] && return 0
  ((SECONDS >= ${NOT_BEFORE[$name]:-0})) || return 0
  if [[ "$name" == nats ]]; then
    launch nats || {
      NOT_BEFORE[nats]=$((SECONDS + 5))
      return 0
    }
  else
    launch "$name"
  fi
  started "$name"
}

# Until Ctrl-C (or TERM): every second, or as soon as a role ends, see to each.
while :; do
  sleep 1 &
  pid="" status=0
  wait -n -p pid || status=$?
  [[ -n "$pid" ]] && exited "$pid" "$status"
  for name in "${ROLES[@]}"; do keep_up "$name"; done
done
