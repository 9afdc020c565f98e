#!/bin/bash
# bench/matte/run.sh FRAMEPIPE OUTDIR MODEL.onnx... — the matte benchmark (GPU machine; issue 6):
#   inputs : 1080p (10 s) and 4K (5 s) H.264 at 25 fps made with ffmpeg (libx264, else h264_nvenc)
#   rows   : per model x input x output (VP9-alpha .webm, ProRes 4444 .mov): framepipe matte on CUDA
#            (end-to-end fps, its per-stage table, host peak RSS from /usr/bin/time, GPU peak from
#            nvidia-smi), the same with --chunks 4 (on CUDA: 4 chunks on the device path, one model each on its own thread; 8 warm-up frames each;
#            ratio = the better of the two over the ceiling); the encode ceiling (framepipe key: the same encoder pool and alpha frames with
#            a near-free stage instead of the model); and for .webm the Python baseline (baseline.py).
#   output : OUTDIR/matte-bench.md (table) and the raw logs in OUTDIR/matte-bench/.
# The model name for the baseline is taken from the model's directory (rvm_mobilenetv3, rvm_resnet50).
set -uo pipefail
FP=$(realpath "$1"); OUT=$(realpath "$2"); shift 2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$OUT/matte-bench
mkdir -p "$D"
FFMPEG=${FFMPEG:-$(command -v ffmpeg)}
TAB=$OUT/matte-bench.md
rc=0
[ $# -gt 0 ] || { echo "run.sh: no models given (full-size exports expected in /tmp/fp-models)"; exit 1; }

mkin() { # name size seconds
  local f=$D/$1.mp4
  [ -f "$f" ] && { echo "$f"; return; }
  "$FFMPEG" -nostdin -v error -y -f lavfi -i "testsrc2=size=$2:rate=25" -f lavfi -i "sine=f=440:r=48000" -t "$3" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac "$f" 2>/dev/null ||
  "$FFMPEG" -nostdin -v error -y -f lavfi -i "testsrc2=size=$2:rate=25" -f lavfi -i "sine=f=440:r=48000" -t "$3" \
    -c:v h264_nvenc -pix_fmt yuv420p -c:a aac "$f" || return 1
  echo "$f"
}

peak_run() { # log cmd...: runs with /usr/bin/time -v and nvidia-smi sampling; appends peaks to log
  local log=$1; shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$log.smi" 2>/dev/null &
  local sp=$!
  /usr/bin/time -v "$@" >"$log" 2>&1
  local r=$?
  kill $sp 2>/dev/null; wait $sp 2>/dev/null
  echo "gpu_peak_mib $(sort -n "$log.smi" | tail -1)" >>"$log"
  return $r
}

fps_of() { grep -oE '\(([0-9.]+) fps\)' "$1" | head -1 | tr -d '()fps '; }
rss_of() { awk -F: '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }
gpu_of() { awk '/gpu_peak_mib/ {print $2}' "$1"; }

IN1080=$(mkin in1080 1920x1080 10) || { echo "cannot make the 1080p input"; exit 1; }
# SIZES_ONLY=1080 skips the 4K rows (a device call too short for both)
INS=$IN1080
if [ "${SIZES_ONLY:-}" != 1080 ]; then
  IN4K=$(mkin in4k 3840x2160 5) || { echo "cannot make the 4K input"; exit 1; }
  INS="$IN1080 $IN4K"
fi
{
  echo "# framepipe matte benchmark ($(date -u +%F\ %H:%M) UTC, $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"
  echo
  echo "| model | input | output | framepipe fps | --chunks 4 (device path, 4 threads) fps | encode ceiling fps | ratio | baseline fps | speed-up | host RSS MiB | GPU MiB | RSS / GPU MiB, chunks |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$TAB"
for m in "$@"; do
  name=$(basename "$(dirname "$m")")
  for in in $INS; do
    res=$(basename "$in" .mp4)
    for ext in webm mov; do
      # WebM holds only Opus/Vorbis audio and the inputs carry AAC: no audio in the WebM rows (the
      # baseline writes none either); framepipe refuses rather than drops it silently.
      an=""; [ "$ext" = webm ] && an="-an"
      log=$D/$name-$res-$ext.log
      peak_run "$log" "$FP" matte "$in" -o "$D/out.$ext" --model "$m" --backend cuda $an || { rc=1; echo "FAIL $log"; tail -3 "$log"; }
      # 4 chunks of the file on the device path (one model per chunk; FP_HOST_PATH=1 would give the host batch)
      logc=$D/$name-$res-$ext-chunks4.log
      peak_run "$logc" "$FP" matte "$in" -o "$D/outc.$ext" --model "$m" --backend cuda --chunks 4 $an || { rc=1; echo "FAIL $logc"; tail -3 "$logc"; }
      ceil=$D/ceiling-$res-$ext.log
      [ -f "$ceil" ] || peak_run "$ceil" "$FP" key "$in" -o "$D/ceiling.$ext" --color 00ff00 $an
      f=$(fps_of "$log"); fc=$(fps_of "$logc"); c=$(fps_of "$ceil"); b="-"; s="-"
      if [ $ext = webm ]; then
        bl=$D/baseline-$name-$res.json
        python3 "$ROOT/bench/matte/baseline.py" "$name" "$in" "$D/baseline.webm" --ffmpeg "$FFMPEG" >"$bl" 2>"$bl.err" &&
          b=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['fps'])" "$bl") || { b="failed"; rc=1; }
        [ "$b" != failed ] && [ -n "$f" ] && s=$(python3 -c "print(f'{$f/$b:.1f}x')")
      fi
      r=$([ -n "$f" ] && [ -n "$c" ] && python3 -c "print(f'{max($f,${fc:-0})/$c:.2f}')" || echo "-")
      echo "| $name | $res | $ext | ${f:-fail} | ${fc:-fail} | ${c:-fail} | $r | $b | $s | $(rss_of "$log") | $(gpu_of "$log") | $(rss_of "$logc") / $(gpu_of "$logc") |" >>"$TAB"
      sed -n '/stage/,/encode-wait/p' "$log" >"$log.stages"
    done
  done
done
cat "$TAB"
echo "per-stage tables: $D/*.stages"
exit $rc
