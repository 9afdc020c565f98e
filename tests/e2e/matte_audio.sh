#!/bin/sh
# matte and audio a container cannot hold: AAC input to .webm is transcoded to Opus (fp_audio), single
# pass and --chunks (at the join) alike, with as many samples as the source within one Opus frame;
# -an leaves audio out; .mkv keeps the AAC as it is.
# Usage: matte_audio.sh FRAMEPIPE MODELS_DIR WORKDIR
set -u
fp=$1; model=$2/rvm_mobilenetv3/model.onnx; d=$3
rm -rf "$d"; mkdir -p "$d"; cd "$d" || exit 1
pass=0; fail=0
check() { name=$1; shift; if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi; }
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=25:duration=1 -f lavfi -i sine=f=440:d=1 \
  -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest in.mp4 || exit 1
naudio() { ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 "$1" | wc -l; }
acodec() { ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$1"; }
samples() { ffmpeg -v error -i "$1" -map 0:a:0 -ac 1 -ar 48000 -f s16le - | wc -c | awk '{ print $1 / 2 }'; }
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
src_n=$(samples in.mp4)
"$fp" matte in.mp4 -o opus.webm --model "$model" --backend cpu 2>err.txt; rc=$?
check "AAC into webm: written (exit 0)" test $rc = 0
check "AAC into webm: Opus audio" test "$(acodec opus.webm)" = opus
check "AAC into webm: samples as the source's within one 960-sample frame" near "$(samples opus.webm)" "$src_n" 960
"$fp" matte in.mp4 -o opus2.webm --model "$model" --backend cpu --chunks 2 --warmup-frames 2 2>err1.txt; rc=$?
check "--chunks 2: written (exit 0)" test $rc = 0
check "--chunks 2: Opus audio" test "$(acodec opus2.webm)" = opus
check "--chunks 2: samples as the source's" near "$(samples opus2.webm)" "$src_n" 960
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
