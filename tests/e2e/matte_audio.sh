#!/bin/sh
# matte and audio a container cannot hold: AAC input to .webm is refused before any work (exit 4, one
# line naming the stream) unless -an leaves audio out, single pass and --chunks alike; .mkv keeps it.
# Usage: matte_audio.sh FRAMEPIPE MODELS_DIR WORKDIR
set -u
fp=$1; model=$2/rvm_mobilenetv3/model.onnx; d=$3
rm -rf "$d"; mkdir -p "$d"; cd "$d" || exit 1
pass=0; fail=0
check() { name=$1; shift; if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi; }
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=25:duration=1 -f lavfi -i sine=f=440:d=1 \
  -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest in.mp4 || exit 1
naudio() { ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 "$1" | wc -l; }
"$fp" matte in.mp4 -o refused.webm --model "$model" --backend cpu 2>err.txt; rc=$?
check "AAC into webm refused with exit 4" test $rc = 4
check "the refusal names the audio stream and -an" grep -q "audio stream.*-an" err.txt
check "nothing left under the refused name" test ! -e refused.webm
check "one line" test "$(wc -l < err.txt)" = 1
"$fp" matte in.mp4 -o an.webm --model "$model" --backend cpu -an 2>err2.txt
check "-an: written" test -s an.webm
check "-an: no audio stream" test "$(naudio an.webm)" = 0
"$fp" matte in.mp4 -o an2.webm --model "$model" --backend cpu -an --chunks 2 --warmup-frames 2 2>err3.txt
check "-an --chunks 2: written" test -s an2.webm
check "-an --chunks 2: no audio stream" test "$(naudio an2.webm)" = 0
"$fp" matte in.mp4 -o keep.mkv --model "$model" --backend cpu 2>err4.txt
check ".mkv keeps the AAC audio" test "$(naudio keep.mkv)" = 1
echo "matte_audio: $pass passed, $fail failed"
[ $fail = 0 ]
