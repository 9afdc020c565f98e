#!/bin/bash
# The CUDA backend's GPU-machine script (called by scripts/gpu-check.sh as `nn.sh test` and
# `nn.sh bench`; runnable by hand on a built tree). Writes logs to $OUT (or $FP_OUT, or ./gpu-out).
#   test : tests/gpu/backend_ops (every CUDA op vs the CPU reference, fp32/fp16/bf16, guards, graphs),
#          then the same suite under compute-sanitizer memcheck (fp16 pass; NN_MEMCHECK_PRECS for more).
#   bench: nn_bench's machine limits, then every model dir given in NN_BENCH_MODELS (default: the
#          full-size exports in /tmp/fp-models if present, else the tiny ones in tests/models): fp32 and
#          fp16 (float16 storage, fp16 I/O), batch 1 and 8, graph off/on; then PyTorch's side
#          (bench/models/pytorch_bench.py, when torch imports) and one markdown table of both
#          (bench/nn/side_by_side.py -> $OUT/side_by_side.md). NN_BENCH_ARGS="... --profile 3" adds
#          per-node GPU time (top nodes, time per op type) after each graph-off row.
# Environment: FP_BUILD (build tree, default build), NN_BENCH_ARGS (nn_bench options, default
# "--iters 20 --warmup 3"), NN_BENCH_MODELS (model dirs), NN_TORCH=0 (skip PyTorch), NN_TORCH_TIMEOUT,
# NN_MEMCHECK_PRECS, NN_MEMCHECK_TIMEOUT.
# Exit status: non-zero if any step failed. Each step's last line is its "N passed, N failed" summary.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FP_BUILD:-build}
OUT=${OUT:-${FP_OUT:-$PWD/gpu-out}}
mkdir -p "$OUT"
SAN=/usr/local/cuda/bin/compute-sanitizer
steps=${*:-test bench}
rc=0

do_test() {
  local bin=$BUILD/tests/gpu/backend_ops
  if [ ! -x "$bin" ]; then echo "nn.sh: $bin not built (configure with CUDA)"; return 1; fi
  echo "== backend_ops $(date -u +%H:%M:%S)"
  "$bin" >"$OUT/backend_ops.log" 2>&1
  local r=$?
  grep -E '^(FAIL|SKIP)' "$OUT/backend_ops.log" | head -60
  tail -1 "$OUT/backend_ops.log"
  [ $r = 0 ] || rc=1
  if [ -x "$SAN" ]; then
    # One precision by default: gpu-check.sh gives this script 900 s in all, and memcheck slows cuDNN's
    # algorithm search a lot. NN_MEMCHECK_PRECS="fp16 fp32 bf16" runs more by hand.
    for p in ${NN_MEMCHECK_PRECS:-fp16}; do
      echo "== compute-sanitizer memcheck backend_ops --prec $p $(date -u +%H:%M:%S)"
      timeout "${NN_MEMCHECK_TIMEOUT:-600}" "$SAN" --tool memcheck --leak-check full --error-exitcode 99 "$bin" --prec "$p" \
        >"$OUT/backend_ops-memcheck-$p.log" 2>&1
      r=$?
      grep -E 'ERROR SUMMARY|LEAK SUMMARY' "$OUT/backend_ops-memcheck-$p.log" | tail -2
      echo "memcheck ($p): $( [ $r = 0 ] && echo '1 passed, 0 failed' || echo "0 passed, 1 failed (rc $r)")"
      [ $r = 0 ] || rc=1
    done
  else
    echo "nn.sh: $SAN not found: memcheck skipped"
  fi
}

do_bench() {
  local bin=$BUILD/bench/nn/nn_bench
  if [ ! -x "$bin" ]; then echo "nn.sh: $bin not built"; return 1; fi
  local models=${NN_BENCH_MODELS:-}
  if [ -z "$models" ]; then
    if [ -d /tmp/fp-models ]; then models=$(ls -d /tmp/fp-models/*/ 2>/dev/null); else models=$(ls -d tests/models/*/); fi
  fi
  echo "== nn_bench $(date -u +%H:%M:%S): $models"
  # shellcheck disable=SC2086
  # 20 timed runs per row keep the whole sweep inside gpu-check's 1200 s even with full-size
  # BasicVSR++ (about 1.5 s a run); rows are printed as they finish, so a timeout keeps the rest.
  "$bin" ${NN_BENCH_ARGS:---iters 20 --warmup 3} $models 2>&1 | tee "$OUT/nn_bench.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  if [ "${NN_TORCH:-1}" = 1 ] && python3 -c 'import torch' 2>/dev/null; then
    echo "== pytorch_bench $(date -u +%H:%M:%S)"
    timeout "${NN_TORCH_TIMEOUT:-600}" python3 bench/models/pytorch_bench.py >"$OUT/pytorch_bench.jsonl" \
      2>"$OUT/pytorch_bench.err" || rc=1
    cat "$OUT/pytorch_bench.jsonl"
  else
    echo "nn.sh: PyTorch not importable (or NN_TORCH=0): framepipe rows only"
  fi
  echo "== side by side $(date -u +%H:%M:%S)"
  python3 bench/nn/side_by_side.py "$OUT/nn_bench.log" "$OUT/pytorch_bench.jsonl" | tee "$OUT/side_by_side.md"
}

for s in $steps; do
  case $s in
    test) do_test ;;
    bench) do_bench ;;
    *) echo "usage: scripts/gpu/nn.sh [test] [bench]"; exit 2 ;;
  esac
done
exit $rc
