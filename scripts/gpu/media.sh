#!/bin/bash
# GPU-side media checks and benchmarks, given a built tree (builds nothing). Called by the lead's
# scripts/gpu-check.sh on the GPU machine.
# Usage: scripts/gpu/media.sh test|bench [BUILD_DIR (default $FP_BUILD)] [FFMPEG_BIN_DIR]
#   test:  ctest -L gpu -R 'media|devpath' (NVDEC unit test, e2e nvdec case: bit-exact vs CPU decode,
#          gpu.test_devpath and gpu.test_matte_devpath: device path vs host path)
#   bench: bench/media/*.sh with the static FFmpeg (default /tmp/ffmin/bin) as the baseline
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?test|bench}
build=$(cd "${2:-${FP_BUILD:-build-gpu}}" && pwd)
ffbin=${3:-/tmp/ffmin/bin}
export PATH="$ffbin:$PATH"
[ -d /tmp/ffmin/lib ] && export LD_LIBRARY_PATH="/tmp/ffmin/lib:${LD_LIBRARY_PATH:-}"
case "$mode" in
test)
  # -V: the device-path tests print their measured differences and pinned-frame counts
  (cd "$build" && ctest -L gpu -R 'media|e2e\.media|devpath' -V)
  ;;
bench)
  out=$(mktemp -d /tmp/fp-bench-media.XXXXXX)
  bench/media/bench_decode.sh "$build/framepipe" "$ffbin/ffmpeg" "$out"
  bench/media/bench_vp9_pool.sh "$build/framepipe" "$ffbin/ffmpeg" "$out"
  bench/media/bench_memory.sh "$build/framepipe" "$ffbin/ffmpeg" "$out"
  # device path vs host path (key; matte when a full-size RVM export is in /tmp/fp-models)
  bench/media/bench_devpath.sh "$build/framepipe" "$ffbin/ffmpeg" "$out" 10 "$(ls /tmp/fp-models/rvm_mobilenetv3/model.onnx 2>/dev/null)"
  ;;
*) echo "usage: $0 test|bench BUILD_DIR [FFMPEG_BIN_DIR]" >&2; exit 2 ;;
esac
