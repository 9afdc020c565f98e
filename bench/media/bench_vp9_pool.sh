#!/bin/bash
# VP9-alpha 1080p encode: framepipe's pool of N encoders vs one libvpx-vp9 instance (ffmpeg) at the
# same settings. Target: speed-up >= 0.7 x N up to the core count. Prints a table.
# Usage: bench_vp9_pool.sh FRAMEPIPE FFMPEG OUTDIR [SECONDS=10] ["N list"="1 2 4 8"]
set -euo pipefail
FP=$1; FF=$2; OUT=$3; SECS=${4:-10}; NS=${5:-"1 2 4 8"}
mkdir -p "$OUT"
SIZE=${SIZE:-1920x1080}   # env: a smaller size for a quick local check
SRC=$OUT/alpha_$SIZE.mov
[ -f "$SRC" ] || "$FF" -nostdin -y -v error -f lavfi -i "testsrc2=size=$SIZE:rate=30:duration=$SECS" \
  -vf "format=yuva444p10le" -c:v prores_ks -profile:v 4444 "$SRC"
OPTS="-deadline good -cpu-used 4 -row-mt 1 -b:v 4M"
n=$(( SECS * 30 ))
cores=$(nproc)
t0=$(date +%s.%N)
"$FF" -nostdin -y -v error -i "$SRC" -c:v libvpx-vp9 -pix_fmt yuva420p $OPTS -threads "$cores" "$OUT/ff_one.webm"
t1=$(date +%s.%N)
base=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')
printf "%-22s %8s %8s %10s %8s\n" run seconds fps speedup eff
awk -v s="$base" -v n="$n" 'BEGIN { printf "%-22s %8.1f %8.1f %10.2f %8s\n", "ffmpeg libvpx x1", s, n/s, 1, "-" }'
for N in $NS; do
  t0=$(date +%s.%N)
  "$FP" -q transcode "$SRC" -o "$OUT/fp_$N.webm" -c:v libvpx-vp9 $OPTS --encoders "$N" --segment-frames 60
  t1=$(date +%s.%N)
  s=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')
  awk -v N="$N" -v s="$s" -v b="$base" -v n="$n" 'BEGIN { printf "%-22s %8.1f %8.1f %10.2f %8.2f\n", "framepipe pool x" N, s, n/s, b/s, b/s/N }'
done
