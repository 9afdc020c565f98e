#!/bin/bash
# Media end-to-end cases: run the framepipe binary on the generated clips and check facts read from the
# real output files with ffprobe (frame count, duration, pixel format, audio, timestamps, alpha values)
# and, for bad input/output, the exit code, the one-line message (file, stage, cause) and that nothing
# is left under the final name (nor a temporary file beside it).
# Usage: media_cases.sh CASE CLIPS_DIR FRAMEPIPE HAVE_CUDA(0|1). Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail
CASE=$1
C=$(cd "$2" && pwd)
FP=$3
HAVE_CUDA=${4:-0}
W=$(mktemp -d "${TMPDIR:-/tmp}/fp-e2e-$CASE.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

fails=0
pass() { :; }
fail() { echo "FAIL [$CASE]: $*" >&2; fails=$((fails + 1)); }
skip() { echo "SKIP [$CASE]: $*" >&2; exit 77; }
check() { local what=$1; shift; if "$@"; then pass; else fail "$what"; fi; }
eq() { [ "$1" = "$2" ] || { echo "  expected '$2', got '$1'" >&2; return 1; }; }

nframes() { ffprobe -v error ${2:-} -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$1" | head -1; }
pixfmt() { ffprobe -v error -select_streams v:0 -show_entries stream=pix_fmt -of csv=p=0 "$1" | head -1; }
# the pixel format FFmpeg's libvpx-vp9 *decoder* reports (the native vp9 decoder ignores alpha; this
# ffprobe has no -c:v, so ffmpeg's showinfo reads the decoded frame)
vp9pixfmt() { ffmpeg -nostdin -hide_banner -c:v libvpx-vp9 -i "$1" -vf showinfo -frames:v 1 -f null - 2>&1 | grep -o "fmt:[a-z0-9]*" | head -1 | cut -d: -f2; }
vpts() { ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 "$1" | cut -d, -f1 | sed '/^$/d' | sort -g; }
dur() { ffprobe -v error -select_streams "$2" -show_entries format=duration:stream=duration -of csv=p=0 "$1" | grep -v N/A | head -1; }
# audio span: end of the last packet minus start of the first
aspan() { ffprobe -v error -select_streams a:0 -show_entries packet=pts_time,duration_time -of csv=p=0 "$1" | awk -F, 'NR==1{s=$1} {e=$1+$2} END{print e-s}'; }
nstreams() { ffprobe -v error -select_streams "$2" -show_entries stream=index -of csv=p=0 "$1" | wc -l; }
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' || { echo "  $1 vs $2 (tol $3)" >&2; return 1; }; }

# run_ok ARGS...: framepipe must succeed
run_ok() { "$FP" -q "$@" 2> err.txt; local rc=$?; [ $rc -eq 0 ] || { cat err.txt >&2; fail "framepipe $* -> exit $rc"; }; return $rc; }

# expect_fail CODE FILE_IN_MESSAGE STAGE OUT ARGS...: exit code, one error line naming file and stage,
# no output under OUT and no temporary file beside it.
expect_fail() {
  local code=$1 file=$2 stage=$3 out=$4; shift 4
  "$FP" "$@" 2> err.txt; local rc=$?
  [ $rc -eq "$code" ] || fail "framepipe $* -> exit $rc, expected $code ($(cat err.txt))"
  local lines; lines=$(grep -c '^framepipe: ' err.txt)
  [ "$lines" -ge 1 ] || fail "no 'framepipe:' error line"
  local msg; msg=$(grep '^framepipe: ' err.txt | grep -v -E '^framepipe: [0-9]+ frames in' | tail -1)
  case "$msg" in *"$file"*) ;; *) fail "message does not name '$file': $msg";; esac
  case "$msg" in *": $stage:"*|*": $stage "*) ;; *) fail "message does not name stage '$stage': $msg";; esac
  if [ -n "$out" ]; then
    [ ! -e "$out" ] || fail "output $out exists after failure"
    local d; d=$(dirname "$out")
    if [ -d "$d" ] && ls -a "$d" | grep -q -E '\.tmp-|\.part-'; then fail "temporary file left in $d"; fi
  fi
  echo "  ok: $msg"
}

