# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this
# Shared settings and helpers for up.sh, down.sh and env.sh. Sourced, not run.
#
# Every port and the state directory can be overridden from the environment;
# the defaults are chosen away from the well-known ports (6379, 5432, 6432)
# so the local stack never collides with a distro service on the same host.

LOCALSTACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

STATE_DIR=${FLASHSALE_STATE_DIR:-/var/tmp/flashsale}
# Absolute, because it ends up in GOBIN, pidfiles and printed URLs.
[[ $STATE_DIR == /* ]] || STATE_DIR=$PWD/$STATE_DIR
REDIS_PORT=${REDIS_PORT:-16379}
# Accept "17001 17002 17003" as well as "17001,17002,17003".
REDIS_CLUSTER_PORTS=${REDIS_CLUSTER_PORTS:-17001 17002 17003}
REDIS_CLUSTER_PORTS=${REDIS_CLUSTER_PORTS//,/ }
# Each cluster node also listens on a cluster-bus port. Redis defaults it to
# port+10000 (27001-27003), a range other tools and tests like to use for
# their own Redis; port+100 (17101-17103) keeps the whole cluster in 17xxx.
REDIS_CLUSTER_BUS_OFFSET=${REDIS_CLUSTER_BUS_OFFSET:-100}
PG_PORT=${PG_PORT:-15432}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-16432}
KINESIS_PORT=${KINESIS_PORT:-14567}
DYNAMODB_PORT=${DYNAMODB_PORT:-14568}
AWS_PORT=${AWS_PORT:-4566}
EVENTS_STREAM=${EVENTS_STREAM:-flash-sale-events}
EVENTS_TABLE=${EVENTS_TABLE:-flash_sale_events}

# Debian 12 ships PostgreSQL 15; the distro's pg_wrapper is bypassed so the
# project cluster never depends on /etc/postgresql or pg_ctlcluster.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DATA=$STATE_DIR/pg/data

# Pinned so every machine builds the same emulator.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
RIE_BIN=$STATE_DIR/bin/aws-lambda-rie

# PostgreSQL and pgbouncer refuse to run as root, so as root they run as the
# distro's "postgres" user; as an ordinary user they simply run as that user.
if [[ $EUID -eq 0 ]]; then
  SERVICE_USER=postgres
else
  SERVICE_USER=$(id -un)
fi

die() {
  echo "localstack: $*" >&2
  exit 1
}

# as_owner DIR CMD...: runs CMD as the user that owns DIR (the PostgreSQL
# or pgbouncer directory), so a stack set up by one user is managed as that
# user, whoever runs the script: root switches with runuser, anyone else can
# only be themselves. It starts in / because the caller's directory (say
# /root/...) may not be readable by that user, which makes initdb and pg_ctl
# complain.
as_owner() {
  local owner
  owner=$(stat -c %U "$1")
  shift
  if [[ $EUID -eq 0 && $owner != root ]]; then
    (cd / && runuser -u "$owner" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Prints the PID stored in a pidfile if that process is alive and its command
# line contains the expected word; guards against a stale pidfile whose PID
# was reused by an unrelated process (we must never signal that one).
live_pid() {
  local pidfile=$1 expect=$2 pid cmdline
  [[ -r $pidfile && -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  pid=${pid%%[!0-9]*} # first number (postmaster.pid has more lines)
  [[ -n $pid ]] || return 1
  # The redirection of a vanished PID fails before tr runs: silence it too.
  cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
  [[ $cmdline == *"$expect"* ]] || return 1 # a zombie's cmdline is empty
  echo "$pid"
}

# True once PID has exited. A zombie counts as exited: daemons outlive the
# script that started them, so their parent is PID 1 (or a subreaper), which
# may take a while to reap them.
pid_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # skip "pid (comm) ", comm may contain spaces
  [[ ${stat%% *} == Z ]]
}

# True if something listens on 127.0.0.1:PORT (checked without connecting).
port_in_use() {
  command -v ss >/dev/null 2>&1 || return 1
  [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds or
# SECONDS have passed (wall clock, so a slow CMD cannot stretch the wait).
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
