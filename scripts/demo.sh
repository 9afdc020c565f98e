#!/bin/sh
# The README's first command: installs what is missing (as root; otherwise prints the apt-get line),
# builds framepipe, generates a sample clip (a moving test pattern over a green screen, with audio) and
# runs the main job on it, then shows what came out (ffprobe facts). Output: out/demo-*.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" >/dev/null
mkdir -p out
sample=out/demo-sample.mkv
if [ ! -f "$sample" ]; then
  echo "demo: generating $sample (4 s, 640x360, green screen + test pattern, 440 Hz Opus audio)"
  ffmpeg -v error -y -f lavfi -i "color=c=0x00ff00:s=640x360:r=25:d=4" \
    -f lavfi -i "testsrc2=s=240x180:r=25:d=4" -f lavfi -i "sine=f=440:d=4" \
    -filter_complex "[0][1]overlay=x='40+t*60':y=90:shortest=1[v]" -map "[v]" -map 2 \
    -c:v libx264 -pix_fmt yuv420p -c:a libopus -shortest "$sample"
fi
"$BUILD_DIR"/framepipe probe "$sample"
echo "demo: keying the green screen to alpha (VP9 WebM with alpha)"
"$BUILD_DIR"/framepipe key "$sample" -o out/demo-key.webm --color 00FF00 --tolerance 0.25
ffprobe -v error -show_entries stream=index,codec_name,width,height,nb_read_frames:stream_tags=alpha_mode \
  -count_frames -of compact out/demo-key.webm
# ffprobe's native VP9 decoder ignores the alpha channel; libvpx's reports yuva420p.
ffmpeg -hide_banner -c:v libvpx-vp9 -i out/demo-key.webm -f null - 2>&1 | grep -m1 'Video:'
echo "demo: wrote out/demo-key.webm"