float_path() {
  # The float path (crop/scale/key) needs the colour module; the command says so with exit 4.
  "$FP" transcode "$C/h264.mp4" -o probe_float.mkv --scale 80x60 2> ferr.txt; local rc=$?
  rm -f probe_float.mkv
  if [ $rc -eq 4 ] && grep -q "colour kernels" ferr.txt; then return 1; fi
  return 0
}

case "$CASE" in
# ---------------------------------------------------------------- probe
probe)
  run_ok probe --json "$C/h264.mp4" > p.json || exit 1
  check "probe json" python3 - p.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = [s for s in d["streams"] if s["type"] == "video"][0]
a = [s for s in d["streams"] if s["type"] == "audio"]
assert v["codec"] == "h264" and v["width"] == 160 and v["height"] == 120, v
assert v["pix_fmt"] == "yuv420p" and v["bit_depth"] == 8 and not v["alpha"], v
assert abs(v["fps"] - 25) < 1e-6 and v["vfr"] is False, v
assert abs(d["duration"] - 2.0) < 0.1, d["duration"]
assert len(a) == 1 and a[0]["sample_rate"] == 48000, a
assert d["decode"]["path"] in ("cpu", "nvdec") and d["decode"]["reason"], d["decode"]
PY
  run_ok probe --json "$C/vfr.mkv" > v.json || exit 1
  check "vfr detected" python3 -c 'import json,sys; v=[s for s in json.load(open("v.json"))["streams"] if s["type"]=="video"][0]; assert v["vfr"] is True, v'
  run_ok probe --json "$C/hevc10.mkv" > h.json || exit 1
  check "10-bit reported" python3 -c 'import json; v=json.load(open("h.json"))["streams"][0]; assert v["bit_depth"]==10 and v["pix_fmt"]=="yuv420p10le", v'
  run_ok probe --json "$C/alpha.mov" > a.json || exit 1
  check "alpha reported" python3 -c 'import json; v=json.load(open("a.json"))["streams"][0]; assert v["alpha"] is True, v'
  # --progress json: machine-readable lines ending with a "done" event
  "$FP" -q transcode "$C/h264.mp4" -o pj.mkv -c:v ffv1 --progress json 2> pj.txt || fail "progress run"
  check "progress json" python3 - pj.txt <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert lines and lines[-1]["event"] == "done" and lines[-1]["frames"] == 50, lines
PY
  run_ok probe "$C/subs.mkv" > s.txt || exit 1
  check "text probe lists subtitle and chapters" grep -q "subtitle" s.txt
  check "chapters" grep -q "2 chapter" s.txt
  ;;
decode-gpu-unavailable)
  # No GPU here: --decode gpu is a device error (7) with CUDA built, "unsupported" (4) without.
  if [ -e /dev/nvidia0 ]; then skip "a GPU is present"; fi
  want=4; [ "$HAVE_CUDA" = 1 ] && want=7
  expect_fail $want h264.mp4 decode out.mkv transcode "$C/h264.mp4" -o out.mkv --decode gpu
  # auto falls back to the CPU and says why at -v
  "$FP" -v transcode "$C/h264.mp4" -o auto.mkv 2> v.txt || fail "auto decode failed"
  check "fallback reason logged" grep -q "CPU decode:" v.txt
  ;;
# ---------------------------------------------------------------- decoding every codec
codecs)
  for f in h264.mp4 hevc10.mkv vp9.webm av1.mkv prores.mov h264_10.mkv; do
    want=$(nframes "$C/$f")
    run_ok transcode "$C/$f" -o "o_$f.mkv" -c:v ffv1 -an || continue
    check "$f: frame count" eq "$(nframes "o_$f.mkv")" "$want"
    check "$f: same timestamps" eq "$(vpts "o_$f.mkv")" "$(vpts "$C/$f")"
  done
  ;;
