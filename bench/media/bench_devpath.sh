#!/bin/bash
# Device path vs host path (FP_HOST_PATH=1) on the same NVDEC input, `-o null` (no encoder): the key on
# 1080p and 4K H.264 and, when a full-size RVM export is given, matte on 1080p (fp16 and fp32 compute).
# Prints one row per run: fps end to end and the busy time of the process stage (key) or the matte
# per-stage table's model/convert fps.
# Usage: bench_devpath.sh FRAMEPIPE FFMPEG OUTDIR [SECONDS=10] [RVM_MODEL.onnx]
set -uo pipefail
FP=$1; FF=$2; OUT=$3; SECS=${4:-10}; MODEL=${5:-}
mkdir -p "$OUT"
gen() { [ -f "$OUT/$1" ] || "$FF" -nostdin -y -v error -f lavfi -i "testsrc2=size=$2:rate=30:duration=$SECS" -c:v libx264 -preset veryfast -pix_fmt yuv420p "$OUT/$1" || { rm -f "$OUT/$1"; return 1; }; }
gen dp_1080.mp4 1920x1080 && gen dp_2160.mp4 3840x2160 || exit 1
date -u +"%Y-%m-%d %H:%M UTC"
printf "%-34s %-6s %10s %s\n" run path fps detail
for f in dp_1080.mp4 dp_2160.mp4; do
  for p in dev host; do
    h=0; [ $p = host ] && h=1
    FP_HOST_PATH=$h "$FP" key "$OUT/$f" -o null --color 00FF00 -an >"$OUT/key_${f%.mp4}_$p.log" 2>&1 || { echo "FAILED key $f $p"; continue; }
    awk -v r="key $f" -v p=$p '/frames in/ { for (i = 1; i <= NF; i++) if ($i == "in" && $(i+2) == "s;") s = $(i+1); n = $2 }
      /^process / { busy = $4 } END { printf "%-34s %-6s %10.1f process busy %s s\n", r, p, n / s, busy }' "$OUT/key_${f%.mp4}_$p.log"
  done
done
if [ -n "$MODEL" ] && [ -f "$MODEL" ]; then
  for prec in fp16 fp32; do
    for p in dev host; do
      h=0; [ $p = host ] && h=1
      FP_HOST_PATH=$h "$FP" matte "$OUT/dp_1080.mp4" -o null --model "$MODEL" --backend cuda --precision $prec -an \
        >"$OUT/matte_${prec}_$p.log" 2>&1 || { echo "FAILED matte $prec $p"; continue; }
      awk -v r="matte 1080p $prec" -v p=$p '/frames in/ { gsub(/[()]/, ""); fps = $7 } /^  model/ { m = $3 } /^  convert/ { c = $3 }
        END { printf "%-34s %-6s %10.1f model %s fps, convert %s fps\n", r, p, fps, m, c }' "$OUT/matte_${prec}_$p.log"
    done
  done
fi
