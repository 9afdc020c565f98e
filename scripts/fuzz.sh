#!/bin/sh
# fuzz.sh — build the libFuzzer targets with clang into build-fuzz and fuzz the ONNX loader for N
# seconds (default 60), seeded with ONNX's conformance models and tests/nn/models. Crashes are written
# to build-fuzz/tests/nn/ as crash-* files; the exit status is non-zero if the fuzzer found one.
# usage: scripts/fuzz.sh [SECONDS]
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DFP_FUZZ=ON -DFP_CUDA=OFF \
    -DFP_FUZZ_SECONDS="$secs" >/dev/null
cmake --build "$root/build-fuzz" -j2 --target fuzz_loader
cd "$root/build-fuzz" && ctest -R '^nn\.fuzz_loader$' --output-on-failure
