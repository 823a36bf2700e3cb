#!/usr/bin/env bash
# Starts the Docker-free local stack on loopback, idempotently:
#
#   up.sh                      everything
#   up.sh redis postgres ...   only those parts
#
# Parts: redis, cluster, postgres, pgbouncer, aws, rie (always started in
# that order). A part that is already running is left alone, so a re-run is a
# fast no-op. Missing Debian packages are installed only when running as root;
# otherwise the script names them and exits non-zero.
#
# Prints one line per part on success; details go to logs in the state dir
# (${FLASHSALE_STATE_DIR:-/var/tmp/flashsale}). See README.md.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_PARTS=(redis cluster postgres pgbouncer aws rie)

usage() {
  echo "usage: $0 [${ALL_PARTS[*]}]" >&2
  exit 2
}

declare -A WANT=()
if [[ $# -eq 0 ]]; then
  for part in "${ALL_PARTS[@]}"; do WANT[$part]=1; done
else
  for arg in "$@"; do
    case $arg in
      redis | cluster | postgres | pgbouncer | aws | rie) WANT[$arg]=1 ;;
      -h | --help) usage ;;
      *) echo "$0: unknown part '$arg'" >&2; usage ;;
    esac
  done
fi
wants() { [[ -n ${WANT[$1]:-} ]]; }

PGBOUNCER_BIN=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

