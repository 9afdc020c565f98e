#!/bin/bash
# The matte task's GPU-machine script (called by scripts/gpu-check.sh as `matte.sh test` and
# `matte.sh bench`; runnable by hand on a built tree). Logs go to $OUT (or $FP_OUT, or ./gpu-out).
#   test : the CPU matte tests on this machine (tasks.matte, e2e.matte.*), then the CUDA backend:
#          `framepipe matte --backend cuda` on the small model and, when present, the full-size exports
#          (MATTE_MODELS, default /tmp/fp-models/rvm_*/model.onnx): alpha parity with --backend cpu
#          (FFV1 lossless, max difference in 8-bit code values, fp32 and fp16), frame count, large frames
#          (3840x2160, 5760x2880, 8192x4096: 8 frames each, peak GPU memory from nvidia-smi).
#          Full-size models also get the warm-up table and batched-vs-alone parity on CUDA
#          (tests/tasks/matte_parity, 1920x1080, fp32 and fp16) and `--chunks 4` host batch vs device path
#          (one model per chunk) end to end (every plane, 8-bit code values).
#   bench: bench/matte/run.sh (1080p and 4K H.264 -> VP9-alpha WebM and ProRes 4444, fps and stage
#          table, --chunks 4 batched, encode ceiling, Python baseline, peaks). Needs the full-size models.
#   long : bench/matte/long.sh: a 10-minute 4K input (a 10 s clip looped by stream copy), peak host RSS
#          and GPU memory sampled over the run, bounded by LONG_LIMIT seconds (default 400).
# Environment: FP_BUILD (build tree, default build-gpu), MATTE_MODELS (space-separated model paths).
# Exit status: non-zero if any step failed; each step ends with an "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${FP_BUILD:-build-gpu}
OUT=${OUT:-${FP_OUT:-$PWD/gpu-out}}
FP=$BUILD/framepipe
T=$OUT/matte-tmp
mkdir -p "$OUT" "$T"
steps=${*:-test bench}
rc=0
pass=0
fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); rc=1; }

models() {
  if [ -n "${MATTE_MODELS:-}" ]; then echo "$MATTE_MODELS"; return; fi
  ls /tmp/fp-models/rvm_*/model.onnx 2>/dev/null
}

# max |a - b| over two raw 8-bit files (python3 + numpy on the GPU machine)
maxdiff() {
  python3 -c "import numpy as n,sys;a=n.fromfile(sys.argv[1],n.uint8).astype(int);b=n.fromfile(sys.argv[2],n.uint8).astype(int);print(-1 if a.size!=b.size or a.size==0 else abs(a-b).max())" "$1" "$2"
}

gpu_mem_peak() { # run "$@" while sampling nvidia-smi; prints the peak MiB used
  local log=$T/smi.$$ pid peak
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$log" 2>/dev/null &
  pid=$!
  "$@"
  local r=$?
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  peak=$(sort -n "$log" | tail -1)
  echo "gpu-mem-peak-MiB ${peak:-?}"
  return $r
}

parity() { # model W H ratio-args...
  local m=$1 w=$2 h=$3; shift 3
  local in=$T/in_${w}x${h}.mkv
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=${w}x${h}:rate=25" -t 0.4 -c:v ffv1 -pix_fmt gbrp "$in" || { ko "input ${w}x${h}"; return; }
  "$FP" matte "$in" -o "$T/cpu.mkv" --model "$m" --backend cpu "$@" 2>"$T/cpu.log" || { ko "cpu run $m ${w}x${h}: $(tail -1 "$T/cpu.log")"; return; }
  for prec in fp32 fp16; do
    if ! gpu_mem_peak "$FP" matte "$in" -o "$T/gpu.mkv" --model "$m" --backend cuda --precision $prec "$@" 2>"$T/gpu.log"; then
      ko "cuda $prec run $m ${w}x${h}: $(tail -1 "$T/gpu.log")"; continue
    fi
    ffmpeg -nostdin -v error -y -i "$T/cpu.mkv" -vf alphaextract -f rawvideo -pix_fmt gray "$T/a.cpu"
    ffmpeg -nostdin -v error -y -i "$T/gpu.mkv" -vf alphaextract -f rawvideo -pix_fmt gray "$T/a.gpu"
    local d; d=$(maxdiff "$T/a.cpu" "$T/a.gpu")
    # fp32: the same maths in another order (cuDNN algorithms): within 2 code values;
    # fp16 storage/compute: within 8 code values (3 %) of the CPU's fp32.
    local tol=2; [ $prec = fp16 ] && tol=8
    echo "parity $(basename "$(dirname "$m")") ${w}x${h} $prec: max alpha difference $d code values (tol $tol)"
    if [ "$d" -ge 0 ] && [ "$d" -le $tol ]; then ok "parity $m ${w}x${h} $prec"; else ko "parity $m ${w}x${h} $prec ($d)"; fi
  done
}

large() { # model W H: 8 frames on CUDA within the memory budget (peak reported)
  local m=$1 w=$2 h=$3 in=$T/large_${2}x${3}.mkv
  # MJPEG: FFmpeg's own encoder (the static build may lack libx264), small even at 8192x4096
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=${w}x${h}:rate=25" -frames:v 8 -c:v mjpeg -q:v 4 "$in" || { ko "input ${w}x${h}"; return; }
  local t0=$SECONDS
  if gpu_mem_peak "$FP" matte "$in" -o "$T/large.mkv" --model "$m" --backend cuda -c:v ffv1 2>"$T/large.log"; then
    local n; n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/large.mkv")
    echo "large ${w}x${h}: $n frames in $((SECONDS - t0)) s"
    [ "$n" = 8 ] && ok "large ${w}x${h}" || ko "large ${w}x${h}: $n frames"
  else
    ko "large ${w}x${h}: $(tail -1 "$T/large.log")"
  fi
}

