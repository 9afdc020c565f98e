#!/bin/bash
# framepipe's CPU backend on whole models: ms per run (median and min of NN_CPU_ITERS runs after a
# warm-up that builds the plan) at each thread count, via bench/nn/nn_cpu_bench.
# Usage: bench/nn/cpu_bench.sh [MODEL_DIR...]   (default: every tests/models/*/ with model.onnx)
# Environment: FP_BUILD (build tree, default build), NN_CPU_THREADS (default "1,2"),
# NN_CPU_ITERS (default 20). Prints the machine (cores, load average) first: on the shared 2-core dev
# machine the load of other jobs changes the numbers, so they are quoted with it.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FP_BUILD:-build}
BIN=$BUILD/bench/nn/nn_cpu_bench
[ -x "$BIN" ] || { echo "cpu_bench.sh: $BIN not built (cmake --build $BUILD --target nn_cpu_bench)" >&2; exit 1; }
if [ $# -eq 0 ]; then
  set -- $(for d in tests/models/*/; do [ -f "$d/model.onnx" ] && echo "${d%/}"; done)
fi
echo "cpu_bench: cores $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" --threads "${NN_CPU_THREADS:-1,2}" --iters "${NN_CPU_ITERS:-20}" "$@"
echo "cpu_bench: loadavg after $(cut -d' ' -f1-3 /proc/loadavg)"
