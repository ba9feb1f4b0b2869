#!/usr/bin/env bash
# Run every test: the Rust workspace against a throwaway NATS (with two core
# replicas), the compose check, the integration suite again against the oldest
# NATS we support with one core (skip with MOOLAI_SKIP_COMPAT=1), and the
# frontend tests.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

OLDEST_NATS=2.10.26
failed=()
step() { # step <name> <cmd...>: run it, remember a failure, keep going
  local name="$1"
  shift
  log "== $name"
  "$@" || { failed+=("$name"); log "FAILED: $name"; }
}

ensure_build_tools
ensure_postgres
export TEST_DATABASE_URL="$DATABASE_URL"

# A private NATS per run: never the machine's own broker on :4222, and no state
# carried over between runs.
TMP=$(mktemp -d)
cleanup() {
  stop_pid "$TMP/nats.pid"
  stop_pid "$TMP/nats-bench.pid"
  stop_pid "$TMP/nats-compat.pid"
  rm -rf "$TMP"
}
trap cleanup EXIT

NATS_SERVER_BIN=$(ensure_nats_bin)
export NATS_SERVER_BIN # for tests that start/stop a broker of their own
# The shipped nats.conf with fresh passwords: every test runs under the real
# authorization, each role logging in as its own user. Exported, because the
# test harness gives each role its password from these variables and the tests'
# own nats-servers are started with them.
load_nats_credentials "$TMP/nats-credentials"
for role in "${MOOLAI_NATS_ROLES[@]}"; do export "MOOLAI_NATS_${role^^}_PASSWORD"; done
port=$(free_port)
start_nats "$port" "$TMP/nats-store" "$TMP/nats.pid"
export NATS_URL="nats://127.0.0.1:$port"

# The failover tests run real edge processes, so the binaries must exist first.
step "cargo build" cargo build --bins
step "cargo fmt" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
# The suite passes against replicated core as well as one: this pass runs every
# test that starts core with two replicas (MOOLAI_TEST_CORES, tests/src/roles.rs),
# the compat pass below with one.
MOOLAI_TEST_CORES=2 step "cargo test (two core replicas)" cargo test --workspace --all-targets
# scripts/stack.sh itself, on ports and data of its own: one edge killed comes
# back while the rest stays up, and stop/start/restart of one role.
step "stack script (scripts/stack_test.sh)" timeout 600 scripts/stack_test.sh
# Small benchmark passes so the harness keeps working; they assert nothing about
# speed (debug builds, shared CI box). Figures live in docs/benchmarks.md.
step "benchmark harness (small)" env MOOLAI_BENCH_PROFILE=debug bench/run.sh \
  --orchestrators 2000 --cores 2 --duration 10 --storm --rollout --push-connected 200 \
  --connect-more 200 --connect-more-rate 200 --out target/bench-ci
step "benchmark harness (failover storm, small)" env MOOLAI_BENCH_PROFILE=debug bench/run.sh \
  --orchestrators 1500 --edges 3 --interval 5 --duration 5 --storm-failover --out target/bench-ci
# It measures the bus itself on subjects of its own, which no role may use: a
# server without authorization of its own.
bench_port=$(free_port)
start_nats_open "$bench_port" "$TMP/nats-bench-store" "$TMP/nats-bench.pid"
step "heartbeat transport benchmark (small)" env NATS_URL="nats://127.0.0.1:$bench_port" \
  cargo run -q -p moolai-bench --bin heartbeat_transport -- --count 5000 --orchestrators 500
stop_pid "$TMP/nats-bench.pid"
step "fuzz (30 s per target)" scripts/fuzz.sh 30
step "supply chain (cargo deny; cargo deny advisories and cargo audit against ../shared/advisory-db)" scripts/supply_chain.sh

# The compose check needs PyYAML; keep it in our venv, not the system Python.
PY="$MOOLAI_TOOLS/venv/bin/python"
"$PY" -c 'import yaml' 2>/dev/null || "$PY" -m pip install -q --disable-pip-version-check pyyaml
step "compose check" "$PY" scripts/check_compose.py
step "compose secrets (the roles start from the secrets service's files)" scripts/check_compose_secrets.sh
step "Dockerfile (copied paths, binaries, dashboard stage, non-root user; hadolint)" scripts/check_dockerfile.sh
step "kubernetes manifests (kustomize render, Kubernetes 1.30 schemas, settings against --help)" scripts/check_k8s.sh

if [[ "${MOOLAI_SKIP_COMPAT:-}" == 1 ]]; then
  log "skipping the NATS $OLDEST_NATS compat pass (MOOLAI_SKIP_COMPAT=1)"
else
  stop_pid "$TMP/nats.pid"
  NATS_SERVER_BIN=$(ensure_nats_bin "$OLDEST_NATS")
  port=$(free_port)
  start_nats "$port" "$TMP/nats-compat-store" "$TMP/nats-compat.pid"
  NATS_URL="nats://127.0.0.1:$port" MOOLAI_NATS_COMPAT=1 MOOLAI_TEST_CORES=1 \
    step "cargo test (NATS $OLDEST_NATS, one core)" cargo test -p moolai-tests
fi

if [[ -f frontend/package.json ]] &&
  python3 -c 'import json,sys; sys.exit("test" not in json.load(open("frontend/package.json")).get("scripts", {}))'; then
  # Debian 12's own Node (18) is too old for Vite 7: ensure_node pins one from PyPI.
  ensure_node
  # The browser tests run the real stack: Debian's Chromium, the binaries built
  # above, our pinned nats-server (not the compat one) and the local PostgreSQL.
  ensure_chromium
  NATS_SERVER_BIN=$(ensure_nats_bin)
  # @playwright/test installs no browser today; this keeps it so if that changes.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  export NATS_SERVER_BIN TEST_DATABASE_URL PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD
  step "frontend" bash -c 'cd frontend && npm ci --no-audit --no-fund && npm test'
  step "dashboard API types match /openapi.json" scripts/api_types.sh
fi

if ((${#failed[@]})); then
  log "FAILED steps: ${failed[*]}"
  exit 1
fi
log "all test steps passed"
