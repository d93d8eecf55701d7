#!/usr/bin/env bash
# Fuzz the journal's decoders: scripts/fuzz.sh [SECONDS]  (default 60)
#
# Configures a separate build-fuzz/ (or $CFS_FUZZ_BUILD) with clang and
# CFS_FUZZ=ON, builds the libFuzzer targets and the seed-corpus generator,
# writes fresh corpora (real frames; real send streams), and runs
# tests/fuzz/fuzz_frame (the frame and event decoders) and then
# tests/fuzz/fuzz_stream (the send-stream decoder, cfs_journal_receive)
# for half of SECONDS each. Exits non-zero on any crash, leak, sanitizer
# report or timeout; the reproducer is left in build-fuzz/artifacts/
# (replay it with `build-fuzz/tests/fuzz/fuzz_frame FILE` or `fuzz_stream
# FILE`, or through any build's fuzz_frame_run / fuzz_stream_run).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 2)); then
  echo "usage: $0 [SECONDS]  (at least 2: half each for the two targets)" >&2
  exit 2
fi
frame_s=$((seconds / 2))
stream_s=$((seconds - frame_s))
build=${CFS_FUZZ_BUILD:-build-fuzz}

scripts/setup.sh
CC=clang cmake -S . -B "$build" -DCFS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)" --target fuzz_frame fuzz_stream make_corpus

out=$build/fuzz
rm -rf "$out/seed" "$out/corpus" "$out/stream-seed" "$out/stream-corpus"
mkdir -p "$out/seed" "$out/corpus" "$out/stream-seed" "$out/stream-corpus" "$build/artifacts"
# The seed is printed, so a corpus can be regenerated exactly.
"$build/tests/fuzz/make_corpus" "$out/seed" "${CFS_FUZZ_SEED:-1}" 5000 "$out/stream-seed"

# New inputs go to the first directory; the seed directory stays as
# written. -max_len: the seed frames are at most a few KiB and the seed
# streams some 16 KiB; longer inputs only slow each run down. ASan's leak
# check stays on: a leak is a finding too.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$build/tests/fuzz/fuzz_frame" "$out/corpus" "$out/seed" \
  -max_total_time="$frame_s" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$build/artifacts/"
# fuzz_stream receives each input into a journal it keeps in a temp
# directory (TMPDIR), removed when it exits. tests/fuzz/regress-stream/
# holds inputs that once failed (each named for what it found): they run
# first, every time.
"$build/tests/fuzz/fuzz_stream" "$out/stream-corpus" "$out/stream-seed" \
  tests/fuzz/regress-stream \
  -max_total_time="$stream_s" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$build/artifacts/"
echo "fuzz: no crash in ${seconds}s (fuzz_frame ${frame_s}s, fuzz_stream ${stream_s}s)"
