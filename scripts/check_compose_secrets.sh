#!/usr/bin/env bash
# compose.yaml's secrets path without a Docker engine: deploy/make-secrets.sh
# makes the secrets, and NATS, persister, core and an edge start through
# deploy/entrypoint.sh with only NAME_FILE settings, as compose starts them
# (DATABASE_URL without a password, PGPASSWORD_FILE beside it). Passes when all
# three roles are ready on the authenticated bus and the `admin` login works
# with the made password; no secret may appear in a log.
# Needs the debug binaries (cargo build --bins) and PostgreSQL (ensure_postgres).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

T=$(mktemp -d)
S="$T/secrets"
db="compose_secrets_$$"
admin_url="${DATABASE_URL:-postgres://moolai:moolai@127.0.0.1:5432/moolai}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # An edge drains for a while on SIGTERM; this check has no sockets to drain.
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$admin_url" -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT

MOOLAI_SECRETS_DIR="$S" MOOLAI_SECRETS_OWNER='' sh deploy/make-secrets.sh >/dev/null
# PostgreSQL here is the machine's, whose role has its own password: the file
# takes that one, as the postgres container would have taken the made one.
chmod 0700 "$S" && chmod 0600 "$S/postgres-password"
python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).password, end="")' \
  "$admin_url" >"$S/postgres-password"
psql -q "$admin_url" -c "create database $db" >/dev/null
db_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(netloc=f"{p.username}@{p.hostname}:{p.port}", path="/" + sys.argv[2]).geturl())' "$admin_url" "$db")

nats_port=$(free_port) core_port=$(free_port) persister_port=$(free_port) edge_port=$(free_port)
# Only the files: the caller's own secrets (scripts/test.sh exports the NATS
# passwords) must not reach the processes, as they would not in a container.
entry=(env -u MOOLAI_NATS_CORE_PASSWORD -u MOOLAI_NATS_EDGE_PASSWORD -u MOOLAI_NATS_PERSISTER_PASSWORD
  -u MOOLAI_NATS_MONITOR_PASSWORD -u NATS_PASSWORD -u PGPASSWORD -u ADMIN_PASSWORD -u ORCHESTRATOR_TOKEN_SECRET
  sh deploy/entrypoint.sh)
bus=(NATS_URL="nats://127.0.0.1:$nats_port")
# Each role gets its secrets the way compose.yaml gives them: files only.
env MOOLAI_NATS_CORE_PASSWORD_FILE="$S/nats-core-password" MOOLAI_NATS_EDGE_PASSWORD_FILE="$S/nats-edge-password" \
  MOOLAI_NATS_PERSISTER_PASSWORD_FILE="$S/nats-persister-password" MOOLAI_NATS_MONITOR_PASSWORD_FILE="$S/nats-monitor-password" \
  "${entry[@]}" "${NATS_SERVER_BIN:-$(ensure_nats_bin)}" -c nats.conf -p "$nats_port" -sd "$T/store" >"$T/nats.log" 2>&1 &
pids+=($!)
env "${bus[@]}" NATS_USER=persister NATS_PASSWORD_FILE="$S/nats-persister-password" DATABASE_URL="$db_url" \
  PGPASSWORD_FILE="$S/postgres-password" PERSISTER_LISTEN="127.0.0.1:$persister_port" \
  "${entry[@]}" target/debug/moolai-persister >"$T/persister.log" 2>&1 &
pids+=($!)
env "${bus[@]}" NATS_USER=core NATS_PASSWORD_FILE="$S/nats-core-password" DATABASE_URL="$db_url" \
  PGPASSWORD_FILE="$S/postgres-password" CORE_LISTEN="127.0.0.1:$core_port" ADMIN_PASSWORD_FILE="$S/admin-password" \
  ORCHESTRATOR_TOKEN_SECRET_FILE="$S/orchestrator-token-secret" \
  "${entry[@]}" target/debug/moolai-core >"$T/core.log" 2>&1 &
pids+=($!)
env "${bus[@]}" NATS_USER=edge NATS_PASSWORD_FILE="$S/nats-edge-password" EDGE_ID=edge-1 EDGE_LISTEN="127.0.0.1:$edge_port" \
  ORCHESTRATOR_TOKEN_SECRET_FILE="$S/orchestrator-token-secret" EDGE_REQUIRE_ORCHESTRATOR_TOKEN=true \
  "${entry[@]}" target/debug/moolai-edge >"$T/edge.log" 2>&1 &
pids+=($!)

ready=0
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
  # A process that exited will not become ready: stop waiting.
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || break 2; done
  ready=0
  for port in "$persister_port" "$core_port" "$edge_port"; do
    curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && ready=$((ready + 1))
  done
  ((ready == 3)) && break
  sleep 0.2
done
failed=0
if ((ready != 3)); then
  log "compose secrets: only $ready of 3 roles became ready"
  tail -n 5 "$T"/*.log >&2
  failed=1
fi
body=$(python3 -c 'import json, sys; print(json.dumps({"username": "admin", "password": open(sys.argv[1]).read()}))' "$S/admin-password")
status=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$body" \
  "http://127.0.0.1:$core_port/api/v1/internal/auth/login")
[[ "$status" == 200 ]] || { log "compose secrets: admin login with the made password answered $status"; failed=1; }
for secret in "$S"/*; do
  # Not a made one here (the machine's role password, a common word).
  [[ "$(basename "$secret")" == postgres-password ]] && continue
  if grep -qF "$(cat "$secret")" "$T"/*.log; then
    log "compose secrets: $(basename "$secret") appears in a log"
    failed=1
  fi
done
((failed == 0)) && log "compose secrets: 3 roles ready through NAME_FILE secrets, admin login 200, no secret in the logs"
exit "$failed"
