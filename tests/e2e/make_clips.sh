#!/bin/bash
# Generates the small test clips the media end-to-end tests read (ffmpeg CLI, lavfi sources with
# audio). Usage: make_clips.sh DIR. Idempotent: a complete DIR (stamp file) is left as it is.
set -euo pipefail
D=$1
G=${FP_GPU_CLIPS:-$(cd "$(dirname "$0")/../.." && pwd)/.gpu-deps/clips}   # scripts/fetch-gpu-deps.sh
mkdir -p "$D"
cd "$D"
[ -f .complete ] && exit 0
ff() { ffmpeg -nostdin -y -hide_banner -loglevel error "$@"; }
V="testsrc2=size=160x120:rate=25:duration=2"
A="sine=frequency=440:sample_rate=48000:duration=2"

ff -f lavfi -i "$V" -f lavfi -i "$A" -c:v libx264 -pix_fmt yuv420p -g 25 -c:a aac -shortest h264.mp4
# Clips whose encoder a minimal FFmpeg (the GPU machine's static build: libx264, libvpx, native
# codecs) lacks are skipped there, with a line; the cases that need them skip too.
opt() { local out=$1; shift; ff "$@" "$out" 2>/dev/null || { rm -f "$out"; echo "make_clips: skipped $out (encoder not in this FFmpeg)" >&2; }; }
opt hevc10.mkv -f lavfi -i "$V" -f lavfi -i "$A" -c:v libx265 -pix_fmt yuv420p10le -x265-params log-level=none -c:a aac -shortest
# The GPU machine's FFmpeg has no libx265: scripts/fetch-gpu-deps.sh made the same clip beforehand.
[ -f hevc10.mkv ] || [ ! -f "$G/hevc10.mkv" ] || { cp "$G/hevc10.mkv" . && echo "make_clips: hevc10.mkv from $G" >&2; }
ff -f lavfi -i "$V" -f lavfi -i "$A" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libopus -shortest vp9.webm 2>/dev/null \
  || ff -f lavfi -i "$V" -f lavfi -i "$A" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libvorbis -shortest vp9.webm 2>/dev/null \
  || ff -f lavfi -i "$V" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 vp9.webm
[ -f av1.mkv ] || opt av1.mkv -f lavfi -i "$V" -f lavfi -i "$A" -c:v libsvtav1 -preset 12 -c:a aac -shortest
[ -f av1.mkv ] || opt av1.mkv -f lavfi -i "$V" -f lavfi -i "$A" -c:v libaom-av1 -cpu-used 8 -c:a aac -shortest
ff -f lavfi -i "$V" -f lavfi -i "$A" -c:v prores_ks -profile:v hq -c:a pcm_s16le -shortest prores.mov
ff -f lavfi -i "$V" -c:v libx264 -pix_fmt yuv420p10le h264_10.mkv
# alpha: ProRes 4444 with a gradient alpha
ff -f lavfi -i "testsrc2=size=160x120:rate=25:duration=1" -vf "format=yuva444p10le,geq=lum='lum(X,Y)':cb='cb(X,Y)':cr='cr(X,Y)':a='X*4'" \
   -c:v prores_ks -profile:v 4444 alpha.mov
# variable frame rate: 25 fps for 1 s, then 10 fps (timestamps rewritten with the setts bitstream filter)
ff -f lavfi -i "testsrc2=size=160x120:rate=25:duration=1.8" -c:v libx264 -bf 0 -f h264 vfr.h264
ff -i vfr.h264 -c copy -bsf:v "setts=pts='if(lt(N,25),N*40,1000+(N-25)*100)':dts='if(lt(N,25),N*40,1000+(N-25)*100)':time_base=1/1000" vfr.mkv
rm -f vfr.h264
# audio + subtitles + chapters + metadata
cat > subs.srt <<'SRT'
1
00:00:00,200 --> 00:00:00,900
hello

2
00:00:01,000 --> 00:00:01,800
world
SRT
cat > meta.txt <<'META'
;FFMETADATA1
title=framepipe test clip
[CHAPTER]
TIMEBASE=1/1000
START=0
END=1000
title=one
[CHAPTER]
TIMEBASE=1/1000
START=1000
END=2000
title=two
META
ff -f lavfi -i "$V" -f lavfi -i "$A" -i subs.srt -i meta.txt -map 0:v -map 1:a -map 2:s -map_metadata 3 -map_chapters 3 \
   -c:v libx264 -c:a aac -c:s srt -shortest subs.mkv
# green screen with a red box in the middle (lossless, so the key sees exact colours)
ff -f lavfi -i "color=c=0x00FF00:size=160x120:rate=25:duration=1" -vf "drawbox=x=40:y=30:w=80:h=60:color=0xFF0000:t=fill,format=yuv444p" \
   -c:v ffv1 green.mkv
# odd dimensions
ff -f lavfi -i "testsrc2=size=162x122:rate=25:duration=1" -vf "format=yuv444p,crop=161:121:0:0,format=yuv420p" -c:v ffv1 odd.mkv
# corrupt packets mid-stream: garbage over the middle of an MPEG-TS H.264 file
ff -f lavfi -i "testsrc2=size=160x120:rate=25:duration=4" -c:v libx264 -g 10 -bf 0 corrupt.ts
python3 - <<'PY'
import random
b = bytearray(open("corrupt.ts", "rb").read())
random.seed(7)
n = len(b)
for start in (n * 2 // 5, n * 3 // 5):
    for i in range(start, start + 3000):
        # keep the 0x47 sync bytes and TS headers so only payloads (packets) are damaged
        if (i % 188) >= 8:
            b[i] = random.randrange(256)
open("corrupt.ts", "wb").write(bytes(b))
PY
# truncated: the first 40% of an MP4 whose index (moov) is at the end
head -c $(( $(stat -c %s h264.mp4) * 2 / 5 )) h264.mp4 > truncated.mp4
: > empty.mp4
echo "this is not a video" > notvideo.txt
ff -f lavfi -i "$A" audio_only.wav
# unsupported codec: an H.264 Matroska whose codec id names nothing FFmpeg knows
ff -i h264.mp4 -c copy -an mystery.mkv
python3 - <<'PY'
b = bytearray(open("mystery.mkv", "rb").read())
i = b.find(b"V_MPEG4/ISO/AVC")
assert i > 0
b[i:i + 15] = b"V_FRAMEPIPE/XYZ"
open("mystery.mkv", "wb").write(bytes(b))
PY
touch .complete
