#!/bin/sh
# The README's test command: installs dependencies (as root), builds framepipe (CUDA code too when
# nvcc exists; never run without a GPU), and runs the CPU test suite with ctest.
# Environment: BUILD_DIR (default build), JOBS (default nproc), CMAKE_ARGS, CTEST_EXCLUDE (label regex
# of tests to skip, default "gpu"), CTEST_ARGS (extra ctest arguments).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest -LE "${CTEST_EXCLUDE:-gpu}" --output-on-failure -j "$JOBS" ${CTEST_ARGS:-}
