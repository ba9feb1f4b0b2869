#!/bin/sh
# One-shot `secrets` service of compose.yaml: makes each missing secret once in
# the secrets volume, so `docker compose up` starts authenticated with no step
# by hand, and keeps the ones already there (restarts and upgrades keep their
# passwords, sessions and orchestrator tokens). Delete a file and run it again
# to rotate that secret (docs/security.md).
#
# A value given in the environment (ADMIN_PASSWORD, ORCHESTRATOR_TOKEN_SECRET)
# is written instead of a random one, so an operator may choose them.
set -eu
umask 077

dir=${MOOLAI_SECRETS_DIR:-/run/moolai-secrets}
# The containers of the roles run as `moolai` (deploy/Dockerfile); NATS as root.
# MOOLAI_SECRETS_OWNER= (empty) keeps the files as they are (scripts/check_compose.py).
owner=${MOOLAI_SECRETS_OWNER-moolai}

# 32 random bytes as hex behind a letter: letters and digits only, because
# nats-server reads an all-digit value from the environment as a number.
random_secret() {
  printf 's%s' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
}

keep_or_make() { # keep_or_make <file> [value]
  file="$dir/$1"
  if [ -s "$file" ]; then
    return
  fi
  value=${2:-$(random_secret)}
  printf '%s' "$value" >"$file.tmp"
  mv "$file.tmp" "$file"
  echo "made $1"
}

mkdir -p "$dir"
for role in core edge persister monitor; do
  keep_or_make "nats-$role-password"
done
keep_or_make postgres-password
keep_or_make orchestrator-token-secret "${ORCHESTRATOR_TOKEN_SECRET:-}"
keep_or_make admin-password "${ADMIN_PASSWORD:-}"

if [ -n "$owner" ]; then
  chown -R "$owner:$owner" "$dir"
fi
chmod 0500 "$dir"
chmod 0400 "$dir"/*
