#!/bin/sh
# ctest fixture: start (or stop) a throw-away PostgreSQL 15 server for the job tests.
# usage: pg_fixture.sh start|stop STATE_DIR URL_FILE
# start: initdb in a temp directory (as user postgres when run as root: initdb refuses root), listen on
# a free loopback port with the unix socket in the same directory, trust auth, fsync off (tests only),
# then write postgres://postgres@127.0.0.1:PORT/postgres to URL_FILE. Without PostgreSQL installed it
# writes an empty URL_FILE and the PostgreSQL tests report themselves skipped.
set -eu
cmd=$1 state=$2 urlfile=$3
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
mkdir -p "$state"

stop() {
  if [ -f "$state/datadir" ]; then
    d=$(cat "$state/datadir")
    if [ -d "$d/data" ]; then
      as_pg "$bindir/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$d"
    rm -f "$state/datadir"
  fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  : > "$urlfile"
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "pg_fixture: PostgreSQL not installed; PostgreSQL tests will be skipped"
    exit 0
  fi
  stop
  d=$(mktemp -d /tmp/fp-pg-XXXXXX)
  echo "$d" > "$state/datadir"
  [ "$(id -u)" = 0 ] && chown postgres "$d"
  as_pg "$bindir/initdb" -D "$d/data" -U postgres --auth=trust -E UTF8 >"$d/initdb.log" 2>&1 || {
    cat "$d/initdb.log"; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # in postgresql.conf, not on the command line, so a restart comes back on the same port
  cat >> "$d/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$d'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
  as_pg "$bindir/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 30 start >/dev/null || {
    cat "$d/server.log"; exit 1; }
  echo "$port" > "$state/port"
  echo "postgres://postgres@127.0.0.1:$port/postgres" > "$urlfile"
  echo "pg_fixture: PostgreSQL on 127.0.0.1:$port (data in $d)"
  ;;
stop)
  stop
  : > "$urlfile"
  ;;
restart)
  # used by the database-fault test: an immediate stop (like a crash) and a start on the same port
  d=$(cat "$state/datadir")
  as_pg "$bindir/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null
  sleep "${4:-1}"
  as_pg "$bindir/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 30 start >/dev/null
  ;;
esac
