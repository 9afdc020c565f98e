#!/bin/bash
# VP9-alpha encode (1080p by default): framepipe's pool of N encoders vs one libvpx-vp9 instance
# (ffmpeg) at the same settings. Target (issue 2): speed-up >= 0.7 x N up to the core count.
# Usage: bench_vp9_pool.sh FRAMEPIPE FFMPEG OUTDIR [SECONDS=30] ["N list"="1 2 4 8 16"]
# env: SIZE=WxH (a smaller size for a quick check), SEG=frames per segment (default 30 = 1 s, the
#      shortest the pool's plan picks by itself; a pool of N needs well over N segments or the last
#      round leaves encoders idle: 900 frames = 30 segments), BASEF=frames the two ffmpeg baselines
#      encode (default 300: fps is what is compared, and one single-threaded libvpx is slow),
#      BUF=--encode-buffer MiB (default: enough for N x SEG frames of the largest N, plus a quarter).
#
# Two baselines, because "one libvpx instance" is read two ways:
#   ffmpeg x1 thr1   one instance, one thread: the unit the pool multiplies (speed-up column "vs 1thr")
#   ffmpeg x1 thrC   one instance with -threads = cores, row-mt: the best a single libvpx does here
# Each framepipe run prints its peak RSS (GNU time) next to the speed-up; the load average before
# the runs is printed because on a shared machine other processes take cores from both sides.
set -euo pipefail
FP=$1; FF=$2; OUT=$3; SECS=${4:-30}; NS=${5:-"1 2 4 8 16"}
mkdir -p "$OUT"
SIZE=${SIZE:-1920x1080}
SEG=${SEG:-30}
SRC=$OUT/alpha_${SIZE}_$SECS.mov
[ -f "$SRC" ] || "$FF" -nostdin -y -v error -f lavfi -i "testsrc2=size=$SIZE:rate=30:duration=$SECS" \
  -vf "format=yuva444p10le" -c:v prores_ks -profile:v 4444 "$SRC"
OPTS="-deadline good -cpu-used 4 -row-mt 1 -b:v 4M -g $SEG"   # the same keyframe grid for every run
n=$(( SECS * 30 ))
BASEF=${BASEF:-300}; [ "$BASEF" -le "$n" ] || BASEF=$n
cores=$(nproc)
w=${SIZE%x*}; h=${SIZE#*x}
maxn=0; for N in $NS; do [ "$N" -gt "$maxn" ] && maxn=$N; done
# yuva420p frame = 2.5 bytes/pixel; the pool queues at most N x SEG frames
BUF=${BUF:-$(( (maxn * SEG * w * h * 5 / 2 / 1048576) * 5 / 4 + 64 ))}
TIME=/usr/bin/time
[ -x "$TIME" ] || TIME=""
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u '+%F %T UTC')"
echo "source: $SIZE, $n frames ProRes 4444; libvpx-vp9 $OPTS; segments $SEG frames; --encode-buffer $BUF MiB"
echo "baselines encode the first $BASEF frames; their seconds are scaled to $n frames"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

secs() { awk -v a="$2" -v b="$1" 'BEGIN { printf "%.6f", a - b }'; }
t0=$(date +%s.%N)
"$FF" -nostdin -y -v error -i "$SRC" -frames:v "$BASEF" -c:v libvpx-vp9 -pix_fmt yuva420p $OPTS -threads 1 "$OUT/ff_one_t1.webm"
t1=$(date +%s.%N)
base1=$(awk -v s="$(secs "$t0" "$t1")" -v n="$n" -v b="$BASEF" 'BEGIN { printf "%.6f", s * n / b }')  # as if n frames
t0=$(date +%s.%N)
"$FF" -nostdin -y -v error -i "$SRC" -frames:v "$BASEF" -c:v libvpx-vp9 -pix_fmt yuva420p $OPTS -threads "$cores" "$OUT/ff_one.webm"
t1=$(date +%s.%N)
baseC=$(awk -v s="$(secs "$t0" "$t1")" -v n="$n" -v b="$BASEF" 'BEGIN { printf "%.6f", s * n / b }')
printf "%-22s %8s %8s %8s %8s %8s %10s\n" run seconds fps "vs 1thr" "eff/N" "vs thrC" "peak MiB"
awk -v s="$base1" -v n="$n" 'BEGIN { printf "%-22s %8.1f %8.1f %8.2f %8s %8s %10s\n", "ffmpeg x1 thr1", s, n/s, 1, "-", "-", "-" }'
awk -v s="$baseC" -v b="$base1" -v n="$n" -v c="$cores" 'BEGIN { printf "%-22s %8.1f %8.1f %8.2f %8s %8.2f %10s\n", "ffmpeg x1 thr" c, s, n/s, b/s, "-", 1, "-" }'
for N in $NS; do
  t0=$(date +%s.%N)
  if [ -n "$TIME" ]; then
    $TIME -o "$OUT/time_$N.txt" -f "%M" "$FP" -q transcode "$SRC" -o "$OUT/fp_$N.webm" -c:v libvpx-vp9 $OPTS \
      --encoders "$N" --segment-frames "$SEG" --encode-buffer "$BUF"
    rss=$(awk '{ printf "%.0f", $1 / 1024 }' "$OUT/time_$N.txt")
  else
    "$FP" -q transcode "$SRC" -o "$OUT/fp_$N.webm" -c:v libvpx-vp9 $OPTS --encoders "$N" --segment-frames "$SEG" \
      --encode-buffer "$BUF"
    rss=-
  fi
  t1=$(date +%s.%N)
  s=$(secs "$t0" "$t1")
  awk -v N="$N" -v s="$s" -v b="$base1" -v c="$baseC" -v n="$n" -v r="$rss" \
    'BEGIN { printf "%-22s %8.1f %8.1f %8.2f %8.2f %8.2f %10s\n", "framepipe pool x" N, s, n/s, b/s, b/s/N, c/s, r }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
