#!/bin/bash
# The pipeline area's GPU-machine script (called by scripts/gpu-check.sh as `pipeline.sh test` and
# `pipeline.sh bench`; runnable by hand on a built tree). Writes logs to $OUT (or $FP_OUT, or ./gpu-out).
#   test : `framepipe doctor` (text and --json, kept as doctor.txt / doctor.json for docs), the GPU
#          check of its JSON (tests/pipeline/check_doctor.py gpu), then the CPU pipeline tests on this
#          16-core machine (more real parallelism than CI: queue/stage races, TSan).
#   bench: nothing yet (the pipeline's cost is measured inside the media benches' stage tables).
# Environment: FP_BUILD (build tree, default build). Exit status non-zero if a step failed; each
# step ends with an "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FP_BUILD:-build}
OUT=${OUT:-${FP_OUT:-$PWD/gpu-out}}
mkdir -p "$OUT"
steps=${*:-test}
rc=0

do_test() {
  local exe=$BUILD/framepipe r
  if [ ! -x "$exe" ]; then echo "pipeline.sh: $exe not built"; echo "0 passed, 1 failed"; rc=1; return; fi
  echo "== framepipe doctor $(date -u +%H:%M:%S)"
  "$exe" doctor >"$OUT/doctor.txt" 2>&1; r=$?
  cat "$OUT/doctor.txt"
  "$exe" doctor --json >"$OUT/doctor.json" 2>"$OUT/doctor-json.err" || r=1
  python3 tests/pipeline/check_doctor.py "$exe" gpu >"$OUT/doctor-check.log" 2>&1 || r=1
  tail -3 "$OUT/doctor-check.log"
  echo "doctor: $( [ $r = 0 ] && echo '1 passed, 0 failed' || echo "0 passed, 1 failed")"
  [ $r = 0 ] || rc=1
  echo "== pipeline CPU tests on $(nproc) cores $(date -u +%H:%M:%S)"
  (cd "$BUILD" && ctest -R '^pipeline\.' -LE gpu -j 8 --output-on-failure) >"$OUT/pipeline-ctest.log" 2>&1 || rc=1
  grep -E '\*\*\*|tests passed' "$OUT/pipeline-ctest.log"
  local passed failed
  passed=$(grep -cE 'Test +#[0-9]+: pipeline\..* Passed' "$OUT/pipeline-ctest.log")
  failed=$(grep -cE 'Test +#[0-9]+: pipeline\..*\*\*\*' "$OUT/pipeline-ctest.log")
  echo "pipeline ctest: $passed passed, $failed failed"
}

for s in $steps; do
  case $s in
    test) do_test ;;
    bench) echo "pipeline.sh: no GPU bench in this area (see the media benches' stage tables)" ;;
    *) echo "pipeline.sh: unknown step $s"; exit 2 ;;
  esac
done
exit $rc