# ---------------------------------------------------------------------------
# Prerequisites: find what is missing for the selected parts, then install it
# with one apt-get run (root) or say exactly what to install (non-root).
# ---------------------------------------------------------------------------
ensure_prerequisites() {
  local -a pkgs=() problems=()
  if wants redis || wants cluster; then
    # redis-server pulls in redis-tools, which has redis-cli.
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null || pkgs+=(redis-server)
  fi
  if wants postgres; then
    [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/psql ]] || pkgs+=(postgresql)
  fi
  if wants pgbouncer; then
    [[ -x $PGBOUNCER_BIN ]] || pkgs+=(pgbouncer)
    # pg_isready is used to see that pgbouncer answers.
    [[ -x $PG_BIN/pg_isready ]] || wants postgres || pkgs+=(postgresql-client-15)
  fi
  if wants aws; then
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
  fi
  if wants rie && [[ ! -x $RIE_BIN ]] && ! command -v go >/dev/null; then
    # Debian 12's golang is far too old for this module; no apt fallback.
    problems+=("the Go toolchain (1.26 or newer) on PATH, to build $RIE_BIN")
  fi

  if ((${#problems[@]})); then
    die "missing: ${problems[*]}"
  fi
  ((${#pkgs[@]})) || return 0

  if [[ $EUID -ne 0 ]]; then
    {
      echo "localstack: missing Debian packages: ${pkgs[*]}"
      echo "  install them as root:  apt-get update && apt-get install -y ${pkgs[*]}"
      echo "  (or run this script as root, which installs them itself)"
    } >&2
    exit 1
  fi
  local log=$STATE_DIR/apt.log
  # policy-rc.d on this machine kind keeps the distro services from starting
  # on install; either way we never use their default ports.
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get install ${pkgs[*]} failed; full log in $log"
  fi
  PGBOUNCER_BIN=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  echo "apt: installed ${pkgs[*]}"
}

# Directory owned by the user PostgreSQL/pgbouncer run as, private to it.
# An existing one keeps its owner: that is who runs the service (as_owner).
service_dir() {
  [[ -d $1 ]] && return 0
  if [[ $EUID -eq 0 ]]; then
    install -d -m 0700 -o "$SERVICE_USER" -g "$(id -gn "$SERVICE_USER")" "$1"
  else
    install -d -m 0700 "$1"
  fi
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------
redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }

# start_redis_server DIR PORT BUS-PORT|- [extra redis-server args...]
start_redis_server() {
  local dir=$1 port=$2 bus=$3 p
  shift 3
  mkdir -p "$dir"
  if ! live_pid "$dir/redis.pid" redis-server >/dev/null; then
    rm -f "$dir/redis.pid"
    for p in "$port" "$bus"; do
      [[ $p == - ]] && continue
      port_in_use "$p" && die "redis: 127.0.0.1:$p is already in use by a process this stack did not start"
    done
    # No persistence: Redis is rebuilt from PostgreSQL, and a local stack
    # should start clean and fast.
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" \
      --save '' --appendonly no \
      --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" "$@" 9>&-
  fi
}

up_redis() {
  local dir=$STATE_DIR/redis
  start_redis_server "$dir" "$REDIS_PORT" -
  wait_until 10 redis_ping "$REDIS_PORT" ||
    { tail -n 5 "$dir/redis.log" >&2; die "redis: no answer on 127.0.0.1:$REDIS_PORT; see $dir/redis.log"; }
  echo "redis: up on 127.0.0.1:$REDIS_PORT"
}

cluster_field() { # PORT FIELD -> value from CLUSTER INFO
  redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

# Formed = every node knows all the others and all 16384 slots are assigned.
# nodes.conf in each node's dir keeps this across a down/up, so a restarted
# cluster re-forms by itself and is not created again.
cluster_formed() {
  local port n=$1
  shift
  for port in "$@"; do
    [[ $(cluster_field "$port" cluster_known_nodes) == "$n" ]] || return 1
    [[ $(cluster_field "$port" cluster_slots_assigned) == 16384 ]] || return 1
  done
}

cluster_ok() {
  local port
  for port in "$@"; do
    [[ $(cluster_field "$port" cluster_state) == ok ]] || return 1
  done
}

up_cluster() {
  local -a ports
  read -r -a ports <<<"$REDIS_CLUSTER_PORTS"
  ((${#ports[@]} >= 3)) || die "cluster: REDIS_CLUSTER_PORTS needs at least 3 ports (a cluster needs 3 masters), got '${REDIS_CLUSTER_PORTS}'"
  local port base=$STATE_DIR/redis-cluster
  for port in "${ports[@]}"; do
    start_redis_server "$base/$port" "$port" $((port + REDIS_CLUSTER_BUS_OFFSET)) \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --cluster-port $((port + REDIS_CLUSTER_BUS_OFFSET))
  done
  for port in "${ports[@]}"; do
    wait_until 10 redis_ping "$port" ||
      { tail -n 5 "$base/$port/redis.log" >&2; die "cluster: node 127.0.0.1:$port does not answer; see $base/$port/redis.log"; }
  done

  if ! cluster_formed "${#ports[@]}" "${ports[@]}"; then
    # Half-formed leftovers (a wiped node dir, a changed port list) make
    # --cluster create refuse; this is disposable local state, so reset it.
    for port in "${ports[@]}"; do
      redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null
      redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null
    done
    local -a addrs=()
    for port in "${ports[@]}"; do addrs+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
      >"$base/create.log" 2>&1 || { tail -n 20 "$base/create.log" >&2; die "cluster: create failed; see $base/create.log"; }
  fi
  wait_until 30 cluster_ok "${ports[@]}" || die "cluster: cluster_state is not ok after 30 s; see $base/*/redis.log"
  local IFS=,
  echo "cluster: up on 127.0.0.1:${ports[*]}"
}

# ---------------------------------------------------------------------------
# PostgreSQL: a project-owned cluster, not the distro's "main" one.
# ---------------------------------------------------------------------------
pg_ready() { "$PG_BIN/pg_isready" -q -t 2 -h 127.0.0.1 -p "$1" "${@:2}"; }

up_postgres() {
  local dir=$STATE_DIR/pg
  service_dir "$dir"
  as_owner "$dir" test -w "$dir" ||
    die "postgres: $(stat -c %U "$dir") cannot write $dir; every parent of FLASHSALE_STATE_DIR must be searchable by that user"

  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    rm -rf "$PG_DATA" # a half-done earlier initdb; initdb refuses a non-empty dir
    # trust auth: loopback only, throwaway data. No locale: byte order
    # collation, identical on every machine.
    as_owner "$dir" "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust --username=postgres \
      --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { tail -n 20 "$dir/initdb.log" >&2; die "postgres: initdb failed; see $dir/initdb.log"; }
  fi

  if ! as_owner "$dir" "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    port_in_use "$PG_PORT" && die "postgres: 127.0.0.1:$PG_PORT is already in use by a process this stack did not start"
    # Settings on the command line rather than in postgresql.conf, so a
    # changed PG_PORT takes effect on the next start. No Unix socket: TCP on
    # loopback only, and no dependency on /var/run/postgresql.
    # fsync and full_page_writes off: local data, and they only matter when
    # the OS crashes. synchronous_commit stays on (the default): with it off,
    # a killed postgres loses commits it had already acknowledged.
    as_owner "$dir" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$dir/postgres.log" -w -t 60 -s \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c full_page_writes=off -c max_connections=200" \
      start 9>&- || { tail -n 20 "$dir/postgres.log" >&2; die "postgres: start failed; see $dir/postgres.log"; }
  fi
  wait_until 30 pg_ready "$PG_PORT" -U postgres || die "postgres: not ready on 127.0.0.1:$PG_PORT; see $dir/postgres.log"

  # Role and databases, created only when absent (\gexec runs each generated
  # statement; none are generated on a re-run).
  PGSSLMODE=disable PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres >/dev/null <<'SQL' || die "postgres: creating role/databases failed"
SELECT 'CREATE ROLE flashsale LOGIN CREATEDB PASSWORD ''flashsale'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flashsale')
\gexec
SELECT format('CREATE DATABASE %I OWNER flashsale', d)
  FROM unnest(ARRAY['flashsale', 'flashsale_analytics', 'flashsale_test',
                    'flashsale_analytics_test']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
\gexec
SQL
  echo "postgres: up on 127.0.0.1:$PG_PORT (databases flashsale, flashsale_analytics, and their _test twins)"
}

# ---------------------------------------------------------------------------
# pgbouncer: transaction pooling in front of the PostgreSQL above, like RDS
# Proxy in front of Aurora.
# ---------------------------------------------------------------------------
write_pgbouncer_config() {
  local dir=$1
  # trust: pgbouncer does no password check, but the user must be listed in
  # auth_file. The password is what pgbouncer would send to PostgreSQL,
  # which trusts loopback anyway.
  cat >"$dir/userlist.txt" <<EOF
"flashsale" "flashsale"
EOF
  cat >"$dir/pgbouncer.ini" <<EOF
; Generated by localstack/up.sh; edits are overwritten on the next start.
[databases]
flashsale = host=127.0.0.1 port=$PG_PORT dbname=flashsale
flashsale_analytics = host=127.0.0.1 port=$PG_PORT dbname=flashsale_analytics
; any other database (e.g. one a test creates) goes to the same server
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
; lib/pq and JDBC send this; pgbouncer would otherwise refuse them
ignore_startup_parameters = extra_float_digits
; lets flashsale run SHOW POOLS/STATS on the "pgbouncer" admin database
stats_users = flashsale
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
  if [[ $EUID -eq 0 ]]; then
    chown "$(stat -c %U "$dir")" "$dir/userlist.txt" "$dir/pgbouncer.ini"
  fi
}

up_pgbouncer() {
  local dir=$STATE_DIR/pgbouncer
  service_dir "$dir"
  if ! live_pid "$dir/pgbouncer.pid" pgbouncer >/dev/null; then
    rm -f "$dir/pgbouncer.pid" # pgbouncer refuses to start over a pidfile whose PID is alive
    port_in_use "$PGBOUNCER_PORT" && die "pgbouncer: 127.0.0.1:$PGBOUNCER_PORT is already in use by a process this stack did not start"
    write_pgbouncer_config "$dir"
    as_owner "$dir" "$PGBOUNCER_BIN" -d -q "$dir/pgbouncer.ini" 9>&- ||
      { tail -n 20 "$dir/pgbouncer.log" >&2 || true; die "pgbouncer: start failed; see $dir/pgbouncer.log"; }
  fi
  # Asks pgbouncer's own admin database, so the answer does not depend on
  # PostgreSQL being up.
  wait_until 10 pg_ready "$PGBOUNCER_PORT" -U flashsale -d pgbouncer ||
    die "pgbouncer: not answering on 127.0.0.1:$PGBOUNCER_PORT; see $dir/pgbouncer.log"
  echo "pgbouncer: up on 127.0.0.1:$PGBOUNCER_PORT (pool_mode=transaction)"
}

# ---------------------------------------------------------------------------
# AWS emulators: kinesalite + dynalite + router in one node process.
# ---------------------------------------------------------------------------
ensure_node_modules() {
  local lock=$LOCALSTACK_DIR/package-lock.json marker=$LOCALSTACK_DIR/node_modules/.package-lock.json
  # npm writes the marker after a successful install; a newer lockfile
  # (say after a pull) means the tree is out of date.
  if [[ -f $LOCALSTACK_DIR/node_modules/kinesalite/package.json &&
    -f $LOCALSTACK_DIR/node_modules/dynalite/package.json &&
    -f $marker && ! $lock -nt $marker ]]; then
    return 0
  fi
  local log=$STATE_DIR/aws/npm.log
  # npm ci: exactly the committed lockfile, nothing resolved anew.
  (cd "$LOCALSTACK_DIR" && npm ci --no-audit --no-fund) >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "aws: npm ci failed; see $log"; }
}

up_aws() {
  local dir=$STATE_DIR/aws
  mkdir -p "$dir"
  ensure_node_modules
  local pidfile=$dir/emulators.pid
  if ! live_pid "$pidfile" emulators.js >/dev/null; then
    rm -f "$pidfile"
    local port
    for port in "$KINESIS_PORT" "$DYNAMODB_PORT" "$AWS_PORT"; do
      port_in_use "$port" && die "aws: 127.0.0.1:$port is already in use by a process this stack did not start (LocalStack?)"
    done
    # setsid + nohup: its own session, so it outlives this script and a
    # Ctrl-C in the terminal that ran make.
    FLASHSALE_STATE_DIR=$STATE_DIR KINESIS_PORT=$KINESIS_PORT DYNAMODB_PORT=$DYNAMODB_PORT \
      AWS_PORT=$AWS_PORT EMULATORS_PIDFILE=$pidfile \
      setsid nohup node "$LOCALSTACK_DIR/emulators.js" >>"$dir/emulators.log" 2>&1 </dev/null 9>&- &
    local child=$! i
    # emulators.js writes its pidfile only once all three ports listen.
    for ((i = 0; i < 150; i++)); do
      live_pid "$pidfile" emulators.js >/dev/null && break
      kill -0 "$child" 2>/dev/null || break
      sleep 0.1
    done
    live_pid "$pidfile" emulators.js >/dev/null ||
      { tail -n 20 "$dir/emulators.log" >&2; die "aws: emulators did not start; see $dir/emulators.log"; }
  fi
  # Emulators keep data in memory, so after a restart this re-creates the
  # stream and table; when they exist it is two describe calls.
  EVENTS_STREAM=$EVENTS_STREAM EVENTS_TABLE=$EVENTS_TABLE \
    node "$LOCALSTACK_DIR/resources.js" --endpoint "http://127.0.0.1:$AWS_PORT" ||
    die "aws: creating stream/table failed"
  echo "aws: up on http://127.0.0.1:$AWS_PORT (kinesis :$KINESIS_PORT, dynamodb :$DYNAMODB_PORT; stream $EVENTS_STREAM, table $EVENTS_TABLE)"
}

# ---------------------------------------------------------------------------
# Lambda runtime interface emulator (a binary, nothing to start).
# ---------------------------------------------------------------------------
up_rie() {
  if [[ ! -x $RIE_BIN ]]; then
    local log=$STATE_DIR/rie-install.log
    # Outside any module and workspace, so the repo's go.mod is not touched.
    (cd "$STATE_DIR" && GOBIN=$STATE_DIR/bin GOWORK=off go install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION") >"$log" 2>&1 ||
      { tail -n 20 "$log" >&2; die "rie: go install failed; see $log"; }
  fi
  echo "rie: $RIE_BIN"
}

# ---------------------------------------------------------------------------
main() {
  # World-searchable, so the postgres user can reach its own subdirectory.
  # An existing directory is left as it is (it might be /tmp or a home dir).
  [[ -d $STATE_DIR ]] || install -d -m 0755 "$STATE_DIR" || die "cannot create $STATE_DIR"
  # One up.sh at a time (make -j, two terminals): they would race on ports.
  # Every daemon is started with 9>&- so none of them inherits (and keeps
  # holding) this lock.
  exec 9>>"$STATE_DIR/.up.lock"
  flock -w 300 9 || die "another up.sh holds $STATE_DIR/.up.lock"

  ensure_prerequisites
  if [[ $EUID -eq 0 ]] && { wants postgres || wants pgbouncer; }; then
    runuser -u "$SERVICE_USER" -- test -x "$STATE_DIR" ||
      die "$SERVICE_USER cannot reach $STATE_DIR; pick a FLASHSALE_STATE_DIR whose parents are world-searchable"
  fi

  local part
  for part in "${ALL_PARTS[@]}"; do
    wants "$part" && "up_$part"
  done
  return 0
}

main
