#!/usr/bin/env bash
# Fault runs of the reliability issue, at full size, with their figures:
#   scripts/faults.sh full    every scenario at the issue's sizes (~25 min)
#   scripts/faults.sh short   the same tests at CI's sizes (~3 min)
# Each scenario is a test in tests/tests/ (scripts/test.sh runs them short);
# here they run one at a time against a private nats-server and the local
# PostgreSQL, and the figure lines they print are collected in
# target/faults-report.txt (copied into docs/reliability.md by hand).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

size="${1:-full}"
[[ "$size" == full || "$size" == short ]] || die "usage: $0 [full|short]"

ensure_build_tools
ensure_postgres
export TEST_DATABASE_URL="$DATABASE_URL"
# 5,000 agents hold 5,000 sockets in the test process.
ulimit -n "$(ulimit -Hn)"

TMP=$(mktemp -d)
trap 'stop_pid "$TMP/nats.pid"; rm -rf "$TMP"' EXIT
# The shipped nats.conf with fresh passwords, exported for the test harness.
start_test_nats "$TMP"

# Full size runs optimised builds: 5,000 agents in a debug test process measure
# the debug build, not the system.
profile=()
[[ "$size" == full ]] && profile=(--release)
cargo build "${profile[@]}" --bins -q
cargo test "${profile[@]}" -p moolai-tests --no-run -q 2>/dev/null

REPORT=target/faults-report.txt
{
  echo "# fault runs ($size) at $(git rev-parse --short HEAD), $(date -u +%FT%TZ)"
  echo "# $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, nats-server $("$NATS_SERVER_BIN" --version | awk '{print $2}'), $(psql --version | head -1)"
} >"$REPORT"

# scenario <name> <test file> <test name> [VAR=value...]
scenario() {
  local name="$1" file="$2" test="$3"
  shift 3
  local vars=()
  [[ "$size" == full ]] && vars=("$@")
  log "== $name ${vars[*]:-}"
  local out="$TMP/$file.out"
  if env "${vars[@]}" cargo test "${profile[@]}" -q -p moolai-tests --test "$file" -- "$test" --exact \
    --nocapture --test-threads 1 >"$out" 2>&1; then
    echo "PASS $name: $(grep -E '^[0-9a-z].*(took|after|sent|stored|closed|flapped|changes|intervals)' "$out" | tr '\n' ' ')" | tee -a "$REPORT"
  else
    echo "FAIL $name (output: $out)" | tee -a "$REPORT"
    tail -n 30 "$out" >&2
    failed=1
  fi
}

failed=0
scenario "1 edge kill -9 under agents" durability \
  agents_move_to_the_other_edge_within_ten_seconds_when_one_is_killed MOOLAI_FAULT_AGENTS=5000
scenario "2 persister kill -9 loop" fault_runs \
  the_persister_killed_again_and_again_loses_and_duplicates_nothing \
  MOOLAI_FAULT_SECS=300 MOOLAI_FAULT_RATE=500 MOOLAI_FAULT_KILL_EVERY=5
scenario "3 PostgreSQL away" fault_runs \
  a_database_outage_under_load_loses_nothing_and_drains_after_its_return \
  MOOLAI_FAULT_OUTAGE_SECS=60 MOOLAI_FAULT_RATE=200
scenario "4 NATS restart" fault_runs \
  a_broker_restart_under_load_loses_nothing_and_rest_writes_fail_fast \
  MOOLAI_FAULT_OUTAGE_SECS=10 MOOLAI_FAULT_RATE=200
scenario "5+6 edge cut from NATS (netns)" network_cut \
  an_edge_cut_off_from_nats_stops_being_ready_and_its_agents_move
scenario "7 NATS cluster node kill" nats_cluster \
  killing_one_of_three_nodes_loses_nothing_and_stalls_less_than_five_seconds
scenario "8 liveness, 1 heartbeat in 3 lost" liveness \
  losing_one_heartbeat_in_three_never_flaps_an_orchestrator MOOLAI_FAULT_SECS=600
scenario "8 liveness, silent orchestrator" liveness \
  a_silent_orchestrator_is_inactive_between_two_and_three_and_a_half_intervals
scenario "9 edge SIGTERM drain" hardening \
  a_stopping_edge_drains_its_sockets_with_1012_and_records_every_disconnect
scenario "13 slowloris" hardening connections_that_never_finish_their_headers_are_closed \
  MOOLAI_FAULT_CONNS=1000
scenario "15 slow reader" hardening a_reader_that_stops_reading_is_closed_at_one_mib_of_backlog
log "report: $REPORT"
exit "$failed"
