#!/usr/bin/env bash
# Install what chronofs needs on Debian 12 (bookworm). Idempotent and
# non-interactive: when every package is already installed it does not touch
# apt at all, so re-runs take a fraction of a second. Needs root for apt
# (it uses sudo when run as another user and sudo is there).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev   # clang + libFuzzer/sanitizer runtimes (fuzzers)
  liblmdb-dev libzstd-dev libxxhash-dev
  libcriterion-dev
  libfuse3-dev fuse3
  libsqlite3-dev             # only for chronofs-bench's journal baseline
  tar zstd git               # chronofs-bench snapshot's baselines
  sqlite3                    # a real program the FUSE tests run on the mount
  bindfs                     # chronofs-bench fuse's FUSE peer (over tmpfs)
  wabt wasi-libc lld-14      # WASI guests: wasm2c, wasi-libc, wasm-ld
  libclang-rt-14-dev-wasm32  # compiler-rt builtins for wasm32-wasi
)

missing=()
for p in "${packages[@]}"; do
  # "install ok installed" is the only status that means usable; anything
  # else (absent, half-configured, removed with config left) gets installed.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: apt-get not found; this script targets Debian 12." >&2
  echo "setup: install by hand: ${missing[*]}" >&2
  exit 1
fi

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: missing ${missing[*]}; run as root to install them." >&2
    exit 1
  fi
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
