#!/bin/sh
# Run HERE (the Debian build machine), before a GPU run: fills .gpu-deps/ (git-ignored) with what the
# GPU machine lacks — the static FFmpeg from ../shared/device and Debian's -dev packages for
# protobuf-c (OpenBLAS is on the GPU machine already), SQLite, libpq, libcurl, libmicrohttpd, onnx.proto, zlib, JSON, and the nv-codec
# headers (GPU discovery in framepipe doctor). The device call
# names .gpu-deps in `carry`; scripts/gpu-check.sh unpacks them under /tmp there (never into /).
#
# It also makes the HEVC clips the GPU machine cannot make (its static FFmpeg has no HEVC encoder) with
# Debian's ffmpeg (libx265) into .gpu-deps/clips/: 1080p (20 s) and 4K (10 s), 8- and 10-bit, for
# bench/media/bench_decode.sh, the 160x120 10-bit clip of tests/e2e/make_clips.sh (hevc10.mkv) and the
# 256x144 one of the e2e NVDEC case (hevc10_256x144.mkv). About 12 MB in all; made once (delete the
# folder to remake).
# `fetch-gpu-deps.sh clips` makes only the clips.
set -eu
cd "$(dirname "$0")/.."

clips() {
  mkdir -p .gpu-deps/clips
  ff() { ffmpeg -nostdin -y -hide_banner -loglevel error "$@"; }
  hevc() { # NAME SIZE SECONDS PIXFMT KBIT/S
    [ -s ".gpu-deps/clips/$1" ] && return 0
    ff -f lavfi -i "testsrc2=size=$2:rate=30:duration=$3" -c:v libx265 -preset ultrafast -pix_fmt "$4" \
      -x265-params "log-level=none:bitrate=$5:vbv-maxrate=$5:vbv-bufsize=$(( $5 * 2 ))" -tag:v hvc1 \
      ".gpu-deps/clips/$1.part.mp4" && mv ".gpu-deps/clips/$1.part.mp4" ".gpu-deps/clips/$1"
  }
  hevc hevc_1080.mp4   1920x1080 20 yuv420p      1000
  hevc hevc10_1080.mp4 1920x1080 20 yuv420p10le  1000
  hevc hevc_2160.mp4   3840x2160 10 yuv420p      3000
  hevc hevc10_2160.mp4 3840x2160 10 yuv420p10le  3000
  # the e2e clip of the same name (tests/e2e/make_clips.sh), copied there when that FFmpeg cannot make it
  [ -s .gpu-deps/clips/hevc10.mkv ] || ff -f lavfi -i "testsrc2=size=160x120:rate=25:duration=2" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=2" -c:v libx265 -pix_fmt yuv420p10le \
    -x265-params log-level=none -c:a aac -shortest .gpu-deps/clips/hevc10.mkv
  # the e2e NVDEC case's own clip (tests/e2e/media_cases.sh nvdec: 256x144, above NVDEC's minimum size)
  [ -s .gpu-deps/clips/hevc10_256x144.mkv ] || ff -f lavfi -i "testsrc2=size=256x144:rate=25:duration=2" \
    -c:v libx265 -pix_fmt yuv420p10le -x265-params log-level=none .gpu-deps/clips/hevc10_256x144.mkv
  du -sh .gpu-deps/clips
}
if [ "${1:-}" = clips ]; then clips; exit 0; fi
clips
mkdir -p .gpu-deps/debs
cp -u ../shared/device/ffmpeg-device.tar.xz .gpu-deps/
cd .gpu-deps/debs
apt-get download libprotobuf-c1 libprotobuf-c-dev protobuf-c-compiler libprotoc32 libprotobuf32 \
  libsqlite3-dev libsqlite3-0 libpq-dev libpq5 libmicrohttpd-dev libmicrohttpd12 libonnx-dev \
  libjansson-dev libjansson4 libcjson-dev libcjson1 zlib1g-dev libffmpeg-nvenc-dev libonnx-testdata >/dev/null 2>&1
ls | wc -l
