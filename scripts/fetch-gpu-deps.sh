#!/bin/sh
# Run HERE (the Debian build machine), before a GPU run: fills .gpu-deps/ (git-ignored) with what the
# GPU machine lacks — the static FFmpeg from ../shared/device and Debian's -dev packages for
# protobuf-c (OpenBLAS is on the GPU machine already), SQLite, libpq, libcurl, libmicrohttpd, onnx.proto, zlib, JSON, and the nv-codec
# headers (GPU discovery in framepipe doctor). The device call
# names .gpu-deps in `carry`; scripts/gpu-check.sh unpacks them under /tmp there (never into /).
set -eu
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps/debs
cp -u ../shared/device/ffmpeg-device.tar.xz .gpu-deps/
cd .gpu-deps/debs
apt-get download libprotobuf-c1 libprotobuf-c-dev protobuf-c-compiler libprotoc32 libprotobuf32 \
  libsqlite3-dev libsqlite3-0 libpq-dev libpq5 libmicrohttpd-dev libmicrohttpd12 libonnx-dev \
  libjansson-dev libjansson4 libcjson-dev libcjson1 zlib1g-dev libffmpeg-nvenc-dev libonnx-testdata >/dev/null 2>&1
ls | wc -l
