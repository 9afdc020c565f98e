#!/bin/sh
# fuzz-jobs.sh — build the job JSON libFuzzer target (tests/jobs/fuzz_jobjson.c) with clang into
# build-fuzz-jobs and fuzz fp_job_spec_parse for N seconds (default 60), seeded with
# tests/jobs/fuzz_seeds. Only that target is built (the parser plus fp_core), so it stays cheap on
# a 2-core CI machine. Crashes are written to build-fuzz-jobs/crash-*; the exit status is non-zero
# if the fuzzer found one (libFuzzer exits non-zero on a crash, leak, timeout or OOM).
# usage: scripts/fuzz-jobs.sh [SECONDS]
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
bd="$root/build-fuzz-jobs"
cmake -S "$root" -B "$bd" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DFP_FUZZ=ON -DFP_CUDA=OFF >/dev/null
cmake --build "$bd" -j2 --target fuzz_jobjson
mkdir -p "$bd/corpus-jobjson"
cd "$bd"
# -jobs/-workers stay at 1: CI has 2 cores and other work. The seed directory is read-only input;
# new inputs go to corpus-jobjson (first directory), which is kept between runs.
exec "$bd/tests/jobs/fuzz_jobjson" -max_total_time="$secs" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$bd/" \
    "$bd/corpus-jobjson" "$root/tests/jobs/fuzz_seeds"
