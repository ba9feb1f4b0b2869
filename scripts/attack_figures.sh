#!/usr/bin/env bash
# The figures of issue 33's starvation findings (F3-F5), at full size, checked
# against their targets:
#   scripts/attack_figures.sh            debug build (argon2 itself is optimised)
#   scripts/attack_figures.sh --release  optimised build
# Each attack is a test of tests/tests/starvation.rs (scripts/test.sh runs them
# small); here they run one at a time against a private nats-server and the
# local PostgreSQL, and their `figure:` lines are collected in
# target/attack-figures.txt (copied into docs/security.md by hand).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

profile=()
[[ "${1:-}" == --release ]] && profile=(--release)

ensure_build_tools
ensure_postgres
export TEST_DATABASE_URL="$DATABASE_URL"
# 9 addresses x 128 idle connections, both ends in the test process.
ulimit -n "$(ulimit -Hn)"

TMP=$(mktemp -d)
trap 'stop_pid "$TMP/nats.pid"; rm -rf "$TMP"' EXIT
start_test_nats "$TMP"

cargo build "${profile[@]}" --bins -q
cargo test "${profile[@]}" -p moolai-tests --test starvation --no-run -q 2>/dev/null

# Full size: 40 admin tries (20 s), 2,000 hashes in the sustained flood, core's
# shipped connection caps (1024 in all, 128 per address: 9 x 128 idle ones).
export MOOLAI_ATTACK_ADMIN_TRIES=40 MOOLAI_ATTACK_FLOOD_HASHES=2000 MOOLAI_ATTACK_MAX_CONNECTIONS=1024

REPORT=target/attack-figures.txt
echo "# attack figures at $(git rev-parse --short HEAD), $(date -u +%FT%TZ), $(nproc) cores, ${profile[*]:-debug}" >"$REPORT"

failed=0
# attack <test name> <target, a Python expression over the figure's numbers n[0], n[1], ...> <what the target says>
attack() {
  local test="$1" target="$2" says="$3" out="$TMP/$1.out" line numbers verdict
  log "== $test"
  if ! cargo test "${profile[@]}" -q -p moolai-tests --test starvation -- "$test" --exact \
    --nocapture --test-threads 1 >"$out" 2>&1; then
    echo "FAIL $test (the test failed; output: $out)" | tee -a "$REPORT"
    tail -n 30 "$out" >&2
    failed=1
    return
  fi
  line=$(grep -m1 '^figure: ' "$out" | sed 's/^figure: //')
  numbers=$(grep -oE '[0-9]+' <<<"$line" | paste -sd, -)
  verdict=$(python3 -c "n=[$numbers]; print('PASS' if ($target) else 'MISS')")
  [[ "$verdict" == PASS ]] || failed=1
  echo "$verdict $line  [target: $says]" | tee -a "$REPORT"
}

# Targets index the figure line's numbers in order (the finding's digit is n[0]).
attack a_login_flood_from_a_dozen_addresses_does_not_lock_the_admin_out \
  'n[7] <= 10 and n[5] == n[6] - n[7] + 1' 'a fresh admin is in within 5 s (10 tries) and stays in'
attack a_login_flood_from_ever_new_addresses_leaves_a_known_admin_its_slot \
  'n[4] == n[5]' 'the known admin gets in every time'
attack a_sustained_login_flood_leaves_cores_memory_at_its_hashing_slots \
  'n[5] <= 200 and n[6] <= 200' "core's RSS and peak stay under 200 MiB (4 x 19 MiB of hashing)"
attack idle_connections_from_nine_addresses_do_not_take_the_last_place \
  'n[4] == 21 and n[6] == 21' 'every ordinary GET is served, on core and on the edge'

log "figures in $REPORT"
exit "$failed"
