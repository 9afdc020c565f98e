#!/bin/sh
# Queue benchmark: claim+heartbeat+complete cycles/s with 1, 8 and 64 workers on SQLite and on a
# local PostgreSQL started for the run (tests/jobs/pg_fixture.sh). usage: bench/jobs/run.sh BUILD_DIR [SECONDS]
set -eu
build=${1:-build} secs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/jobs/bench_queue"
state=$(mktemp -d /tmp/fp-bench-XXXXXX)
trap '"$here/../../tests/jobs/pg_fixture.sh" stop "$state/pg" "$state/pg.url" >/dev/null; rm -rf "$state"' EXIT
"$here/../../tests/jobs/pg_fixture.sh" start "$state/pg" "$state/pg.url" >/dev/null
pg=$(cat "$state/pg.url")
for w in 1 8 64; do
  "$bin" "sqlite:$state/bench-$w.db" "$w" "$secs"
done
if [ -n "$pg" ]; then
  base=${pg%/*}
  for w in 1 8 64; do
    psql -q "$pg" -c "CREATE DATABASE bench_$w" >/dev/null
    "$bin" "$base/bench_$w" "$w" "$secs"
  done
fi
