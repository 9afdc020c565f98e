#!/bin/bash
# Peak RSS (and GPU memory, sampled with nvidia-smi) of a long 4K transcode: memory must stay flat
# whatever the input length, so a 1-minute and a 10-minute run are compared.
# Usage: bench_memory.sh FRAMEPIPE FFMPEG OUTDIR ["MINUTES list"="1 10"]
set -euo pipefail
FP=$1; FF=$2; OUT=$3; MINS=${4:-"1 10"}
mkdir -p "$OUT"
printf "%-10s %12s %14s %10s\n" minutes peak_rss_MiB peak_gpu_MiB seconds
for m in $MINS; do
  src=$OUT/long_${m}m.mp4
  [ -f "$src" ] || "$FF" -nostdin -y -v error -f lavfi -i "testsrc2=size=3840x2160:rate=30:duration=$(( m * 60 ))" \
    -c:v hevc_nvenc -preset p1 "$src" 2>/dev/null || "$FF" -nostdin -y -v error -f lavfi \
    -i "testsrc2=size=3840x2160:rate=30:duration=$(( m * 60 ))" -c:v libx264 -preset ultrafast "$src"
  gpu_log=$OUT/gpu_$m.txt
  ( while sleep 1; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1; done ) > "$gpu_log" &
  mon=$!
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$OUT/rss_$m.txt" "$FP" -q transcode "$src" -o "$OUT/out_$m.mkv" --decode gpu \
    -c:v libx264 -preset ultrafast -an
  t1=$(date +%s.%N)
  kill $mon 2>/dev/null || true
  rss=$(( $(tail -1 "$OUT/rss_$m.txt") / 1024 ))
  gpu=$(sort -n "$gpu_log" | tail -1)
  awk -v m="$m" -v r="$rss" -v g="${gpu:-n/a}" -v s="$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')" 'BEGIN { printf "%-10s %12d %14s %10.1f\n", m, r, g, s }'
done
