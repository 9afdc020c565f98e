#!/bin/bash
# The ONNX runtime's CPU benchmark on the GPU machine (its 16 cores): `nn_cpu.sh bench` exports the
# benchmark configurations and times PyTorch CPU on them (bench/nn/cpu_torch.py), then times
# framepipe's CPU backend on the same ONNX files and on tests/models (bench/nn/cpu_bench.sh), at
# 1, 2 and 16 threads. Takes the built tree in build-gpu/ (FP_BUILD to change) and writes to $OUT:
# cpu_torch.jsonl, cpu_bench.jsonl, and the exported models under $OUT/cpu-models/.
# Exit status: non-zero if either side failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
export FP_BUILD=${FP_BUILD:-build-gpu}
OUT=${OUT:-${FP_OUT:-$PWD/gpu-out}}
mkdir -p "$OUT/cpu-models"
rc=0
case "${1:-bench}" in
bench)
  echo "== cpu_torch $(date -u +%H:%M:%S)"
  python3 bench/nn/cpu_torch.py "$OUT/cpu-models" 1 2 16 >"$OUT/cpu_torch.jsonl" 2>"$OUT/cpu_torch.err" || rc=1
  cat "$OUT/cpu_torch.jsonl"; tail -5 "$OUT/cpu_torch.err"
  echo "== cpu_bench $(date -u +%H:%M:%S)"
  NN_CPU_THREADS=1,2,16 bench/nn/cpu_bench.sh "$OUT"/cpu-models/*/ tests/models/*/ >"$OUT/cpu_bench.jsonl" 2>&1 || rc=1
  cat "$OUT/cpu_bench.jsonl"
  ;;
*) echo "usage: nn_cpu.sh bench" >&2; exit 2 ;;
esac
exit $rc
