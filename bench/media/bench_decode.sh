#!/bin/bash
# NVDEC decode: framepipe vs `ffmpeg -hwaccel cuda -hwaccel_output_format cuda -f null` on the same
# files (1080p and 4K, H.264 and HEVC), one at a time and several at once. Prints a ratio table.
# framepipe's figure includes the download of every frame to host memory (its CPU processing path);
# the ffmpeg baseline is given both ways (frames kept on the GPU, and downloaded) so the ratio that
# compares like with like is visible.
# Usage: bench_decode.sh FRAMEPIPE FFMPEG OUTDIR [SECONDS=30] [PARALLEL=4]
set -euo pipefail
FP=$1; FF=$2; OUT=$3; SECS=${4:-30}; PAR=${5:-4}
mkdir -p "$OUT"
gen() { [ -f "$OUT/$1" ] || "$FF" -nostdin -y -v error -f lavfi -i "testsrc2=size=$2:rate=30:duration=$SECS" -c:v "$3" -preset veryfast -pix_fmt yuv420p "$OUT/$1"; }
gen h264_1080.mp4 1920x1080 libx264
gen h264_2160.mp4 3840x2160 libx264
# HEVC: the GPU machine's static FFmpeg has no HEVC encoder; scripts/fetch-gpu-deps.sh makes these
# clips (8- and 10-bit, 1080p 20 s and 4K 10 s) with Debian's libx265 into .gpu-deps/clips.
CLIPS=${FP_GPU_CLIPS:-$(cd "$(dirname "$0")/../.." && pwd)/.gpu-deps/clips}
for f in hevc_1080.mp4 hevc_2160.mp4 hevc10_1080.mp4 hevc10_2160.mp4; do
  [ -f "$OUT/$f" ] || [ ! -f "$CLIPS/$f" ] || cp "$CLIPS/$f" "$OUT/$f"
done
gen hevc_1080.mp4 1920x1080 libx265 2>/dev/null || echo "no $CLIPS/hevc_1080.mp4 and no libx265: HEVC 1080p skipped" >&2
gen hevc_2160.mp4 3840x2160 libx265 2>/dev/null || echo "no $CLIPS/hevc_2160.mp4 and no libx265: HEVC 4K skipped" >&2
# frames in a file (the HEVC clips are not SECS long)
frames() { ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$OUT/$1"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; echo nan; return; }; t1=$(date +%s.%N); awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }'; }
printf "%-16s %10s %12s %12s %10s %10s\n" file fp_fps ff_gpu_fps ff_dl_fps ratio_gpu ratio_dl
for f in h264_1080.mp4 h264_2160.mp4 hevc_1080.mp4 hevc_2160.mp4 hevc10_1080.mp4 hevc10_2160.mp4; do
  [ -f "$OUT/$f" ] || continue
  n=$(frames "$f")
  a=$(secs "$FP" -q transcode "$OUT/$f" -o null --decode gpu -an)
  b=$(secs "$FF" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda -i "$OUT/$f" -f null -)
  c=$(secs "$FF" -nostdin -v error -hwaccel cuda -i "$OUT/$f" -f null -)
  awk -v f="$f" -v n="$n" -v a="$a" -v b="$b" -v c="$c" 'BEGIN { printf "%-16s %10.1f %12.1f %12.1f %10.2f %10.2f\n", f, n/a, n/b, n/c, b/a, c/a }'
done
# several files at once (the H100 has several NVDEC engines)
for f in h264_1080.mp4 hevc_2160.mp4; do
  [ -f "$OUT/$f" ] || continue
  n=$(( $(frames "$f") * PAR ))
  t0=$(date +%s.%N); for i in $(seq "$PAR"); do "$FP" -q transcode "$OUT/$f" -o null --decode gpu -an & done; wait; t1=$(date +%s.%N)
  a=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')
  t0=$(date +%s.%N); for i in $(seq "$PAR"); do "$FF" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda -i "$OUT/$f" -f null - & done; wait; t1=$(date +%s.%N)
  b=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')
  awk -v f="$f x$PAR" -v n="$n" -v a="$a" -v b="$b" 'BEGIN { printf "%-16s %10.1f %12.1f %12s %10.2f\n", f, n/a, n/b, "-", b/a }'
done