ten-bit)
  run_ok transcode "$C/hevc10.mkv" -o o.mkv -c:v libx265 -x265-params log-level=none -an || exit 1
  check "10-bit kept" eq "$(pixfmt o.mkv)" yuv420p10le
  expect_fail 4 o8.webm configure o8.webm transcode "$C/hevc10.mkv" -o o8.webm -c:v libvpx -an
  grep -q "10-bit" err.txt || fail "message names the bit depth"
  # explicit --pix-fmt accepts the conversion
  run_ok transcode "$C/hevc10.mkv" -o o8.webm -c:v libvpx --pix-fmt yuv420p -an && check "8-bit" eq "$(pixfmt o8.webm)" yuv420p
  ;;
# ---------------------------------------------------------------- encoders and containers
encoders)
  run_ok transcode "$C/h264.mp4" -o vp9.webm -an -c:v libvpx-vp9 -deadline realtime -cpu-used 8 && check "vp9" eq "$(nframes vp9.webm)" 50
  run_ok transcode "$C/h264.mp4" -o pr.mov && check "prores default 422 HQ" eq "$(ffprobe -v error -show_entries stream=profile -of csv=p=0 -select_streams v pr.mov)" "HQ"
  run_ok transcode "$C/h264.mp4" -o x5.mp4 -c:v libx265 -x265-params log-level=none -preset ultrafast && check "x265" eq "$(nframes x5.mp4)" 50
  run_ok transcode "$C/h264.mp4" -o av1.mkv -c:v libsvtav1 -preset 12 && check "svt-av1" eq "$(nframes av1.mkv)" 50
  run_ok transcode "$C/h264.mp4" -o x4.mp4 -c:v libx264 -crf 30 -preset veryfast -g 12 && check "x264" eq "$(nframes x4.mp4)" 50
  # -g passes through: keyframes every 12 frames
  check "-g 12 honoured" eq "$(ffprobe -v error -select_streams v -show_entries packet=flags -of csv=p=0 x4.mp4 | grep -c K)" 5
  expect_fail 2 x.mkv encode x.mkv transcode "$C/h264.mp4" -o x.mkv -c:v libx264 -nosuchoption 3
  # NVENC absent (no GPU here; the H100 has none either): falls back to libx264 with one line
  if [ ! -e /dev/nvidia0 ]; then
    "$FP" transcode "$C/h264.mp4" -o nv.mp4 -c:v h264_nvenc 2> nv.txt || fail "h264_nvenc fallback failed ($(cat nv.txt))"
    check "fallback reason" grep -q "h264_nvenc unavailable.*using libx264" nv.txt
    check "fallback output" eq "$(nframes nv.mp4)" 50
  fi
  expect_fail 4 x.mkv configure x.mkv transcode "$C/h264.mp4" -o x.mkv -c:v nosuchencoder
  ;;
alpha)
  run_ok transcode "$C/alpha.mov" -o a.webm -c:v libvpx-vp9 -deadline realtime -cpu-used 8 || exit 1
  check "vp9 alpha as libvpx decodes it" eq "$(vp9pixfmt a.webm)" yuva420p
  check "frames" eq "$(nframes a.webm)" 25
  run_ok transcode "$C/alpha.mov" -o a.mov && check "prores 4444 (decoded as 12-bit)" eq "$(pixfmt a.mov)" yuva444p12le
  check "prores 4444 profile" eq "$(ffprobe -v error -select_streams v -show_entries stream=profile -of csv=p=0 a.mov)" 4444
  run_ok transcode "$C/alpha.mov" -o a.mkv && check "ffv1 alpha" eq "$(pixfmt a.mkv | cut -c1-4)" yuva
  # the alpha gradient (a = 4x, 10-bit) survives into VP9 alpha: left column ~0, column 60 ~ 240/1023*255
  ffmpeg -v error -c:v libvpx-vp9 -i a.webm -vf "alphaextract" -frames:v 1 -f rawvideo -pix_fmt gray alpha.raw
  check "alpha values" python3 - alpha.raw <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
w = 160
row = b[60 * w:61 * w]
assert row[0] < 8, row[0]
assert abs(row[60] - round(240 / 1023 * 255)) <= 8, row[60]
assert row[159] > 150, row[159]
PY
  expect_fail 4 a.mp4 configure a.mp4 transcode "$C/alpha.mov" -o a.mp4
  grep -q "libvpx-vp9" err.txt || fail "refusal lists options"
  expect_fail 4 a2.mp4 configure a2.mp4 transcode "$C/alpha.mov" -o a2.mp4 -c:v libvpx-vp9
  ;;
