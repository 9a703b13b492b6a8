# shellcheck shell=bash
# Makes sure NATS (with JetStream), PostgreSQL and Redis answer on their URLs. Whatever does not
# answer is started from the machine's binaries; binaries that are missing are installed with
# apt-get when we run as root, otherwise the user is told exactly what to install.
DBPLANE_NATS_URL=${DBPLANE_NATS_URL:-nats://127.0.0.1:4222}
DBPLANE_PG_URL=${DBPLANE_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DBPLANE_REDIS_URL=${DBPLANE_REDIS_URL:-redis://127.0.0.1:6379}
export DBPLANE_NATS_URL DBPLANE_PG_URL DBPLANE_REDIS_URL
DBPLANE_DATA=${DBPLANE_DATA:-$DBPLANE_ROOT/.data}

# host_port URL DEFAULT_PORT -> "host port" (credentials and path stripped)
host_port() {
  local rest=${1#*://}
  rest=${rest##*@}
  rest=${rest%%/*}
  local host=${rest%%:*} port=${rest##*:}
  [ "$port" = "$rest" ] && port=$2
  echo "$host $port"
}

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_reachable() {
  local i
  for i in $(seq 1 60); do reachable "$1" "$2" && return 0; sleep 0.5; done
  return 1
}

is_local() { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ] || [ "$1" = ::1 ]; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    die "missing: $*. Install it with: sudo apt-get install -y $*"
  fi
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; } \
    || die "apt-get install $* failed"
}

ensure_nats() {
  read -r host port < <(host_port "$DBPLANE_NATS_URL" 4222)
  reachable "$host" "$port" && return 0
  is_local "$host" || die "NATS at $host:$port does not answer (DBPLANE_NATS_URL)"
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server
  local bin; bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  mkdir -p "$DBPLANE_DATA/nats"
  log "starting nats-server with JetStream on $host:$port (store $DBPLANE_DATA/nats)"
  nohup "$bin" -a "$host" -p "$port" -js -sd "$DBPLANE_DATA/nats" >"$DBPLANE_DATA/nats.log" 2>&1 &
  wait_reachable "$host" "$port" || die "nats-server did not start; see $DBPLANE_DATA/nats.log"
}

ensure_redis() {
  read -r host port < <(host_port "$DBPLANE_REDIS_URL" 6379)
  reachable "$host" "$port" && return 0
  is_local "$host" || die "Redis at $host:$port does not answer (DBPLANE_REDIS_URL)"
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting redis-server on $host:$port"
  redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
    --dir /tmp --logfile "$DBPLANE_DATA/redis.log" >&2
  wait_reachable "$host" "$port" || die "redis-server did not start; see $DBPLANE_DATA/redis.log"
}

pg_can_query() { psql "$DBPLANE_PG_URL" -Atqc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  read -r host port < <(host_port "$DBPLANE_PG_URL" 5432)
  if reachable "$host" "$port"; then
    command -v psql >/dev/null && ! pg_can_query && log "warning: PostgreSQL answers on $host:$port but refuses $DBPLANE_PG_URL"
    return 0
  fi
  is_local "$host" || die "PostgreSQL at $host:$port does not answer (DBPLANE_PG_URL)"
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  local cluster
  cluster=$(pg_lsclusters -h 2>/dev/null | awk -v p="$port" '$3 == p { print $1 " " $2; exit }')
  [ -n "$cluster" ] || die "no PostgreSQL cluster on port $port; create one with: pg_createcluster --start -p $port 15 main"
  log "starting PostgreSQL cluster $cluster"
  # shellcheck disable=SC2086
  pg_ctlcluster --skip-systemctl-redirect $cluster start >&2 || die "pg_ctlcluster $cluster start failed"
  wait_reachable "$host" "$port" || die "PostgreSQL did not start"
  if ! pg_can_query && [ "$(id -u)" = 0 ]; then
    # A fresh Debian cluster asks for passwords on 127.0.0.1. The tests and the dev stack log in
    # over TCP as `postgres` and as roles they create without passwords (router, pgwire and
    # reshard tests: random names, in random databases), so no narrower rule than every user on
    # loopback serves them. It is not narrowed by OS user (TCP trust cannot see one): every local
    # account of this machine can then log in as the superuser. Only on a cluster this script
    # had to start itself, only as root, and marked so it can be taken out again.
    local hba; hba=$(runuser -u postgres -- psql -Atqc 'show hba_file')
    log "trusting loopback connections in $hba for every user (local development only; any local account can log in as postgres)"
    log "to undo: sed -i '/dbplane-dev-trust/d' $hba && runuser -u postgres -- psql -c 'select pg_reload_conf()'"
    sed -i '1i host all all 127.0.0.1/32 trust # dbplane-dev-trust: added by scripts/lib/services.sh, local development only\nhost all all ::1/128 trust # dbplane-dev-trust' "$hba"
    runuser -u postgres -- psql -qc 'select pg_reload_conf()' >/dev/null
  fi
  pg_can_query || die "PostgreSQL answers but refuses $DBPLANE_PG_URL; set DBPLANE_PG_URL"
}

# promtool (Debian's prometheus package) checks the alert rules and every service's /metrics.
ensure_promtool() {
  command -v promtool >/dev/null && return 0
  apt_install --no-install-recommends prometheus
  # The package starts a Prometheus server where systemd runs; the tests only need promtool.
  systemctl disable --now prometheus >/dev/null 2>&1 || true
}

# Debian's python3-psycopg2: the pgwire tests drive the wire server with it, through /usr/bin/python3.
ensure_psycopg2() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import psycopg2' 2>/dev/null && return 0
  apt_install python3-psycopg2
}

# Debian's JDBC driver and a headless JRE: the router's JDBC client fixture runs as
# `java -cp /usr/share/java/postgresql.jar JdbcClient.java`. Debian's JRE runtime image (the
# `lib/modules` of openjdk-17-jre-headless) holds jdk.compiler, so the source launcher works
# without a JDK.
ensure_jdbc() {
  [ -f /usr/share/java/postgresql.jar ] && command -v java >/dev/null \
    && java --list-modules 2>/dev/null | grep -q '^jdk.compiler@' && return 0
  apt_install --no-install-recommends libpostgresql-jdbc-java default-jre-headless
}

# PgBouncer (Debian's package, 1.18 on bookworm): the router benchmark's baseline. The bench
# starts its own pgbouncer with its own ini; the package's service is not used (and not started
# where policy-rc.d forbids it).
ensure_pgbouncer() {
  { command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; } && return 0
  apt_install --no-install-recommends pgbouncer
}

# Debian's chromium: the console's browser test drives it with playwright-core, which never
# downloads a browser of its own (executablePath /usr/bin/chromium).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  apt_install --no-install-recommends chromium
}

ensure_services() {
  mkdir -p "$DBPLANE_DATA"
  ensure_nats
  ensure_postgres
  ensure_redis
}
