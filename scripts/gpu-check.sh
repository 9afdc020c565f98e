#!/bin/bash
# The one GPU script: runs ON THE GPU MACHINE (H100, Ubuntu 24.04, CUDA 13, no FFmpeg, no network).
# Unpacks .gpu-deps (see scripts/fetch-gpu-deps.sh) under /tmp, builds framepipe with CUDA (sm_90) and
# the static FFmpeg, runs the GPU test suite (ctest -L gpu), each area's GPU script (scripts/gpu/*.sh)
# and the benchmarks, and writes logs and result tables under $OUT (or ./gpu-out).
# Usage: scripts/gpu-check.sh [build|test|bench|export|all]...   (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
export FP_ROOT=$ROOT FP_OUT=$OUT
steps=${*:-all}
log() { echo "== gpu-check: $*" | tee -a "$OUT/summary.txt"; }

setup_env() {
  if [ ! -d /tmp/ffmin ]; then tar xJf .gpu-deps/ffmpeg-device.tar.xz -C /tmp; fi
  mkdir -p /tmp/devroot/.unpacked
  for d in .gpu-deps/debs/*.deb; do   # each package once per machine
    m=/tmp/devroot/.unpacked/$(basename "$d")
    [ -f "$m" ] || { dpkg -x "$d" /tmp/devroot && touch "$m"; }
  done
  # Debian's .pc files name /usr (prefix=/usr, some an absolute includedir): point them at the
  # unpacked tree. Idempotent: rewritten paths no longer match.
  find /tmp/devroot -name '*.pc' -exec sed -i -e 's#^prefix=/usr$#prefix=/tmp/devroot/usr#' -e 's#=/usr/#=/tmp/devroot/usr/#g' {} +
  export PKG_CONFIG_PATH=/tmp/ffmin/lib/pkgconfig:/tmp/devroot/usr/lib/x86_64-linux-gnu/pkgconfig:/tmp/devroot/usr/share/pkgconfig
  export LD_LIBRARY_PATH=/tmp/ffmin/lib:/tmp/devroot/usr/lib/x86_64-linux-gnu:/tmp/devroot/usr/lib/x86_64-linux-gnu/openblas-pthread:${LD_LIBRARY_PATH:-}
  export PATH=/tmp/ffmin/bin:/tmp/devroot/usr/bin:/usr/local/cuda/bin:$PATH
  export CMAKE_PREFIX_PATH=/tmp/devroot/usr
  export CPATH=/tmp/devroot/usr/include:/tmp/devroot/usr/include/x86_64-linux-gnu/openblas-pthread:${CPATH:-}
  export LIBRARY_PATH=/tmp/devroot/usr/lib/x86_64-linux-gnu:/tmp/devroot/usr/lib/x86_64-linux-gnu/openblas-pthread:${LIBRARY_PATH:-}
  export FP_BUILD=$ROOT/build-gpu
}

do_build() {
  log "build $(date -u +%H:%M:%S)"
  rm -f build-gpu/CMakeCache.txt   # pkg-config results are cached; the carried tree may move
  # The jobs module (SQLite queue, local --chunks; PostgreSQL/S3/serve only where they load, see
  # docs/jobs.md) needs the carried libsqlite3-0 beside libsqlite3-dev: older .gpu-deps lack it.
  local jobs=ON
  if ! ls .gpu-deps/debs/libsqlite3-0_*.deb >/dev/null 2>&1; then
    jobs=OFF; log "jobs module left out: .gpu-deps has no libsqlite3-0 (run scripts/fetch-gpu-deps.sh)"
  fi
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DFP_CUDA=ON -DFP_FFMPEG_STATIC=ON -DFP_JOBS=$jobs \
    -DFP_ONNX_PROTO=/tmp/devroot/usr/include/onnx/onnx.proto \
    -DFP_ONNX_TESTDATA=/tmp/devroot/usr/share/libonnx-testdata/data \
    "-DCMAKE_BUILD_RPATH=/tmp/devroot/usr/lib/x86_64-linux-gnu;/tmp/ffmin/lib" >"$OUT/build.log" 2>&1 &&
  cmake --build build-gpu -j "$(nproc)" -- -k 0 >>"$OUT/build.log" 2>&1
  local rc=$?
  log "build rc=$rc :: $(grep -E '^-- jobs:' "$OUT/build.log" | tr '\n' ' ')"; [ $rc = 0 ] || tail -40 "$OUT/build.log"
  return $rc
}

do_test() {
  log "test $(date -u +%H:%M:%S)"
  (cd build-gpu && ctest -L gpu --output-on-failure --timeout 300) >"$OUT/ctest-gpu.log" 2>&1
  log "ctest -L gpu rc=$? :: $(grep -E 'tests passed|tests failed' "$OUT/ctest-gpu.log" | tail -1)"
  for s in scripts/gpu/*.sh; do
    [ -f "$s" ] || continue
    log "run $s"
    timeout 900 bash "$s" test >"$OUT/$(basename "$s" .sh)-test.log" 2>&1
    log "$s test rc=$? :: $(grep -E '[0-9]+ passed, [0-9]+ failed' "$OUT/$(basename "$s" .sh)-test.log" | tail -3 | tr '\n' ' ')"
  done
}

do_bench() {
  log "bench $(date -u +%H:%M:%S)"
  for s in scripts/gpu/*.sh; do
    [ -f "$s" ] || continue
    timeout 1200 bash "$s" bench >"$OUT/$(basename "$s" .sh)-bench.log" 2>&1
    log "$s bench rc=$?"; tail -30 "$OUT/$(basename "$s" .sh)-bench.log"
  done
}

do_export() {
  log "export $(date -u +%H:%M:%S)"
  # tiny -> /tmp/fp-tiny (packed into $OUT/tiny_models.tgz for tests/models); full -> /tmp/fp-models
  # (where scripts/gpu/*.sh look for the full-size models).
  local mode=${EXPORT_MODE:-tiny} dir=/tmp/fp-models
  [ "$mode" = tiny ] && dir=/tmp/fp-tiny
  mkdir -p "$dir"
  python3 bench/models/export.py "$mode" "$dir" ${EXPORT_ONLY:-} >"$OUT/export-$mode.log" 2>&1
  log "export $mode rc=$? :: $(grep -E '^exported|FAILED' "$OUT/export-$mode.log" | tr '\n' ';')"
  [ "$mode" = tiny ] && tar czf "$OUT/tiny_models.tgz" -C "$dir" .
  return 0
}

# $OUT brings back at most 8 files: logs are packed into logs.tgz at the end (summary.txt stays).
pack() {
  (cd "$OUT" || exit
   # big logs keep their head and tail; other big files (videos) are listed, not sent
   for f in $(find . -maxdepth 3 -type f -size +2M); do
     case $f in
       *.log|*.txt) { head -300 "$f"; echo "[... cut ...]"; tail -3000 "$f"; } >"$f.cut" && mv "$f.cut" "$f" ;;
       ./tiny_models.tgz) ;;
       *) ls -la "$f" >>big-files-not-sent.txt; rm -f "$f" ;;
     esac
   done
   files=$(ls -A | grep -vxE 'summary.txt|tiny_models.tgz|logs.tgz')
   # shellcheck disable=SC2086
   [ -n "$files" ] && tar czf logs.tgz --remove-files $files)
}
trap pack EXIT

setup_env
for s in $steps; do
  case $s in
    build) do_build ;;
    test) do_test ;;
    bench) do_bench ;;
    export) do_export ;;
    all) do_build && do_test; do_bench ;;
    *) echo "unknown step $s"; exit 2 ;;
  esac
done
cat "$OUT/summary.txt"
