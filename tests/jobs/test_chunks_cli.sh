#!/bin/sh
# test_chunks_cli — `framepipe transcode|key IN -o OUT --chunks [N]` end to end through the binary:
# the chunked output equals the plain run's (decoded frames and timestamps, ffv1; frame timestamps with
# libx264 and pass-through encoder options), audio joined from the source (-an leaves it out), options
# a chunk cannot honour refused before anything runs, a corrupt chunk's error names the chunk with the
# plain run's exit code, and Ctrl-C leaves no output and no temporaries. usage: test_chunks_cli.sh FRAMEPIPE
set -u
fp=$1
d=$(mktemp -d /tmp/fp-jobs-chunks-XXXXXX)
trap 'rm -rf "$d"' EXIT
pass=0 fail=0
check() { # check DESCRIPTION COMMAND...
  desc=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $desc"; fi
}
vmd5() { ffmpeg -nostdin -v error -i "$1" -map 0:v -f framemd5 - | grep -v '^#'; }
vpts() { ffprobe -v error -select_streams v -show_entries frame=pts -of compact "$1" | grep -o '^frame|pts=[0-9-]*'; }
vtags() { ffprobe -v error -select_streams v -show_entries stream_tags -of default=nw=1 "$1" | grep -vi "duration\|encoder" | sort; }
has_audio() { ffprobe -v error -select_streams a -show_entries stream=codec_type -of csv=p=0 "$1" | grep -q audio; }
ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=25 -f lavfi -i sine -t 4 -c:v libx264 \
  -preset ultrafast -g 25 -keyint_min 25 -sc_threshold 0 -c:a aac -shortest "$d/in.mp4" || { echo "no ffmpeg/x264: skipped"; exit 77; }
mkdir "$d/tmp"
export TMPDIR="$d/tmp"

# transcode, lossless: identical decoded frames and timestamps, audio from the source
"$fp" transcode "$d/in.mp4" -o "$d/plain.mkv" -c:v ffv1 2>/dev/null
"$fp" transcode "$d/in.mp4" -o "$d/ch.mkv" -c:v ffv1 --chunks 2 --chunk-seconds 1 2>"$d/err.txt"
check "transcode --chunks exits 0" test $? = 0
check "it ran 4 chunks on 2 workers" grep -q "100 frames in 4 chunks on 2 workers" "$d/err.txt"
vmd5 "$d/plain.mkv" > "$d/plain.md5"; vmd5 "$d/ch.mkv" > "$d/ch.md5"
check "100 frames decoded" test "$(wc -l < "$d/ch.md5")" = 100
check "chunked == plain: frames and timestamps (ffv1)" cmp -s "$d/plain.md5" "$d/ch.md5"
check "audio joined from the source" has_audio "$d/ch.mkv"
check "no temporaries left in TMPDIR" test -z "$(ls -A "$d/tmp")"

# lossy with encoder options passed through: same frame timestamps, the option reached the encoder
"$fp" transcode "$d/in.mp4" -o "$d/plain.mp4" -c:v libx264 -crf 40 2>/dev/null
"$fp" transcode "$d/in.mp4" -o "$d/ch.mp4" -c:v libx264 -crf 40 --chunks 3 --chunk-seconds 1 2>/dev/null
check "libx264 --chunks exits 0" test $? = 0
vpts "$d/plain.mp4" > "$d/plain.pts"; vpts "$d/ch.mp4" > "$d/ch.pts"
check "chunked == plain: frame timestamps (libx264)" cmp -s "$d/plain.pts" "$d/ch.pts"
check "100 frames (none marked discarded by the MP4 edit list)" test "$(wc -l < "$d/ch.pts")" = 100
"$fp" transcode "$d/in.mp4" -o "$d/ch0.mp4" -c:v libx264 -crf 0 --chunks 3 --chunk-seconds 1 2>/dev/null
check "-crf reached the chunks' encoder (crf 0 is larger than crf 40)" \
  test "$(stat -c %s "$d/ch0.mp4")" -gt "$(( $(stat -c %s "$d/ch.mp4") * 2 ))"

# key: stateless, chunked == plain exactly
# (-an on both: AAC priming makes the muxer shift every stream, so with audio the plain run's video
# timestamps differ from an -an run's, chunked or not)
"$fp" key "$d/in.mp4" -o "$d/kplain.mkv" --color 00ff00 --tolerance 0.3 -c:v ffv1 --pix-fmt yuva444p -an 2>/dev/null
"$fp" key "$d/in.mp4" -o "$d/kch.mkv" --color 00ff00 --tolerance 0.3 -c:v ffv1 --pix-fmt yuva444p --chunks 2 \
  --chunk-seconds 1 -an 2>/dev/null
