#!/bin/bash
# bench/matte/long.sh FRAMEPIPE OUTDIR MODEL.onnx — host and GPU memory over a 10-minute 4K matte run
# (issue 6: "host RSS and GPU memory peaks for a 10-minute 4K input"), bounded to fit one 10-minute call.
#   input : a 10 s 3840x2160 25 fps H.264 clip made with this machine's ffmpeg (libx264 -preset veryfast,
#           else h264_nvenc), looped 60 times by stream copy (-stream_loop 59 -c copy): 600 s, 15000 frames,
#           made in seconds instead of minutes of encoding.
#   run   : framepipe matte on CUDA -> VP9-alpha .webm (-an; small output), sampled every 2 s: host RSS of
#           the framepipe process (/proc) and GPU memory used (nvidia-smi); LONG_ARGS adds matte options
#           (e.g. "--chunks 4" for the batched path). Stopped after LONG_LIMIT
#           seconds (default 400) if not done (SIGINT: framepipe removes the partial output and prints no
#           frame count): then the result says "NOT completed" and the samples cover the time that ran
#           (bounded memory means flat after the first seconds; the 25 %/50 %/end samples show it).
#   output: OUTDIR/matte-long.md (peaks, first/last sample, frames, fps) and OUTDIR/matte-long.csv
#           (t_s, rss_mib, gpu_mib).
set -uo pipefail
FP=$(realpath "$1"); OUT=$(realpath "$2"); M=$3
FFMPEG=${FFMPEG:-$(command -v ffmpeg)}
LIMIT=${LONG_LIMIT:-400}
D=$OUT/matte-long
mkdir -p "$D"
short=$D/in4k_10s.mp4 long=$D/in4k_600s.mp4
t0=$SECONDS
if [ ! -f "$long" ]; then
  "$FFMPEG" -nostdin -v error -y -f lavfi -i "testsrc2=size=3840x2160:rate=25" -t 10 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p "$short" 2>/dev/null ||
  "$FFMPEG" -nostdin -v error -y -f lavfi -i "testsrc2=size=3840x2160:rate=25" -t 10 -c:v h264_nvenc -pix_fmt yuv420p \
    "$short" || { echo "long.sh: cannot make the 4K clip"; exit 1; }
  "$FFMPEG" -nostdin -v error -y -stream_loop 59 -i "$short" -c copy "$long" || { echo "long.sh: cannot loop the clip"; exit 1; }
fi
frames=$(ffprobe -v error -select_streams v:0 -show_entries stream=nb_frames -of csv=p=0 "$long")
echo "long.sh: input $long ($frames frames) made in $((SECONDS - t0)) s"
csv=$OUT/matte-long.csv
echo "t_s,rss_mib,gpu_mib" >"$csv"
start=$SECONDS
timeout --signal=INT "$LIMIT" "$FP" matte "$long" -o "$D/out.webm" --model "$M" --backend cuda -an ${LONG_ARGS:-} >"$D/run.log" 2>&1 &
tp=$!
sleep 1
pid=$(pgrep -P $tp -f "framepipe matte" | head -1)
[ -n "$pid" ] || pid=$tp
while kill -0 $tp 2>/dev/null; do
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status 2>/dev/null)
  gpu=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
  [ -n "$rss" ] && echo "$((SECONDS - start)),$rss,${gpu:-}" >>"$csv"
  sleep 2
done
wait $tp
rc=$?
el=$((SECONDS - start))
done_frames=$(grep -oE '^[^ ]+: ([0-9]+) frames in' "$D/run.log" | grep -oE '[0-9]+ frames' | grep -oE '[0-9]+' | head -1)
{
  echo "# framepipe matte, 10-minute 4K input ($(date -u +%F\ %H:%M) UTC, $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"
  echo
  echo "model $(basename "$(dirname "$M")"), $frames input frames (3840x2160, 25 fps, 600 s), -> VP9-alpha WebM, limit ${LIMIT} s"
  echo
  if [ $rc = 0 ]; then
    echo "completed: ${done_frames:-?} frames in ${el} s ($(python3 -c "print(f'{${done_frames:-0}/max($el,1):.1f}')") fps)"
  else
    echo "NOT completed (exit $rc after ${el} s: the ${LIMIT} s limit or a failure); the samples cover what ran"
  fi
  echo
  python3 - "$csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["rss_mib"]]
if not rows:
    print("no samples"); sys.exit(0)
rss = [int(r["rss_mib"]) for r in rows]
gpu = [int(r["gpu_mib"]) for r in rows if r["gpu_mib"]]
n = len(rows)
late = rows[n // 4:] or rows
print(f"| samples | host RSS peak MiB | RSS at 25% / 50% / end | GPU peak MiB | GPU at 25% / 50% / end |")
print(f"|---|---|---|---|---|")
pick = lambda v: f"{v[n // 4]} / {v[n // 2]} / {v[-1]}" if len(v) == n else "-"
print(f"| {n} over {rows[-1]['t_s']} s | {max(rss)} | {pick(rss)} | {max(gpu) if gpu else '-'} | {pick(gpu)} |")
PY
  echo
  echo "framepipe's last lines:"; echo '```'; tail -8 "$D/run.log"; echo '```'
} >"$OUT/matte-long.md"
cat "$OUT/matte-long.md"
rm -f "$D/out.webm"
[ $rc = 0 ]