do_test() {
  echo "== matte CPU tests $(date -u +%H:%M:%S)"
  (cd "$BUILD" && ctest -R 'matte' --output-on-failure --timeout 300) >"$OUT/matte-ctest.log" 2>&1 && ok "ctest matte" || ko "ctest matte (see matte-ctest.log)"
  echo "== matte CUDA $(date -u +%H:%M:%S)"
  parity tests/models/rvm_mobilenetv3/model.onnx 96 72 --downsample-ratio 0.5
  for m in $(models); do
    parity "$m" 1920 1080
    for s in 3840x2160 5760x2880 8192x4096; do large "$m" "${s%x*}" "${s#*x}"; done
    # warm-up table and batched vs alone at float precision, CUDA (tolerances: fp32 1e-3, fp16 1e-2;
    # the warm-up rows are measurements for docs/matte.md, not checked)
    local pb=$BUILD/tests/tasks/matte_parity
    for prec in fp32 fp16; do
      local tol=1e-3; [ $prec = fp16 ] && tol=1e-2
      if [ -x "$pb" ] && "$pb" "$m" cuda 1920 1080 $prec --batch-tol $tol >"$OUT/matte-parity-$(basename "$(dirname "$m")")-$prec.log" 2>&1; then
        ok "matte_parity $m $prec"
      else
        ko "matte_parity $m $prec (see matte-parity-*.log)"
      fi
      grep -E "warm-up|batched|model" "$OUT/matte-parity-$(basename "$(dirname "$m")")-$prec.log"
    done
    # chunked: 4 chunks as the host-staged batch (FP_HOST_PATH=1: one model call per step, a state row
    # per chunk) vs the same chunk plan on the device path (a CUDA model's default: one model per chunk
    # on its own thread, frames on the GPU): every plane within 2 code values (fp16 compute); the device
    # run must report all 4 chunks on the device path
    ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 2 -c:v ffv1 "$T/ch.mkv"
    if FP_HOST_PATH=1 "$FP" matte "$T/ch.mkv" -o "$T/ch_out.mkv" --model "$m" --backend cuda --chunks 4 -c:v ffv1 2>"$T/ch.log" &&
       "$FP" matte "$T/ch.mkv" -o "$T/ch_dev.mkv" --model "$m" --backend cuda --chunks 4 -c:v ffv1 2>"$T/ch1.log"; then
      grep -E "auto-configuration|chunks|batch|device path" "$T/ch.log" "$T/ch1.log"
      ffmpeg -nostdin -v error -y -i "$T/ch_out.mkv" -f rawvideo "$T/a.b"
      ffmpeg -nostdin -v error -y -i "$T/ch_dev.mkv" -f rawvideo "$T/a.t"
      local d; d=$(maxdiff "$T/a.b" "$T/a.t")
      echo "chunks: host-staged batch vs device path per chunk $(basename "$(dirname "$m")"): max difference $d code values, every plane (tol 2)"
      if grep -q "batch 4: " "$T/ch.log" && grep -q "4 of 4 chunks on the device path" "$T/ch1.log"; then
        ok "chunked paths $m"
      else
        ko "chunked paths $m (expected batch 4 with FP_HOST_PATH=1, 4 device chunks without)"
      fi
      if [ "$d" -ge 0 ] && [ "$d" -le 2 ]; then ok "chunked device vs host $m"; else ko "chunked device vs host $m ($d)"; fi
      # the batch's device twin (opt-in): one model call over the 4 device rows per step
      if FP_MATTE_DEVICE_BATCH=1 "$FP" matte "$T/ch.mkv" -o "$T/ch_db.mkv" --model "$m" --backend cuda --chunks 4 -c:v ffv1 2>"$T/ch2.log"; then
        grep -E "chunks|batch|device" "$T/ch2.log"
        ffmpeg -nostdin -v error -y -i "$T/ch_db.mkv" -f rawvideo "$T/a.d"
        d=$(maxdiff "$T/a.b" "$T/a.d")
        echo "chunks: host-staged batch vs device batch $(basename "$(dirname "$m")"): max difference $d code values, every plane (tol 2)"
        if grep -q "batch 4: " "$T/ch2.log" && [ "$d" -ge 0 ] && [ "$d" -le 2 ]; then ok "chunked device batch $m"; else ko "chunked device batch $m ($d)"; fi
      else
        ko "chunked device batch $m: $(tail -1 "$T/ch2.log")"
      fi
    else
      ko "chunked $m: $(tail -1 "$T/ch.log") $(tail -1 "$T/ch1.log")"
    fi
  done
  echo "matte.sh test: $pass passed, $fail failed"
}

do_bench() {
  if [ -x bench/matte/run.sh ]; then
    bash bench/matte/run.sh "$FP" "$OUT" $(models) 2>&1 | tee "$OUT/matte-bench.log"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  else
    echo "matte.sh: bench/matte/run.sh missing"; rc=1
  fi
}

do_long() {
  local m; m=$(models | head -1)
  [ -n "$m" ] || { echo "matte.sh long: no full-size model (EXPORT_MODE=full scripts/gpu-check.sh export)"; rc=1; return; }
  bash bench/matte/long.sh "$FP" "$OUT" "$m" 2>&1 | tee "$OUT/matte-long.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
}

for s in $steps; do
  case $s in
    test) do_test ;;
    bench) do_bench ;;
    long) do_long ;;
    *) echo "usage: scripts/gpu/matte.sh [test] [bench] [long]"; exit 2 ;;
  esac
done
exit $rc