# ---------------------------------------------------------------- mux: audio, subtitles, chapters, VFR
streams)
  run_ok transcode "$C/subs.mkv" -o o.mkv -c:v libx264 -preset veryfast || exit 1
  check "audio present" eq "$(nstreams o.mkv a)" 1
  check "subtitles present" eq "$(nstreams o.mkv s)" 1
  check "audio duration kept" near "$(ffprobe -v error -select_streams a -show_entries packet=pts_time,duration_time -of csv=p=0 o.mkv | awk -F, '{e=$1+$2} END{print e}')" \
                                     "$(ffprobe -v error -select_streams a -show_entries packet=pts_time,duration_time -of csv=p=0 "$C/subs.mkv" | awk -F, '{e=$1+$2} END{print e}')" 0.001
  check "chapters copied" eq "$(ffprobe -v error -show_chapters -of csv=p=0 o.mkv | wc -l)" 2
  check "metadata copied" eq "$(ffprobe -v error -show_entries format_tags=title -of csv=p=0 o.mkv)" "framepipe test clip"
  check "subtitle text" eq "$(ffmpeg -v error -i o.mkv -map 0:s -f srt - | grep -c -E 'hello|world')" 2
  # -c:a copy into a container that cannot hold the source's audio is refused with the options
  # (without -c:a the audio is transcoded: case audio)
  expect_fail 4 o.webm configure o.webm transcode "$C/subs.mkv" -o o.webm -sn -c:a copy
  grep -q -- "-an" err.txt || fail "refusal suggests -an"
  grep -q -- "-c:a libopus" err.txt || fail "refusal suggests -c:a libopus"
  # subtitles WebM cannot hold (SRT) are still refused: only audio is converted
  expect_fail 4 o.webm configure o.webm transcode "$C/subs.mkv" -o o.webm
  grep -q -- "-sn" err.txt || fail "subtitle refusal suggests -sn"
  run_ok transcode "$C/subs.mkv" -o o2.mkv -an -sn && check "-an -sn" eq "$(nstreams o2.mkv a)$(nstreams o2.mkv s)" 00
  ;;
audio)
  # audio the container cannot hold is transcoded: AAC -> Opus for WebM, Opus -> AAC for MOV; the output
  # has as many samples as the source (resampled to the output rate) within one encoder frame
  samples() { ffmpeg -v error -i "$1" -map 0:a:0 -ac 1 -ar "$2" -f s16le - | wc -c | awk '{ print $1 / 2 }'; }
  acodec() { ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$1"; }
  abytes() { ffprobe -v error -select_streams a:0 -show_entries packet=size -of csv=p=0 "$1" | awk '{ s += $1 } END { print s }'; }
  encs=$(ffmpeg -hide_banner -encoders 2>/dev/null)
  case "$encs" in *" libopus "*) ;; *) skip "this FFmpeg has no libopus";; esac
  run_ok transcode "$C/subs.mkv" -o o.webm -sn -c:v libvpx-vp9 -deadline realtime -cpu-used 8 || exit 1
  check "AAC into WebM: Opus" eq "$(acodec o.webm)" opus
  check "Opus samples = source samples (48 kHz, within one 960-sample frame)" \
    near "$(samples o.webm 48000)" "$(samples "$C/subs.mkv" 48000)" 960
  check "audio ends with the source's" near "$(dur o.webm a:0)" "$(dur "$C/subs.mkv" a:0)" 0.03
  check "video frames kept" eq "$(nframes o.webm)" 50
  if [ -f "$C/vp9.webm" ] && [ "$(acodec "$C/vp9.webm")" = opus ]; then
    run_ok transcode "$C/vp9.webm" -o o.mov -c:v prores_ks || exit 1
    check "Opus into MOV: AAC" eq "$(acodec o.mov)" aac
    check "AAC samples = source samples (within one 1024-sample frame)" \
      near "$(samples o.mov 48000)" "$(samples "$C/vp9.webm" 48000)" 1024
  fi
  run_ok transcode "$C/subs.mkv" -o lo.webm -sn -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:a 24k || exit 1
  run_ok transcode "$C/subs.mkv" -o hi.webm -sn -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:a 192k || exit 1
  check "-b:a 24k writes less audio than -b:a 192k" test "$(abytes lo.webm)" -lt "$(( $(abytes hi.webm) / 3 ))"
  if case "$encs" in *" libvorbis "*) true;; *) false;; esac; then
    run_ok transcode "$C/subs.mkv" -o v.webm -sn -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libvorbis &&
      check "-c:a libvorbis" eq "$(acodec v.webm)" vorbis
  fi
  # -c:a into a container that holds the source's codec still transcodes (asked for), -c:a copy copies
  run_ok transcode "$C/subs.mkv" -o c.mkv -c:v libx264 -preset veryfast -c:a libopus && check "-c:a libopus into mkv" eq "$(acodec c.mkv)" opus
  run_ok transcode "$C/subs.mkv" -o k.mkv -c:v libx264 -preset veryfast -c:a copy && check "-c:a copy" eq "$(acodec k.mkv)" aac
  run_ok transcode "$C/subs.mkv" -o n.webm -sn -an -c:v libvpx-vp9 -deadline realtime -cpu-used 8 && check "-an" eq "$(nstreams n.webm a)" 0
  "$FP" transcode "$C/subs.mkv" -o x.webm -b:a lots 2> err.txt; check "-b:a lots: usage error (exit 2)" eq $? 2
  grep -q -- "-b:a 'lots'" err.txt || fail "the -b:a error names the value"
  expect_fail 2 x.webm configure x.webm transcode "$C/subs.mkv" -o x.webm -sn -c:a nosuchcodec
  ;;
