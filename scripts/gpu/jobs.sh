#!/bin/bash
# GPU-machine checks and benchmarks of the jobs module, given a built tree (builds nothing). Called by
# scripts/gpu-check.sh (test, bench). There the module is built with what loads on Ubuntu 24.04: the
# SQLite queue, file store, worker and local --chunks runs always; PostgreSQL, S3 and serve only when
# src/jobs/CMakeLists.txt found their libraries and a program using them ran (see the build log's
# "jobs:" lines), so their tests exist only then.
# Usage: scripts/gpu/jobs.sh test|bench [BUILD_DIR (default $FP_BUILD or build-gpu)]
#   test:  the jobs tests that this build has (ctest -R '^jobs\.' -LE slow; matte over many files through
#          the queue is jobs.matte.many), and `worker --gpus all` on this machine's GPUs
#   bench: queue cycles/s on SQLite with 1/8/64 workers; `framepipe transcode --chunks N` of a long
#          1080p clip with N = 1, 2, 4, 8, 16 local workers against the plain (pooled) run; speed-up table
# Environment: JOBS_BENCH_SECONDS (clip length, default 60), JOBS_QUEUE_SECONDS (per queue run, 5).
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?test|bench}
build=$(cd "${2:-${FP_BUILD:-build-gpu}}" && pwd) || { echo "no build dir"; exit 2; }
[ -d /tmp/ffmin/bin ] && export PATH="/tmp/ffmin/bin:$PATH"
[ -d /tmp/ffmin/lib ] && export LD_LIBRARY_PATH="/tmp/ffmin/lib:${LD_LIBRARY_PATH:-}"
fp=$build/framepipe
[ -x "$fp" ] || { echo "jobs: $fp missing (built with -DFP_JOBS=OFF?)"; exit 2; }
echo "jobs: machine $(nproc) cores, $(date -u +%FT%TZ); parts: $(grep -E '^-- jobs:' "${FP_OUT:-gpu-out}/build.log" 2>/dev/null | tr '\n' ' ')"

case "$mode" in
test)
  (cd "$build" && ctest -R '^jobs\.' -LE slow --output-on-failure --timeout 300) > /tmp/fp-jobs-ctest.log 2>&1
  rc=$?
  cat /tmp/fp-jobs-ctest.log
  p=$(grep -cE 'Test +#[0-9]+: .* +Passed' /tmp/fp-jobs-ctest.log)
  f=$(grep -cE 'Test +#[0-9]+: .* \*\*\*(Failed|Timeout|Exception)|Not Run' /tmp/fp-jobs-ctest.log)
  s=$(grep -cE 'Test +#[0-9]+: .* \*\*\*Skipped' /tmp/fp-jobs-ctest.log)
  # worker --gpus all on a GPU machine: one worker thread per GPU, named ...:gpuN:0, idle exit 0
  d=$(mktemp -d /tmp/fp-jobs-gpus-XXXXXX)
  "$fp" -v worker --queue "sqlite:$d/q.db" --gpus all --exit-when-idle --poll 0.05 2>"$d/err.txt"
  wrc=$?
  if [ $wrc = 0 ] && grep -q ":gpu0:0: polling" "$d/err.txt"; then
    p=$((p + 1)); echo "ok: worker --gpus all started $(grep -c ':gpu[0-9]*:0: polling' "$d/err.txt") GPU worker(s)"
  else
    f=$((f + 1)); echo "FAIL: worker --gpus all rc=$wrc"; cat "$d/err.txt"
  fi
  rm -rf "$d"
  echo "jobs: $p passed, $f failed ($s skipped)"
  [ $rc = 0 ] && [ $f = 0 ]
  ;;
bench)
  d=$(mktemp -d /tmp/fp-jobs-bench-XXXXXX)
  trap 'rm -rf "$d"' EXIT
  echo "## queue: claim+heartbeat+complete cycles/s, SQLite (WAL) on local disk"
  for w in 1 8 64; do
    "$build/tests/jobs/bench_queue" "sqlite:$d/bench-$w.db" "$w" "${JOBS_QUEUE_SECONDS:-5}"
  done
  secs=${JOBS_BENCH_SECONDS:-60}
  echo "## chunked transcode: ${secs} s 1920x1080 25 fps H.264 (2 s closed GOPs) + AAC -> libx264 veryfast, 2 s chunks"
  t0=$(date +%s.%N)
  ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=25 -f lavfi -i sine -t "$secs" \
    -c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -c:a aac -shortest "$d/in.mp4" || exit 1
  echo "clip made in $(echo "$(date +%s.%N) - $t0" | bc) s"
  want=$((secs * 25))
  frames() { ffprobe -v error -select_streams v -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1"; }
  run() { # run NAME ARGS... -> prints "NAME seconds frames"
    local name=$1; shift
    local s e
    s=$(date +%s.%N)
    "$fp" -q transcode "$d/in.mp4" -o "$d/$name.mp4" -c:v libx264 -preset veryfast "$@" 2>"$d/$name.err" || { echo "$name FAILED"; cat "$d/$name.err"; return; }
    e=$(date +%s.%N)
    echo "$name $(echo "$e - $s" | bc) $(frames "$d/$name.mp4")"
    rm -f "$d/$name.mp4"
  }
  {
    run plain
    for n in 1 2 4 8 16; do run "chunks$n" --chunks "$n" --chunk-seconds 2; done
  } > "$d/runs.txt"
  cat "$d/runs.txt"
  echo
  echo "| run | workers | seconds | fps | speed-up vs --chunks 1 | frames (want $want) |"
  echo "|---|---|---|---|---|---|"
  base=$(awk '$1 == "chunks1" { print $2 }' "$d/runs.txt")
  awk -v want="$want" -v base="$base" '$3 != "" {
      if ($1 == "plain") { label = "plain transcode"; w = "pool" } else { w = substr($1, 7); label = "--chunks " w }
      up = base > 0 ? sprintf("%.2fx", base / $2) : "-"
      bad = ($3 == want) ? "" : " MISMATCH"
      printf "| %s | %s | %.2f | %.1f | %s | %s%s |\n", label, w, $2, want / $2, up, $3, bad }' "$d/runs.txt"
  ;;
*) echo "usage: $0 test|bench [BUILD_DIR]" >&2; exit 2 ;;
esac
