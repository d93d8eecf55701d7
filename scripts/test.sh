#!/usr/bin/env bash
# The test command: install what is missing, configure build/, build
# everything (tests, tools, benchmarks), run the whole suite with ctest.
# Extra arguments go to ctest (e.g. -R engine_test_paths).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/setup.sh
cmake -S . -B build
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