vfr)
  run_ok transcode "$C/vfr.mkv" -o o.mkv -c:v libx264 || exit 1
  check "VFR timestamps kept" eq "$(vpts o.mkv)" "$(vpts "$C/vfr.mkv")"
  run_ok transcode "$C/vfr.mkv" -o f.mkv -c:v libx264 --fps 10 || exit 1
  # 25 frames at 40 ms (1.0 s) + 20 frames at 100 ms (2.0 s, the last lasting its 100 ms) = 3.0 s -> 30 at 10 fps
  check "--fps 10 frame count" eq "$(nframes f.mkv)" 30
  check "--fps 10 timestamps" eq "$(vpts f.mkv | tail -1)" "2.900000"
  ;;
range)
  # frames with pts in [0.4 s, 1.2 s) at 25 fps: 20 frames, the first at 0.4 s
  run_ok transcode "$C/h264.mp4" -o r.mkv -c:v ffv1 --start 0.4 --end 1.2 || exit 1
  check "range count" eq "$(nframes r.mkv)" 20
  check "range first pts" eq "$(vpts r.mkv | head -1)" "0.400000"
  check "audio limited to the range" near "$(aspan r.mkv)" 0.8 0.05
  ;;
# ---------------------------------------------------------------- parallel encoding
pool)
  for spec in "libx264 mp4 -preset veryfast" "libvpx-vp9 webm -deadline realtime -cpu-used 8" "prores_ks mov" "ffv1 mkv"; do
    set -- $spec; enc=$1; ext=$2; shift 2
    src="$C/h264.mp4"; [ "$enc" = libvpx-vp9 ] && src="$C/alpha.mov"
    run_ok transcode "$src" -o "one.$ext" -an -c:v $enc --encoders 1 --segment-frames 8 "$@" || continue
    run_ok transcode "$src" -o "four.$ext" -an -c:v $enc --encoders 4 --segment-frames 8 "$@" || continue
    check "$enc: frame count equal" eq "$(nframes "four.$ext")" "$(nframes "one.$ext")"
    check "$enc: timestamps equal" eq "$(vpts "four.$ext")" "$(vpts "one.$ext")"
    check "$enc: dts strictly increasing" python3 - "four.$ext" <<'PY'
import subprocess, sys
out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=dts",
                      "-of", "csv=p=0", sys.argv[1]], capture_output=True, text=True).stdout.split()
