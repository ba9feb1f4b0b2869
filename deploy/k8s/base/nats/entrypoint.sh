#!/bin/sh
# Entry point of every Moolai container (ours and the NATS nodes): Docker's
# convention for secrets, as the postgres image has it. For each variable
# NAME_FILE in the environment whose NAME ends in PASSWORD, SECRET or TOKEN
# (NATS_CA_FILE and ORCHESTRATOR_CONFIG_FILE are paths the binaries read
# themselves), NAME gets the content of that file, so secrets
# live in a volume (made by deploy/make-secrets.sh) and never in compose.yaml,
# `docker inspect` or the host's shell history. Then it runs the command.
#
# A NAME_FILE that cannot be read stops the container: starting without the
# secret would mean starting without authentication, or not at all later.
set -eu

for name in $(env | sed -En 's/^([A-Z][A-Z0-9_]*(PASSWORD|SECRET|TOKEN))_FILE=.*/\1/p'); do
  eval "file=\${${name}_FILE}"
  if [ ! -r "$file" ] || [ ! -s "$file" ]; then
    echo "moolai-entrypoint: ${name}_FILE=$file is missing or empty" >&2
    exit 1
  fi
  eval "already=\${${name}:-}"
  if [ -n "$already" ]; then
    echo "moolai-entrypoint: both $name and ${name}_FILE are set; keep one" >&2
    exit 1
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
done

exec "$@"
