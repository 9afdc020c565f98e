#!/bin/bash
# bench/gpu-session.sh — one bounded device call that builds framepipe and takes the session's key GPU
# numbers when device time allows only one call: each step runs under `timeout` within a global
# deadline (GPU_DEADLINE seconds from the start, default 560), most important first:
#   build; export the full-size RVM MobileNetV3; matte on 4K/5760x2880/8192x4096 frames (8 frames
#   each, CUDA); nn_bench + PyTorch side by side; matte 1080p bench (framepipe, --chunks 4, encode
#   ceiling, Python baseline); VP9-alpha pool scaling; NVDEC decode vs ffmpeg; the 4K memory run
#   (bench/matte/long.sh) for whatever time is left.
# Run on the GPU machine from the repository root with .gpu-deps carried; logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
T0=$SECONDS
DEADLINE=${GPU_DEADLINE:-560}
say() { echo "== $(date -u +%H:%M:%S) +$((SECONDS - T0))s $*" | tee -a "$OUT/session.txt"; }
left() { echo $((DEADLINE - (SECONDS - T0))); }
step() { # name budget_s cmd...
  local name=$1 budget=$2; shift 2
  local l; l=$(left)
  [ "$l" -gt 15 ] || { say "$name: skipped (no time left)"; return 1; }
  [ "$budget" -lt "$l" ] || budget=$l
  say "$name (up to ${budget}s)"
  timeout -s INT -k 10 "$budget" "$@" >"$OUT/$name.log" 2>&1
  local r=$?
  say "$name rc=$r"
  return $r
}
ROOT=$PWD
source <(sed -n '/^setup_env()/,/^}/p' scripts/gpu-check.sh)
setup_env
export FP_BUILD=$PWD/build-gpu FFMPEG=/tmp/ffmin/bin/ffmpeg
export OUT FP=$FP_BUILD/framepipe M=/tmp/fp-models/rvm_mobilenetv3/model.onnx
STEPS=${GPU_STEPS:-build export large nn matte vp9pool decode long}
want() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }

if want build; then step build 200 bash scripts/gpu-check.sh build || { tail -30 "$OUT/build.log"; exit 1; }; fi
mkdir -p /tmp/fp-models
want export && step export 120 python3 bench/models/export.py full /tmp/fp-models rvm_mobilenetv3
large() {
  for s in 3840x2160 5760x2880 8192x4096; do
    in=/tmp/large_$s.mkv
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=$s:rate=25" -frames:v 8 -c:v mjpeg -q:v 4 "$in"
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >/tmp/smi.$s &
    sp=$!
    /usr/bin/time -f "peak RSS %M KiB" "$FP" matte "$in" -o /tmp/large.mkv --model "$M" --backend cuda -c:v ffv1
    r=$?
    kill $sp; wait $sp 2>/dev/null
    n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 /tmp/large.mkv 2>/dev/null)
    echo "RESULT large $s: rc=$r frames=$n gpu_peak_MiB=$(sort -n /tmp/smi.$s | tail -1)"
    rm -f /tmp/large.mkv
  done
}
export -f large   # timeout runs programs, not shell functions
want large && step large 90 bash -c large
want nn && step nn 150 env NN_BENCH_MODELS=/tmp/fp-models/rvm_mobilenetv3/ bash scripts/gpu/nn.sh bench
cp "$OUT"/side_by_side.md "$OUT"/nn-side-by-side.md 2>/dev/null
matte1080() { # the 1080p rows of bench/matte/run.sh only (4K rows would not fit this call)
  SIZES_ONLY=1080 bash bench/matte/run.sh "$FP" "$OUT" "$M"
}
export -f matte1080
want matte && step matte 170 bash -c matte1080
want vp9pool && step vp9pool 110 env SIZE=1920x1080 SEG=12 BASEF=50 bash bench/media/bench_vp9_pool.sh "$FP" "$FFMPEG" "$OUT/vp9" 10 "1 4 8 16"
want decode && step decode 60 bash bench/media/bench_decode.sh "$FP" "$FFMPEG" "$OUT/decode" 10 4
# long.sh stops itself at LONG_LIMIT and still writes its table (an outer SIGINT would not)
want long && step long 400 env LONG_LIMIT=$(( $(left) - 45 )) bash bench/matte/long.sh "$FP" "$OUT" "$M"
say "done"
# $OUT returns 8 files: logs and tables only, no media
(cd "$OUT" && find . -type f \( -name "*.log" -o -name "*.md" -o -name "*.csv" -o -name "*.txt" -o -name "*.json*" -o -name "*.stages" \) ! -name session.txt -print0 | tar czf logs.tgz --null -T - && find . -mindepth 1 -maxdepth 1 ! -name logs.tgz ! -name session.txt -exec rm -rf {} +)
