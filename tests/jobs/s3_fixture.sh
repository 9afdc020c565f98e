#!/bin/sh
# ctest fixture: start (or stop) an S3-compatible server that verifies SigV4 signatures.
# usage: s3_fixture.sh start|stop STATE_DIR ENDPOINT_FILE
# The npm package @20minutes/s3rver is installed once into $FP_NPM_CACHE (default
# ~/.cache/framepipe-npm) with npm. Without node/npm, or when the install fails (no network), the
# endpoint file stays empty and the S3 tests report themselves skipped.
set -eu
cmd=$1 state=$2 epfile=$3
here=$(cd "$(dirname "$0")" && pwd)
cache=${FP_NPM_CACHE:-${HOME:-/tmp}/.cache/framepipe-npm}
mkdir -p "$state"
stop() {
  if [ -f "$state/pid" ]; then
    kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -f "$state/pid"
  fi
  rm -rf "$state/data"
}
case "$cmd" in
start)
  : > "$epfile"
  stop
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "s3_fixture: node/npm missing; S3 tests will be skipped"; exit 0
  fi
  if [ ! -d "$cache/node_modules/@20minutes/s3rver" ]; then
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-audit --no-fund --loglevel=error @20minutes/s3rver@5.0.0 >"$state/npm.log" 2>&1 || {
      echo "s3_fixture: npm install failed (see $state/npm.log); S3 tests will be skipped"; exit 0; }
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$state/data"
  NODE_PATH="$cache/node_modules" nohup node "$here/s3_server.js" "$port" "$state/data" >"$state/server.log" 2>&1 &
  echo $! > "$state/pid"
  i=0
  until grep -q listening "$state/server.log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then echo "s3_fixture: server did not start:"; cat "$state/server.log"; exit 1; fi
    sleep 0.1
  done
  echo "http://127.0.0.1:$port" > "$epfile"
  echo "s3_fixture: S3 server on 127.0.0.1:$port"
  ;;
stop)
  stop
  : > "$epfile"
  ;;
esac