check "key --chunks exits 0" test $? = 0
vmd5 "$d/kplain.mkv" > "$d/kplain.md5"; vmd5 "$d/kch.mkv" > "$d/kch.md5"
check "key chunked == plain: frames and timestamps" cmp -s "$d/kplain.md5" "$d/kch.md5"
check "key frames present" test "$(wc -l < "$d/kch.md5")" = 100
vtags "$d/kplain.mkv" > "$d/kplain.tags"; vtags "$d/kch.mkv" > "$d/kch.tags"
check "key chunked: the video stream's tags are the plain run's (ALPHA_MODE)" cmp -s "$d/kplain.tags" "$d/kch.tags"
check "  ALPHA_MODE is there" grep -q "ALPHA_MODE=1" "$d/kch.tags"
check "-an: no audio in the chunked output" sh -c "! ffprobe -v error -select_streams a -show_entries stream=codec_type -of csv=p=0 '$d/kch.mkv' | grep -q audio"

# refusals before anything runs
"$fp" transcode "$d/in.mp4" -o "$d/x.mkv" --scale 80x60 --chunks 2>"$d/err.txt"
check "--scale with --chunks exits 2" test $? = 2
check "  and says why" grep -q "in.mp4: configure: --chunks does not take --scale" "$d/err.txt"
"$fp" transcode "$d/in.mp4" -o "$d/x.mkv" --chunks 0 2>/dev/null
check "--chunks 0 exits 2" test $? = 2
"$fp" transcode "$d/in.mp4" -o "$d/x.mkv" --chunk-seconds 2 2>/dev/null
check "--chunk-seconds without --chunks exits 2" test $? = 2
"$fp" transcode "$d/in.mp4" -o "$d/x.mkv" -c:v nosuchcodec 2>/dev/null; plain_rc=$?
"$fp" transcode "$d/in.mp4" -o "$d/x.mkv" -c:v nosuchcodec --chunks 2 2>"$d/err.txt"
check "unknown encoder: the plain run's exit code ($plain_rc)" test $? = "$plain_rc"
check "no output after refusals" test ! -e "$d/x.mkv"

# a corrupt chunk: the error names the chunk, the exit code is the plain run's (3)
ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=25 -t 4 -c:v ffv1 -level 3 -slicecrc 1 -g 25 "$d/c.mkv"
python3 -c "
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); n = len(b)
for i in range(int(n * 0.7), int(n * 0.7) + 2000): b[i] ^= 0x55
open(sys.argv[2], 'wb').write(b)" "$d/c.mkv" "$d/bad.mkv"
"$fp" transcode "$d/bad.mkv" -o "$d/bad-out.mkv" -c:v ffv1 --chunks 2 --chunk-seconds 1 2>"$d/err.txt"
check "corrupt chunk exits 3" test $? = 3
check "  the error names the chunk and the cause" grep -q "chunks: job failed: chunk [0-9]*: .*bad.mkv: decode: corrupt" "$d/err.txt"
check "  no output" test ! -e "$d/bad-out.mkv"
check "  no temporaries" test -z "$(ls -A "$d/tmp")"

# Ctrl-C during the chunks: exit 130, no output (no hidden temporary either), no temporaries
ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=640x480:rate=25 -t 12 -c:v libx264 -preset ultrafast -g 25 \
  "$d/long.mp4"
"$fp" transcode "$d/long.mp4" -o "$d/int.mkv" -c:v ffv1 --chunks 2 --chunk-seconds 2 2>"$d/err.txt" &
pid=$!
i=0
# a chunk is being written once its worker's scratch directory holds a file (the encoder's output is
# under a hidden temporary name until the chunk is done)
until [ -n "$(ls -A "$d"/tmp/framepipe-chunks-*/work/ 2>/dev/null)" ]; do
  i=$((i + 1)); [ $i -gt 200 ] && break; sleep 0.05
done
check "a chunk was seen running before Ctrl-C" test -n "$(ls -A "$d"/tmp/framepipe-chunks-*/work/ 2>/dev/null)"
kill -INT $pid
wait $pid
check "Ctrl-C exits 130" test $? = 130
check "  says it was interrupted" grep -q "interrupted; .* chunks done, nothing published" "$d/err.txt"
check "  no output" test -z "$(ls -A "$d" | grep '^\.\?int\.mkv')"
check "  no temporaries" test -z "$(ls -A "$d/tmp")"

echo "$pass passed, $fail failed"
test $fail = 0
