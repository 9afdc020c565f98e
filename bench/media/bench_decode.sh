#!/bin/bash
# NVDEC decode: framepipe vs `ffmpeg -hwaccel cuda -hwaccel_output_format cuda -f null` on the same
# files (1080p and 4K, H.264 and HEVC), one at a time and several at once. Prints a ratio table.
# fp_fps: `transcode -o null --decode gpu`, which keeps NVDEC frames on the device and only counts them
# (decode alone, what the ffmpeg baseline with -hwaccel_output_format cuda does); ratio_gpu compares
# those two. fp_t1_fps: the same with FP_DECODE_THREADS=1; fp_t0_fps: with
# FP_DECODE_THREADS=0 (FFmpeg's frame threads, the default before 2026-11-22). fp_dev_fps: the device
# path with work: crop + scale to the same size through the CUDA kernels, conversion to the encoder's
# format on the GPU and one pinned download per frame (null muxer, no encoder); ff_dl_fps: ffmpeg
# decoding and downloading every frame (-hwaccel cuda without the output format), its closest baseline.
# Usage: bench_decode.sh FRAMEPIPE FFMPEG OUTDIR [SECONDS=30] [PARALLEL=4]
set -euo pipefail
FP=$1; FF=$2; OUT=$3; SECS=${4:-30}; PAR=${5:-4}
mkdir -p "$OUT"
gen() { [ -f "$OUT/$1" ] || "$FF" -nostdin -y -v error -f lavfi -i "testsrc2=size=$2:rate=30:duration=$SECS" -c:v "$3" -preset veryfast -pix_fmt yuv420p "$OUT/$1" || { rm -f "$OUT/$1"; return 1; }; }
gen h264_1080.mp4 1920x1080 libx264
gen h264_2160.mp4 3840x2160 libx264
# HEVC: the GPU machine's static FFmpeg has no HEVC encoder; scripts/fetch-gpu-deps.sh makes these
# clips (8- and 10-bit, 1080p 20 s and 4K 10 s) with Debian's libx265 into .gpu-deps/clips.
CLIPS=${FP_GPU_CLIPS:-$(cd "$(dirname "$0")/../.." && pwd)/.gpu-deps/clips}
for f in hevc_1080.mp4 hevc_2160.mp4 hevc10_1080.mp4 hevc10_2160.mp4; do
  [ -f "$OUT/$f" ] || [ ! -f "$CLIPS/$f" ] || cp "$CLIPS/$f" "$OUT/$f"
done
gen hevc_1080.mp4 1920x1080 hevc_nvenc 2>/dev/null || gen hevc_1080.mp4 1920x1080 libx265 2>/dev/null || { rm -f "$OUT/hevc_1080.mp4"; echo "no $CLIPS/hevc_1080.mp4 and no HEVC encoder: HEVC 1080p skipped" >&2; }
gen hevc_2160.mp4 3840x2160 hevc_nvenc 2>/dev/null || gen hevc_2160.mp4 3840x2160 libx265 2>/dev/null || { rm -f "$OUT/hevc_2160.mp4"; echo "no $CLIPS/hevc_2160.mp4 and no HEVC encoder: HEVC 4K skipped" >&2; }
# frames in a file (the HEVC clips are not SECS long)
frames() { ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$OUT/$1"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; echo nan; return; }; t1=$(date +%s.%N); awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }'; }
date -u +"%Y-%m-%d %H:%M UTC"
# One untimed run of each first: the first timed run otherwise pays the GPU's clock ramp and the driver's
# first-use costs (2026-11-22: 374 vs 408 fps for two framepipe runs of one configuration).
"$FP" -q transcode "$OUT/h264_1080.mp4" -o null --decode gpu -an >/dev/null 2>&1 || true
"$FF" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda -i "$OUT/h264_1080.mp4" -f null - >/dev/null 2>&1 || true
printf "%-16s %10s %10s %10s %10s %12s %12s %10s %10s\n" file fp_fps fp_t0_fps fp_t1_fps fp_dev_fps ff_gpu_fps ff_dl_fps ratio_gpu ratio_dev_dl
for f in h264_1080.mp4 h264_2160.mp4 hevc_1080.mp4 hevc_2160.mp4 hevc10_1080.mp4 hevc10_2160.mp4; do
  [ -f "$OUT/$f" ] || continue
  n=$(frames "$f")
  size=$(case $f in *1080*) echo 1920x1080;; *) echo 3840x2160;; esac)
  a=$(secs "$FP" -q transcode "$OUT/$f" -o null --decode gpu -an)
  t0=$(FP_DECODE_THREADS=0 secs "$FP" -q transcode "$OUT/$f" -o null --decode gpu -an)
  t1=$(FP_DECODE_THREADS=1 secs "$FP" -q transcode "$OUT/$f" -o null --decode gpu -an)
  d=$(secs "$FP" -q transcode "$OUT/$f" -o null --decode gpu -an --crop "$size+0+0" --scale "$size")
  b=$(secs "$FF" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda -i "$OUT/$f" -f null -)
  c=$(secs "$FF" -nostdin -v error -hwaccel cuda -i "$OUT/$f" -f null -)
  awk -v f="$f" -v n="$n" -v a="$a" -v z="$t0" -v t="$t1" -v d="$d" -v b="$b" -v c="$c" 'BEGIN { printf "%-16s %10.1f %10.1f %10.1f %10.1f %12.1f %12.1f %10.2f %10.2f\n", f, n/a, n/z, n/t, n/d, n/b, n/c, b/a, c/d }'
done
# several files at once (the H100 has several NVDEC engines)
for f in h264_1080.mp4 h264_2160.mp4; do
  [ -f "$OUT/$f" ] || continue
  n=$(( $(frames "$f") * PAR ))
  t0=$(date +%s.%N); for i in $(seq "$PAR"); do "$FP" -q transcode "$OUT/$f" -o null --decode gpu -an & done; wait; t1=$(date +%s.%N)
  a=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')
  t0=$(date +%s.%N); for i in $(seq "$PAR"); do "$FF" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda -i "$OUT/$f" -f null - & done; wait; t1=$(date +%s.%N)
  b=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')
  awk -v f="$f x$PAR" -v n="$n" -v a="$a" -v b="$b" 'BEGIN { printf "%-16s %10.1f %10s %10s %10s %12.1f %12s %10.2f\n", f, n/a, "-", "-", "-", n/b, "-", b/a }'
done
