#!/bin/bash
# bench/nn/gpu_perf.sh — one GPU-machine pass for the CUDA performance work (not part of gpu-check.sh's
# sweep): builds only what it needs (runtime, gpu test_nn_models, backend_ops, nn_bench), runs the model
# parity checks (fp32 vs reference, fused vs unfused, fp16 PSNR), the whole backend_ops suite, then
# exports the full-size RVM models and benches them with per-node profiles.
# Environment: OUT (logs), PERF_MODELS (export.py names, default "rvm_mobilenetv3"), PERF_BENCH_ARGS.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
T0=$(date +%s)
t() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
ROOT=$PWD
# shellcheck disable=SC1090
source <(sed -n '/^setup_env()/,/^}/p' scripts/gpu-check.sh)
setup_env
models=${PERF_MODELS:-rvm_mobilenetv3 rvm_resnet50}
mkdir -p /tmp/fp-models
(python3 bench/models/export.py full /tmp/fp-models $models >"$OUT/export.log" 2>&1; echo "export rc=$?" >>"$OUT/export.log") &
exp=$!
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DFP_CUDA=ON -DFP_FFMPEG_STATIC=ON -DFP_JOBS=OFF \
  -DFP_ONNX_PROTO=/tmp/devroot/usr/include/onnx/onnx.proto \
  -DFP_ONNX_TESTDATA=/tmp/devroot/usr/share/libonnx-testdata/data \
  "-DCMAKE_BUILD_RPATH=/tmp/devroot/usr/lib/x86_64-linux-gnu;/tmp/ffmin/lib" >"$OUT/build.log" 2>&1 &&
cmake --build build-gpu -j "$(nproc)" --target test_nn_models backend_ops nn_bench >>"$OUT/build.log" 2>&1
rc=$?
t "build rc=$rc"
[ $rc = 0 ] || { tail -40 "$OUT/build.log"; exit 1; }
timeout 150 build-gpu/tests/gpu/test_nn_models >"$OUT/models.log" 2>&1
t "test_nn_models rc=$?"
grep -E '^(FAIL|SKIP)|fp16 output|unfused output' "$OUT/models.log" | head -40
tail -1 "$OUT/models.log"
timeout 240 build-gpu/tests/gpu/backend_ops >"$OUT/backend_ops.log" 2>&1
t "backend_ops rc=$? :: $(grep -E '^FAIL' "$OUT/backend_ops.log" | head -8) $(tail -1 "$OUT/backend_ops.log")"
wait $exp
t "$(tail -3 "$OUT/export.log" | tr '\n' ' ')"
for m in $models; do
  [ -f /tmp/fp-models/$m/model.onnx ] || continue
  # shellcheck disable=SC2086
  timeout ${PERF_BENCH_TIMEOUT:-150} build-gpu/bench/nn/nn_bench ${PERF_BENCH_ARGS:---iters 20 --warmup 3 --profile 5} \
    /tmp/fp-models/$m >"$OUT/bench-$m.log" 2>&1
  t "nn_bench $m rc=$?"
  grep -v nn_bench_profile "$OUT/bench-$m.log" | sed 's/"model":"[^"]*",//' | cut -c1-400
done
t done
