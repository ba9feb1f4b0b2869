#!/usr/bin/env bash
# The benchmark suite in one command: builds release binaries, provisions NATS
# (our pinned nats-server) and PostgreSQL, then runs bench/harness.py, which
# starts the stack, drives `moolai-agent --count` load generators from 127.0.0.x
# source addresses, and writes a JSON report and a markdown row (target/bench/).
#   bench/run.sh                                   10,000 orchestrators, 2 edges, 0.5 s
#   bench/run.sh --orchestrators 200000 --edges 10 --interval 30 --duration 300
#   bench/run.sh --storm --push-connected 10000 --record
#   bench/run.sh --help
# MOOLAI_BENCH_PROFILE=debug uses debug builds (CI's small pass, which only
# checks that the harness still works; its figures mean nothing).
# Loopback only; everything it starts is stopped by PID when it ends.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$MOOLAI_ROOT"

ensure_build_tools
ensure_postgres
command -v psql >/dev/null || ensure_apt_pkgs postgresql-client
NATS_SERVER_BIN=$(ensure_nats_bin)
export NATS_SERVER_BIN DATABASE_URL
PROFILE="${MOOLAI_BENCH_PROFILE:-release}"
if [[ "$PROFILE" == release ]]; then
  cargo build --release -q --bins
else
  cargo build -q --bins
fi
export MOOLAI_BENCH_PROFILE="$PROFILE"
# Edges and load generators hold thousands of sockets each.
ulimit -n "$(ulimit -Hn)"
exec python3 bench/harness.py "$@"
