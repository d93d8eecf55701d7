#!/usr/bin/env bash
# The main job: install what is missing, build, then the whole cycle on a
# real FUSE mount (needs root and /dev/fuse, as on these machines):
#
#   init a journal, import a directory, mount it, run a small real
#   workload (extract a tarball, edit, delete, sqlite3), snapshot mid-way
#   from "another shell", unmount; then stat, a log excerpt, diff the
#   snapshot against the head, bisect when a file disappeared, restore the
#   past state to a directory, and send | receive it as "another host"
#   whose state hashes match; then a WASI guest (scripts/demo_guest.c) run
#   on a journal, stopped at a snapshot, sent to "another host" and resumed
#   there to the same end.
#
# Everything happens in a temp dir that is removed at the end (the mount
# is always unmounted, also on failure). Works from any directory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/setup.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target chronofs chronofs-demo >/dev/null

C="$root/build/tools/chronofs"
work=$(mktemp -d /tmp/chronofs-demo-XXXXXX)
mnt="$work/mnt"
J="$work/fs.cfs"
cleanup() {
  if grep -qs " $mnt " /proc/mounts; then fusermount3 -u "$mnt" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -t 1 ]]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi
run() { printf '$ %s\n' "$*"; "$@"; }

# Wait until the mount process has committed and let go of the journal.
wait_closed() {
  for _ in $(seq 1 100); do
    if "$C" stat "$J" --json | grep -q '"writer_pid":0'; then return 0; fi
    sleep 0.1
  done
  echo "demo: the mount did not release $J" >&2
  return 1
}

step "0. the engine alone: a guest session, replayed event by event"
build/tools/chronofs-demo | tail -n 3

step "1. a journal, and a directory imported into it"
mkdir -p "$work/project/src" "$mnt"
printf 'int main(void) { return 0; }\n' >"$work/project/src/main.c"
printf 'notes: keep this file\n' >"$work/project/notes.txt"
ln -s src/main.c "$work/project/entry"
run "$C" init "$J"
run "$C" import "$J" "$work/project"

step "2. mount it and run real programs on it"
run "$C" mount "$J" "$mnt"
tar -C /usr/include -cf "$work/linux.tar" linux
run tar -xf "$work/linux.tar" -C "$mnt"
run sed -i 's/return 0/return 42/' "$mnt/src/main.c"
run sqlite3 "$mnt/app.db" "create table t(k integer primary key, v text);
  begin; insert into t(v) select 'row' from (with recursive n(i) as
  (select 1 union all select i + 1 from n where i < 1000) select i from n); commit;"

step "3. a snapshot of the live mount, from another shell"
run "$C" snapshot "$J"
mid=$("$C" snapshots "$J" --json | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/')
echo "snapshot at seq $mid"

step "4. more work, then unmount (which commits everything)"
run rm "$mnt/notes.txt"
run rm -rf "$mnt/linux/usb"
run sqlite3 "$mnt/app.db" "delete from t where k % 2 = 0;"
run fusermount3 -u "$mnt"
wait_closed

step "5. what the journal holds"
run "$C" stat "$J"
printf '$ %s\n' "$C log $J --path /notes.txt"
"$C" log "$J" --path /notes.txt
run "$C" snapshots "$J"

step "6. what changed between the snapshot and the head"
head=$("$C" stat "$J" --json | sed 's/.*"head_seq":\([0-9]*\).*/\1/')
printf '$ %s\n' "$C diff $J $mid $head | head"
"$C" diff "$J" "$mid" "$head" | head -n 12

step "7. when did notes.txt disappear?"
run "$C" bisect "$J" --missing /notes.txt

step "8. the past state, restored to a directory"
run "$C" restore "$J" "$work/past" --at "$mid"
run cat "$work/past/notes.txt"
run cat "$work/past/src/main.c"
run sqlite3 "$work/past/app.db" "select count(*) from t;"

step "9. send | receive, as to another host, and the hashes match"
run "$C" snapshot "$J" --label final
"$C" send "$J" >"$work/fs.stream"
echo "\$ $C send $J > fs.stream   ($(stat -c %s "$work/fs.stream") bytes)"
"$C" receive "$work/elsewhere.cfs" <"$work/fs.stream" >/dev/null
echo "\$ $C receive elsewhere.cfs < fs.stream"
here=$("$C" snapshots "$J" --json | tail -n 1 | sed 's/.*"state_hash":"\([0-9a-f]*\)".*/\1/')
there=$("$C" snapshots "$work/elsewhere.cfs" --json | tail -n 1 |
        sed 's/.*"state_hash":"\([0-9a-f]*\)".*/\1/')
echo "state hash here:      $here"
echo "state hash elsewhere: $there"
[[ -n "$here" && "$here" == "$there" ]]
run "$C" verify "$work/elsewhere.cfs"

step "10. a WASI guest: stopped at a snapshot, shipped, resumed on the copy"
G="$work/steps.wasm"
run clang --target=wasm32-wasi --sysroot=/usr -O2 scripts/demo_guest.c -o "$G"
# the first run of a module builds it (wasm2c + cc, ~2 s), cached by hash
run "$C" run --journal "$work/app.cfs" --snapshot-on events:20 --stop-after-snapshot \
    "$G" 10
printf '$ %s\n' "$C log app.cfs --op write | tail -n 3"
"$C" log "$work/app.cfs" --op write | tail -n 3
"$C" send "$work/app.cfs" | "$C" receive "$work/host2.cfs" >/dev/null
echo "\$ $C send app.cfs | $C receive host2.cfs"
run "$C" run --journal-readonly "$work/host2.cfs" --journal "$work/resumed.cfs" "$G" 10
run "$C" cat "$work/resumed.cfs" /steps.txt
[[ "$("$C" cat "$work/resumed.cfs" /steps.txt)" == "$(seq -f 'step %g' 1 10)" ]]
run "$C" verify "$work/resumed.cfs"

step "done: every step above ran on a real FUSE mount, a real WASI guest and real journals"
