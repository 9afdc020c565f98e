#!/bin/bash
# Colour kernels on the GPU machine (called by scripts/gpu-check.sh after its build):
#   test  — the CUDA twins against the CPU reference (tests/gpu/test_color_cuda)
#   bench — bench/color/bench_color: fused preprocess/postprocess at 1080p and 4K, GB/s
# Uses the build in $FP_BUILD (default build-gpu). Writes nothing outside stdout.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FP_BUILD:-build-gpu}
case "${1:-test}" in
  test)
    "$BUILD/tests/gpu/test_color_cuda"
    ;;
  bench)
    "$BUILD/bench/color/bench_color" "${BENCH_ITERS:-200}"
    ;;
  *)
    echo "usage: $0 test|bench" >&2
    exit 2
    ;;
esac