d = [int(x.split(",")[0]) for x in out if x.split(",")[0] not in ("", "N/A")]
assert all(b > a for a, b in zip(d, d[1:])), d
PY
    [ "$enc" = libvpx-vp9 ] && check "vp9 pool keeps alpha" eq "$(vp9pixfmt four.webm)" yuva420p
    [ "$enc" = ffv1 ] || [ "$enc" = prores_ks ] && check "$enc: intra codec pool output identical" \
        eq "$(ffmpeg -v error -i four.$ext -map 0:v -f framemd5 - | grep -v '^#')" "$(ffmpeg -v error -i one.$ext -map 0:v -f framemd5 - | grep -v '^#')"
  done
  ;;
# ---------------------------------------------------------------- bad input
missing-file)      expect_fail 3 nosuch.mp4 open out.mkv transcode "$W/nosuch.mp4" -o out.mkv ;;
not-a-video)
  expect_fail 3 notvideo.txt demux out.mkv transcode "$C/notvideo.txt" -o out.mkv
  expect_fail 3 audio_only.wav demux out.mkv transcode "$C/audio_only.wav" -o out.mkv
  grep -q "no video stream" err.txt || fail "says no video stream"
  ;;
zero-length)
  expect_fail 3 empty.mp4 demux out.mkv transcode "$C/empty.mp4" -o out.mkv
  grep -q "empty file" err.txt || fail "says the file is empty"
  ;;
truncated)
  expect_fail 3 truncated.mp4 demux out.mkv transcode "$C/truncated.mp4" -o out.mkv
  # a truncated stream without an index decodes what is there; the cut is reported, not hidden
  head -c $(( $(stat -c %s "$C/corrupt.ts") / 3 )) "$C/h264.mp4" > /dev/null
  ;;
corrupt)
  expect_fail 3 corrupt.ts decode out.mkv transcode "$C/corrupt.ts" -o out.mkv -c:v ffv1
  grep -q "max-errors" err.txt || fail "message names --max-errors"
  "$FP" transcode "$C/corrupt.ts" -o ok.mkv -c:v ffv1 --max-errors -1 2> err2.txt || fail "--max-errors -1 should pass"
  n=$(sed -n 's/.*; \([0-9]*\) corrupt$/\1/p' err2.txt)
  [ -n "$n" ] && [ "$n" -gt 0 ] || fail "corrupt count reported ($(cat err2.txt))"
  [ -f ok.mkv ] || fail "output published with --max-errors -1"
  expect_fail 3 corrupt.ts decode out3.mkv transcode "$C/corrupt.ts" -o out3.mkv -c:v ffv1 --max-errors $((n - 1))
  ;;
unsupported-codec) expect_fail 4 mystery.mkv decode out.mkv transcode "$C/mystery.mkv" -o out.mkv ;;
odd-dimensions)
  run_ok transcode "$C/odd.mkv" -o o.mkv -c:v ffv1 || exit 1
  check "161x121 kept" eq "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 o.mkv)" "161,121"
  check "frames" eq "$(nframes o.mkv)" 25
  expect_fail 4 o.mp4 configure o.mp4 transcode "$C/odd.mkv" -o o.mp4 -c:v libx264
  ;;
# ---------------------------------------------------------------- bad output
output-missing-dir) expect_fail 5 out.mkv output "$W/nodir/out.mkv" transcode "$C/h264.mp4" -o "$W/nodir/out.mkv" ;;
output-not-a-dir)
  echo x > afile
  expect_fail 5 out.mkv output "" transcode "$C/h264.mp4" -o "$W/afile/out.mkv"
  ;;
output-read-only)
  mkdir ro
  if mount --bind ro ro 2>/dev/null && mount -o remount,bind,ro ro 2>/dev/null; then
    expect_fail 5 out.mkv output "$W/ro/out.mkv" transcode "$C/h264.mp4" -o "$W/ro/out.mkv"
    umount ro
  elif [ "$(id -u)" != 0 ]; then
    chmod 555 ro
    expect_fail 5 out.mkv output "$W/ro/out.mkv" transcode "$C/h264.mp4" -o "$W/ro/out.mkv"
  else
    skip "root without mount: cannot make a read-only directory"
  fi
  ;;
