#!/bin/sh
# Installs framepipe's build and test dependencies from Debian/Ubuntu packages.
# As root it runs apt-get; otherwise it prints the exact command to run and exits 1 if anything is
# missing. Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite needs)
set -eu
pkgs="build-essential cmake ninja-build pkg-config ffmpeg
 libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
 libffmpeg-nvenc-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libopenblas-dev
 libsqlite3-dev libpq-dev libcurl4-openssl-dev libmicrohttpd-dev libcjson-dev python3 python3-numpy python3-onnx"
if [ "${1:-}" = "--test" ]; then
  pkgs="$pkgs libonnx-testdata postgresql clang libclang-rt-14-dev"
  # node/npm (the S3 test server) may come from outside Debian (this machine kind ships npm 11): only
  # ask apt for them when no npm is on PATH.
  command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "install-deps: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "install-deps: missing packages; run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
