#!/usr/bin/env bash
# Prints the environment for the local stack, honouring the same overrides as
# up.sh (FLASHSALE_STATE_DIR, REDIS_PORT, REDIS_CLUSTER_PORTS, PG_PORT,
# PGBOUNCER_PORT, AWS_PORT, EVENTS_STREAM, EVENTS_TABLE).
#
#   eval "$(localstack/env.sh)"          in a shell
#   localstack/env.sh --make > .env.mk    "export VAR = value" lines for make
#
# Shell output single-quotes each value: DATABASE_URL contains "?", which an
# unquoted eval would treat as a glob.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

format=shell
case ${1:-} in
  '') ;;
  --make) format='make' ;;
  *) echo "usage: $0 [--make]" >&2; exit 2 ;;
esac

cluster_addrs=
for port in $REDIS_CLUSTER_PORTS; do
  cluster_addrs+=${cluster_addrs:+,}127.0.0.1:$port
done

emit() {
  if [[ $format == make ]]; then
    printf 'export %s = %s\n' "$1" "$2"
  else
    printf "export %s='%s'\n" "$1" "$2"
  fi
}

emit REDIS_URL "redis://127.0.0.1:$REDIS_PORT/0"
emit REDIS_CLUSTER_ADDRS "$cluster_addrs"
emit DATABASE_URL "postgres://flashsale:flashsale@127.0.0.1:$PG_PORT/flashsale?sslmode=disable"
emit ANALYTICS_DATABASE_URL "postgres://flashsale:flashsale@127.0.0.1:$PG_PORT/flashsale_analytics?sslmode=disable"
emit PGBOUNCER_URL "postgres://flashsale:flashsale@127.0.0.1:$PGBOUNCER_PORT/flashsale?sslmode=disable"
emit AWS_ENDPOINT_URL "http://127.0.0.1:$AWS_PORT"
emit AWS_REGION us-east-1
emit AWS_ACCESS_KEY_ID test
emit AWS_SECRET_ACCESS_KEY test
emit EVENTS_STREAM "$EVENTS_STREAM"
emit EVENTS_TABLE "$EVENTS_TABLE"
emit RIE_BIN "$RIE_BIN"
