#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer) of the decoders in moolai-proto (the wire crate)
# that read untrusted input: WebSocket frames, ids, orchestrator tokens.
#
#   scripts/fuzz.sh [seconds-per-target]     (default 30)
#
# Builds every target in fuzz/ and runs them one after another for that many
# seconds each, starting from the committed corpus (fuzz/corpus/<target>) plus the
# inputs of past findings (fuzz/regressions/<target>), with the dictionary
# fuzz/dict/<target>.dict where there is one. What the run discovers goes
# to a temporary directory, so a short pass never grows the committed corpus.
# Exits non-zero if any target crashes (panic, failed assertion, sanitizer report,
# timeout or out-of-memory); the input is left in fuzz/artifacts/<target>/.
#
# Environment:
#   FUZZ_TARGETS="frames ids"   run only these targets
#   MOOLAI_FUZZ_STRICT=1        also fail on the known findings the targets tolerate
#   CARGO_BUILD_JOBS=N          as for any cargo build
#
# Only stable Rust is available here, while cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address, ...): RUSTC_BOOTSTRAP=1 makes stable rustc accept them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

secs="${1:-30}"
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || die "usage: scripts/fuzz.sh [seconds-per-target] (a positive whole number, not '$secs')"

command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain first"
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

fuzz_dir="$MOOLAI_ROOT/fuzz"
cd "$fuzz_dir"
# Fuzz the dependency versions the services run with: start from the main
# workspace's lock file (cargo drops what fuzz/ does not use and adds libfuzzer-sys).
cp "$MOOLAI_ROOT/Cargo.lock" "$fuzz_dir/Cargo.lock"

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <(cargo fuzz list)
fi
((${#targets[@]})) || die "no fuzz targets found in $fuzz_dir"

log "building fuzz targets: ${targets[*]}"
started=$SECONDS
cargo fuzz build
log "built in $((SECONDS - started)) s"

work=$(mktemp -d "${TMPDIR:-/tmp}/moolai-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=()
for t in "${targets[@]}"; do
  [[ -d "corpus/$t" ]] || die "no seed corpus: fuzz/corpus/$t"
  dirs=("$work/$t" "corpus/$t")
  [[ -d "regressions/$t" ]] && dirs+=("regressions/$t")
  opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [[ -f "dict/$t.dict" ]] && opts+=(-dict="dict/$t.dict")
  mkdir -p "$work/$t"
  log "fuzzing $t for $secs s"
  # The first directory receives new inputs; the others are only read.
  if cargo fuzz run "$t" "${dirs[@]}" -- "${opts[@]}" >"$work/$t.log" 2>&1; then
    # The last status line: executions, coverage, features, corpus; then exec/s.
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$work/$t.log" | tail -n 1 >&2 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/$t.log" >&2 || true
    log "$t: clean, $(find "$work/$t" -type f | wc -l) new inputs this run (discarded)"
  else
    failed+=("$t")
    tail -n 80 "$work/$t.log" >&2
    log "$t: CRASHED; the input is in fuzz/artifacts/$t/"
  fi
done

((${#failed[@]} == 0)) || die "fuzzing found crashes in: ${failed[*]}"
log "all fuzz targets clean (${targets[*]}, $secs s each)"
