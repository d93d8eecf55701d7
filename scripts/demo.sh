#!/usr/bin/env bash
# The main job: install what is missing, build, run the engine demo.
# Works from any directory: everything is relative to the repository root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/setup.sh
cmake -S . -B build
cmake --build build -j "$(nproc)" --target chronofs-demo
build/tools/chronofs-demo "$@"