disk-full)
  mkdir small
  if mount -t tmpfs -o size=64k tmpfs small 2>/dev/null; then
    expect_fail 5 big.mkv output "$W/small/big.mkv" transcode "$C/prores.mov" -o "$W/small/big.mkv" -c:v ffv1
    umount small
  else
    # no mount here: a 64 KiB file-size limit (SIGXFSZ ignored so write() fails with EFBIG)
    ( trap '' XFSZ; ulimit -f 64; exec "$FP" transcode "$C/prores.mov" -o "$W/small/big.mkv" -c:v ffv1 ) 2> err.txt
    rc=$?
    [ $rc -eq 5 ] || fail "disk full -> exit $rc, expected 5 ($(cat err.txt))"
    grep -q "big.mkv: output:" err.txt || fail "message: $(cat err.txt)"
    [ ! -e small/big.mkv ] || fail "partial output published"
    ls -a small | grep -q -E '\.tmp-|\.part-' && fail "temporary file left"
    echo "  ok: $(grep '^framepipe: ' err.txt | tail -1)"
  fi
  ;;
interrupt)
  "$FP" transcode "$C/prores.mov" -o big.webm -an -c:v libvpx-vp9 -deadline good -cpu-used 0 --encoders 1 -threads 1 2> err.txt &
  pid=$!
  # signal only once the run is under way (its temporary output exists): before the handlers are
  # installed a background job's SIGINT is ignored
  for i in $(seq 100); do ls -a | grep -q -E '\.tmp-' && break; sleep 0.2; done
  sleep 0.5
  kill -INT $pid
  wait $pid; rc=$?
  [ $rc -eq 130 ] || fail "SIGINT -> exit $rc, expected 130 ($(cat err.txt))"
  grep -q "interrupted" err.txt || fail "says interrupted"
  [ ! -e big.webm ] || fail "output exists after interrupt"
  ls -a | grep -q -E '\.tmp-|\.part-' && fail "temporary file left"
  ;;
watchdog)
  mkfifo stall.ts
  ffmpeg -v error -i "$C/h264.mp4" -c copy -f mpegts stall_src.ts
  ( head -c 20000 stall_src.ts; sleep 20 ) > stall.ts &
  feeder=$!
  start=$(date +%s)
  expect_fail 8 stall.ts demux out.mkv transcode "$W/stall.ts" -o out.mkv --watchdog 2
  grep -q "stalled" err.txt || fail "message says stalled"
  [ $(( $(date +%s) - start )) -lt 15 ] || fail "watchdog took too long"
  kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
  ;;
# ---------------------------------------------------------------- float path: crop, scale, key
crop-scale)
  float_path || skip "built without the colour kernels (src/gpu fp_image): crop/scale unavailable"
  run_ok transcode "$C/h264.mp4" -o c.mkv -c:v ffv1 --crop 80x60+10+20 --scale 40x30 || exit 1
  check "size" eq "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 c.mkv)" "40,30"
  check "frames" eq "$(nframes c.mkv)" 50
  ;;
key)
  float_path || skip "built without the colour kernels (src/gpu fp_image): key unavailable"
  run_ok key "$C/green.mkv" -o k.webm --color 00FF00 --tolerance 0.1 --softness 0 -deadline realtime -cpu-used 8 || exit 1
  check "vp9 alpha" eq "$(vp9pixfmt k.webm)" yuva420p
  ffmpeg -v error -c:v libvpx-vp9 -i k.webm -vf alphaextract -frames:v 1 -f rawvideo -pix_fmt gray a.raw
  check "keyed pattern: background 0, red box 255" python3 - a.raw <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
w, h = 160, 120
at = lambda x, y: b[y * w + x]
for (x, y) in [(5, 5), (150, 110), (20, 60), (140, 10)]:
    assert at(x, y) <= 8, ((x, y), at(x, y))
for (x, y) in [(80, 60), (45, 35), (115, 85)]:
    assert at(x, y) >= 247, ((x, y), at(x, y))
PY
  expect_fail 4 k.mp4 configure k.mp4 key "$C/green.mkv" -o k.mp4 --color 00FF00
  ;;
