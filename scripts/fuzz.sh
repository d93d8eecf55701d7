#!/usr/bin/env bash
# Fuzz the journal's decoders: scripts/fuzz.sh [SECONDS]  (default 60)
#
# Configures a separate build-fuzz/ with clang and CFS_FUZZ=ON, builds the
# libFuzzer target and the seed-corpus generator, writes a fresh corpus of
# real frames, and runs tests/fuzz/fuzz_frame for SECONDS. Exits non-zero
# on any crash, leak, sanitizer report or timeout; the reproducer is left
# in build-fuzz/artifacts/ (replay it with `build-fuzz/tests/fuzz/fuzz_frame
# FILE`, or through any build's fuzz_frame_run).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

scripts/setup.sh
CC=clang cmake -S . -B build-fuzz -DCFS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-fuzz -j "$(nproc)" --target fuzz_frame make_corpus

out=build-fuzz/fuzz
rm -rf "$out/seed" "$out/corpus"
mkdir -p "$out/seed" "$out/corpus" build-fuzz/artifacts
# The seed is printed, so a corpus can be regenerated exactly.
build-fuzz/tests/fuzz/make_corpus "$out/seed" "${CFS_FUZZ_SEED:-1}" 5000

# New inputs go to corpus/ (the first directory); seed/ stays as written.
# -max_len: the seed frames are at most a few KiB; longer inputs only slow
# each run down. ASan's leak check stays on: a leak is a finding too.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-fuzz/tests/fuzz/fuzz_frame "$out/corpus" "$out/seed" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/
echo "fuzz: no crash in ${seconds}s"
