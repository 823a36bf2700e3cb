#!/usr/bin/env bash
# shellcheck disable=SC2317 # the down_* functions are called indirectly, as "down_$part"
# Stops what up.sh started, by the PIDs in the state dir's pidfiles (never by
# process name, so nothing else on the machine is touched).
#
#   down.sh                    stop everything
#   down.sh redis aws ...      stop only those parts
#   down.sh --purge [parts]    also delete their state (PostgreSQL data,
#                              cluster config, logs); the next up.sh starts
#                              from scratch. The built aws-lambda-rie stays.
#
# Data survives a plain down/up: PostgreSQL keeps its data dir and the Redis
# Cluster its nodes.conf. Redis contents and the AWS emulators are in memory
# only and start empty.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_PARTS=(redis cluster postgres pgbouncer aws rie)
usage() {
  echo "usage: $0 [--purge] [${ALL_PARTS[*]}]" >&2
  exit 2
}

purge=false
declare -A WANT=()
for arg in "$@"; do
  case $arg in
    --purge) purge=true ;;
    redis | cluster | postgres | pgbouncer | aws | rie) WANT[$arg]=1 ;;
    *) usage ;;
  esac
done
if ((${#WANT[@]} == 0)); then
  for part in "${ALL_PARTS[@]}"; do WANT[$part]=1; done
fi
wants() { [[ -n ${WANT[$1]:-} ]]; }

# stop_pids NAME PID... : SIGTERM all, wait up to 10 s, then SIGKILL as a
# last resort. Signalling all first lets the cluster nodes stop in parallel.
stop_pids() {
  local name=$1 pid i
  shift
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    for pid in "$@"; do
      pid_gone "$pid" || { sleep 0.1; continue 2; }
    done
    return 0
  done
  for pid in "$@"; do
    pid_gone "$pid" && continue
    kill -KILL "$pid" 2>/dev/null || true
    echo "$name: pid $pid did not stop on SIGTERM within 10 s; killed" >&2
  done
}

# stop_pidfile NAME PIDFILE EXPECTED-WORD-IN-CMDLINE
stop_pidfile() {
  local name=$1 pidfile=$2 expect=$3 pid
  if ! pid=$(live_pid "$pidfile" "$expect"); then
    rm -f "$pidfile" # stale or absent
    echo "$name: not running"
    return 0
  fi
  stop_pids "$name" "$pid"
  rm -f "$pidfile"
  echo "$name: stopped"
}

down_aws() {
  stop_pidfile aws "$STATE_DIR/aws/emulators.pid" emulators.js
}

down_pgbouncer() {
  stop_pidfile pgbouncer "$STATE_DIR/pgbouncer/pgbouncer.pid" pgbouncer
}

down_postgres() {
  if ! live_pid "$PG_DATA/postmaster.pid" postgres >/dev/null; then
    echo "postgres: not running"
    return 0
  fi
  # pg_ctl signals the PID in postmaster.pid; "fast" rolls back open
  # transactions instead of waiting for clients to leave.
  as_owner "$PG_DATA" "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m fast -w -t 30 -s ||
    die "postgres: pg_ctl stop failed; see $STATE_DIR/pg/postgres.log"
  echo "postgres: stopped"
}

down_cluster() {
  local dir pid
  local -a pids=() pidfiles=()
  for dir in "$STATE_DIR"/redis-cluster/*/; do
    [[ -d $dir ]] || continue
    if pid=$(live_pid "$dir/redis.pid" redis-server); then
      pids+=("$pid")
      pidfiles+=("$dir/redis.pid")
    fi
  done
  if ((${#pids[@]} == 0)); then
    echo "cluster: not running"
    return 0
  fi
  stop_pids cluster "${pids[@]}"
  rm -f "${pidfiles[@]}"
  echo "cluster: stopped (${#pids[@]} nodes)"
}

down_redis() {
  stop_pidfile redis "$STATE_DIR/redis/redis.pid" redis-server
}

# Prints the PIDs of a part's processes that are still alive.
still_running() {
  local dir
  case $1 in
    redis) live_pid "$STATE_DIR/redis/redis.pid" redis-server ;;
    cluster)
      for dir in "$STATE_DIR"/redis-cluster/*/; do
        live_pid "$dir/redis.pid" redis-server || true
      done
      ;;
    postgres) live_pid "$PG_DATA/postmaster.pid" postgres ;;
    pgbouncer) live_pid "$STATE_DIR/pgbouncer/pgbouncer.pid" pgbouncer ;;
    aws) live_pid "$STATE_DIR/aws/emulators.pid" emulators.js ;;
  esac
  return 0
}

# Reverse start order: clients of a part go before the part.
for part in aws pgbouncer postgres cluster redis; do
  wants "$part" && "down_$part"
done

if $purge; then
  # Only the known subdirectories, never the state dir itself (it may be a
  # shared directory chosen through FLASHSALE_STATE_DIR).
  declare -A SUBDIR=([redis]=redis [cluster]=redis-cluster [postgres]=pg [pgbouncer]=pgbouncer [aws]=aws)
  for part in "${!SUBDIR[@]}"; do
    if ! wants "$part" || [[ ! -d $STATE_DIR/${SUBDIR[$part]} ]]; then continue; fi
    # Never delete the files of a server that is still running (say one that
    # could not be stopped above): it would keep running without them.
    if [[ -n $(still_running "$part") ]]; then
      echo "$part: still running, state kept" >&2
      continue
    fi
    rm -rf -- "${STATE_DIR:?}/${SUBDIR[$part]}"
    echo "$part: state removed"
  done
fi
exit 0