# ---------------------------------------------------------------- GPU machine (label gpu)
nvdec)
  [ -e /dev/nvidiactl ] || [ -e /dev/nvidia0 ] || skip "no NVIDIA GPU"
  run_ok probe --json "$C/h264.mp4" > p.json || exit 1
  check "probe says nvdec" python3 -c 'import json; d=json.load(open("p.json"))["decode"]; assert d["path"]=="nvdec", d'
  if [ -f "$C/av1.mkv" ]; then
    run_ok probe --json "$C/av1.mkv" > a.json || exit 1
    echo "  av1: $(python3 -c 'import json; print(json.load(open("a.json"))["decode"])')"
  fi
  # NVDEC clips of their own, 256x144: NVDEC's VP9 minimum is 128x128 in both dimensions (the shared
  # 160x120 clips are below it, and their refusal is checked below). Made here, not in make_clips.sh,
  # so the CPU cases keep their tiny clips.
  N=nv; mkdir -p "$N"
  NV="testsrc2=size=256x144:rate=25:duration=2"
  ffmpeg -nostdin -y -v error -f lavfi -i "$NV" -c:v libx264 -pix_fmt yuv420p -g 25 "$N/h264.mp4" || fail "make nv/h264.mp4"
  # without libx265 (the GPU machine's FFmpeg), the same clip made beforehand by scripts/fetch-gpu-deps.sh
  G=${FP_GPU_CLIPS:-$(cd "$(dirname "$0")/../.." && pwd)/.gpu-deps/clips}
  ffmpeg -nostdin -y -v error -f lavfi -i "$NV" -c:v libx265 -pix_fmt yuv420p10le -x265-params log-level=none "$N/hevc10.mkv" 2>/dev/null \
    || { rm -f "$N/hevc10.mkv"; cp "$G/hevc10_256x144.mkv" "$N/hevc10.mkv" 2>/dev/null && echo "  (hevc10 from $G)"; } \
    || echo "  (hevc10 not made: no libx265 in this FFmpeg and no $G/hevc10_256x144.mkv)"
  ffmpeg -nostdin -y -v error -f lavfi -i "$NV" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 "$N/vp9.webm" || fail "make nv/vp9.webm"
  for f in h264.mp4 hevc10.mkv vp9.webm; do
    [ -f "$N/$f" ] || { echo "  ($f not made by this FFmpeg)"; continue; }
    run_ok transcode "$N/$f" -o "g_$f.mkv" -c:v ffv1 -an --decode gpu || continue
    run_ok transcode "$N/$f" -o "c_$f.mkv" -c:v ffv1 -an --decode cpu || continue
    check "$f: NVDEC frames" eq "$(nframes "g_$f.mkv")" "$(nframes "c_$f.mkv")"
    check "$f: NVDEC timestamps" eq "$(vpts "g_$f.mkv")" "$(vpts "c_$f.mkv")"
    check "$f: NVDEC pixels equal the CPU decoder's" eq \
      "$(ffmpeg -v error -i "g_$f.mkv" -f framemd5 - | grep -v '^#' | md5sum)" "$(ffmpeg -v error -i "c_$f.mkv" -f framemd5 - | grep -v '^#' | md5sum)"
  done
  # below NVDEC's minimum size: refused with --decode gpu, with the size rule as the reason
  expect_fail 4 vp9.webm decode x.mkv transcode "$C/vp9.webm" -o x.mkv -an --decode gpu
  check "small VP9: the reason names NVDEC's size range" grep -q "160x120 is outside NVDEC's" err.txt
  run_ok transcode "$C/vp9.webm" -o small_auto.mkv -c:v ffv1 -an
  check "small VP9: auto falls back to the CPU" eq "$(nframes small_auto.mkv)" "$(nframes "$C/vp9.webm")"
  # a stream NVDEC cannot take (AV1 on Hopper, ProRes) falls back in auto and is refused with --decode gpu
  run_ok transcode "$C/prores.mov" -o p.mkv -c:v ffv1 -an
  expect_fail 4 prores.mov decode x.mkv transcode "$C/prores.mov" -o x.mkv --decode gpu
  ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac

[ $fails -eq 0 ] && { echo "[$CASE] passed"; exit 0; }
echo "[$CASE] $fails failure(s)" >&2
exit 1
