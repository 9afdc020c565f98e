#!/bin/sh
# test_cli — the job commands through the framepipe binary: submit prints an id, worker drains the
# queue, status/cancel/redrive, documented exit codes for bad input, and SIGTERM letting a worker
# finish its current chunk before exiting 0, or release it when it would overrun --grace. usage: test_cli.sh FRAMEPIPE
set -u
fp=$1
d=$(mktemp -d /tmp/fp-jobs-cli-XXXXXX)
trap 'rm -rf "$d"' EXIT
pass=0 fail=0
check() { # check DESCRIPTION COMMAND...
  desc=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $desc"; fi
}
ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=64x48:rate=25 -f lavfi -i sine -t 2 -c:v libx264 \
  -preset ultrafast -g 10 -keyint_min 10 -sc_threshold 0 -c:a aac -shortest "$d/in.mp4" || { echo "no ffmpeg/x264: skipped"; exit 77; }
q="sqlite:$d/q.db"
export FP_STORAGE="file://$d/store"

id=$("$fp" submit "$d/in.mp4" --task remux -o "$d/out.mp4" --chunk-seconds 0.4 --queue "$q")
check "submit prints a job id" test "$id" = 1
"$fp" worker --queue "$q" --exit-when-idle --poll 0.05 2>/dev/null
check "worker exits 0 when idle" test $? = 0
"$fp" status 1 --queue "$q" > "$d/status.txt"
check "status says done" grep -q "job 1  done  task remux  chunks 5/5 done" "$d/status.txt"
check "output exists" test -s "$d/out.mp4"

"$fp" submit "$d/missing.mp4" --task remux -o "$d/x.mp4" --queue "$q" 2>"$d/err.txt"
check "missing input exits 3" test $? = 3
check "missing input names the file" grep -q "missing.mp4: plan: cannot open" "$d/err.txt"
"$fp" submit "$d/in.mp4" --task nosuch -o "$d/x.mp4" --queue "$q" 2>/dev/null
check "unknown task exits 2" test $? = 2
"$fp" cancel 42 --queue "$q" 2>"$d/err.txt"
check "cancel of an unknown job exits 9" test $? = 9
"$fp" status --queue "postgres://nobody@127.0.0.1:1/none" 2>"$d/err.txt"
rc=$?
if grep -q "built without PostgreSQL support" "$d/err.txt"; then
  check "postgres:// in a build without libpq exits 4" test $rc = 4
else
  check "unreachable queue exits 9" test $rc = 9
fi
"$fp" worker --bogus 2>/dev/null
check "unknown option exits 2" test $? = 2
# --gpus on a machine without a GPU: one line saying so, exit 7 (documented: GPU error), nothing runs.
# (On a GPU machine scripts/gpu/jobs.sh checks the other side: one worker thread per GPU.)
if [ ! -e /dev/nvidia0 ]; then
  "$fp" worker --gpus all --queue "$q" --exit-when-idle 2>"$d/err.txt"
  check "worker --gpus all without a GPU exits 7" test $? = 7
  check "  with one line" test "$(wc -l < "$d/err.txt")" = 1
  check "  that says why and what to do" grep -q "^framepipe worker: --gpus all: no GPU on this machine (.*); leave out --gpus to run CPU workers$" "$d/err.txt"
  "$fp" worker --gpus 0 --queue "$q" --exit-when-idle 2>"$d/err.txt"
  check "worker --gpus 0 without a GPU exits 7" test $? = 7
  check "  naming the GPU" grep -q "^framepipe worker: --gpus 0: GPU 0 is not on this machine (0 found" "$d/err.txt"
else
  echo "worker --gpus checks: this machine has a GPU: skipped here (scripts/gpu/jobs.sh covers it)"
fi

# SIGTERM: the worker finishes the chunk it holds, then exits 0; the rest stay queued
id=$("$fp" submit "$d/in.mp4" --task packetmd5 -o "$d/o.jsonl" --chunk-seconds 0.4 --queue "$q")
FP_JOBS_FAULT_SLEEP_MS==700 "$fp" worker --queue "$q" --poll 0.05 2>/dev/null &
w=$!
i=0
until "$fp" status "$id" --queue "$q" | grep -q " running "; do
  i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.05
done
kill -TERM $w
wait $w
check "worker exits 0 after SIGTERM" test $? = 0
"$fp" status "$id" --queue "$q" > "$d/status2.txt"
check "the held chunk was finished" grep -qE "chunk +0  done" "$d/status2.txt"
check "no chunk left running" sh -c "! grep -qE '^  chunk .* running' '$d/status2.txt'"
check "later chunks still queued" grep -qE "chunk +4  queued" "$d/status2.txt"
"$fp" cancel "$id" --queue "$q" >/dev/null
check "cancel" sh -c "'$fp' status '$id' --queue '$q' | grep -q 'cancelled'"
"$fp" redrive "$id" --queue "$q" > "$d/redrive.txt"
check "redrive of a job with no dead tasks requeues 0" grep -q "0 task(s) requeued" "$d/redrive.txt"
# SIGTERM with a chunk that will not end within --grace (20 s of 480p: long even with the threaded
# media stages): the worker gives it back (queued at once,
# try not counted, attempt stays the fence) and exits 0 without waiting for it.
ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=640x480:rate=25 -t 20 -c:v libx264 -preset ultrafast \
  -g 25 "$d/big.mp4"
id2=$("$fp" submit "$d/big.mp4" --task transcode -o "$d/big-out.mkv" --chunk-seconds 100 --queue "$q" \
  --params '{"vcodec":"libx264","pix_fmt":"yuv420p"}')
"$fp" -v worker --queue "$q" --poll 0.05 --grace 0.3 2>"$d/w2.txt" &
w=$!
i=0
until "$fp" status "$id2" --queue "$q" | grep -q " running "; do
  i=$((i + 1)); [ $i -gt 200 ] && break; sleep 0.05
done
t0=$(date +%s)
kill -TERM $w
wait $w
rc=$?
t1=$(date +%s)
check "worker exits 0 after releasing" test $rc = 0
check "release did not wait for the chunk" test $((t1 - t0)) -le 4
"$fp" status "$id2" --queue "$q" > "$d/status3.txt"
check "released chunk is queued again, try not counted" grep -qE "chunk +0  queued +try 0 \(attempt 1\)" "$d/status3.txt"
check "worker says it released" grep -q "released" "$d/w2.txt"
"$fp" cancel "$id2" --queue "$q" >/dev/null

echo "test_cli: $pass passed, $fail failed"
[ $fail = 0 ]
