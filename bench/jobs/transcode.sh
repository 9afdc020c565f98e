#!/bin/sh
# Chunked transcode speed-up: one 20 s 320x240 clip, 2 s chunks re-encoded with libx264, run by one
# `framepipe worker` with --concurrency 1, then 2 (and more if given). usage: bench/jobs/transcode.sh FRAMEPIPE [N...]
set -eu
fp=$1; shift
d=$(mktemp -d /tmp/fp-bench-tc-XXXXXX)
trap 'rm -rf "$d"' EXIT
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t 20 -c:v libx264 \
  -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -c:a aac -shortest "$d/in.mp4"
for n in ${*:-1 2}; do
  "$fp" submit "$d/in.mp4" --task transcode -o "$d/out$n.mp4" --chunk-seconds 2 --params '{"vcodec":"libx264"}' \
    --queue "sqlite:$d/q$n.db" --storage "file://$d/st$n" >/dev/null
  s=$(date +%s.%N)
  "$fp" worker --queue "sqlite:$d/q$n.db" --exit-when-idle --poll 0.05 --concurrency "$n" 2>/dev/null
  e=$(date +%s.%N)
  echo "workers $n: $(echo "$e - $s" | bc) s ($(uptime | sed 's/.*load/load/'))"
done
