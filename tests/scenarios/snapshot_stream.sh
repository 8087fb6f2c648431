#!/usr/bin/env bash
# The leader streams InstallSnapshot chunks from its snapshot file, not from memory: a transfer
# goes on after a newer snapshot removed that file, and a chunk that cannot be read is logged
# and not sent. Node 3 is killed while the leader snapshots past its log, then started behind a
# slow link with two chunks in flight (--max-inflight 2: each window is read from the file as
# the last is acknowledged); meanwhile the leader takes newer snapshots, which remove the first
# file from snap/. Node 3 must still receive every chunk of the first snapshot (read through
# the open descriptor of the removed file), install it and catch up. Second half: the newest
# snapshot file is truncated by hand while nobody sends it, and a follower that needs it gets
# no chunk of it (the node logs "cannot read") until the leader snapshots again and the stalled
# transfer starts over with the new file. Last, node 1 restarts from the newest snapshot, which
# a forked child wrote. The writes come from `bench`, thousands a second even when sanitized.
. "$(dirname "$0")/lib.sh"
require_node
readonly kSnapshotEvery=50 kBigKeys=220 kValueBytes=8192 kWaitS=30

load() { # load KEYS VALUE_BYTES SECONDS: puts from `bench` (thousands of entries a second)
  rl bench --clients 8 --duration "$3s" --warmup 0s --keys "$1" --value-size "$2" >/dev/null ||
    fail "bench $*"
}
snap_files() { ls "$C/n$1/snap" | grep -c '^snap-.*\.snap$'; }
decisions() { # decisions NODE EV FIELD: FIELD of each EV record in NODE's trace
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("ev") == sys.argv[2]:
        print(e.get(sys.argv[3]))' "$C/n$1/trace.jsonl" "$2" "$3"
}
installed() { decisions "$1" snap_installed index; } # the snapshots NODE installed

new_cluster c -n 3 --snapshot-every "$kSnapshotEvery" --max-inflight 2
C="$WORK/c"
rl transfer 1 >/dev/null || fail "transfer to 1"
rl kill 3 >/dev/null || fail "kill 3"
load "$kBigKeys" "$kValueBytes" 2  # a state of 220 values of 8 KiB: about 28 chunks
# Settled: fewer than kSnapshotEvery entries after the leader's snapshot, so no snapshot is
# being written and none will be until the next writes.
settled() { (($(status_field 1 applied) - $(status_field 1 snapshot_index) < kSnapshotEvery)); }
wait_until "$kWaitS" "the leader's snapshots settling" settled
first=$(status_field 1 snapshot_index)
# The leader keeps 100 entries before its snapshot: node 3 must be behind even those.
((first - 100 > $(status_field 3 last_index))) || fail "node 3's log is not behind snapshot $first"

# A slow link to node 3 (300 ms each way) and two chunks in flight: the transfer of `first`
# (about 25 chunks) takes several seconds, each window read from the file as the last one is
# acknowledged.
rl net --to 3 --delay 300ms >/dev/null || fail "delay to 3"
rl net --from 3 --delay 300ms >/dev/null || fail "delay from 3"
rl start 3 >/dev/null || fail "start 3"
sending() { decisions 1 snap_sent to | grep -qx 3; }
wait_until "$kWaitS" "the leader sending a snapshot to node 3" sending

# Newer snapshots on the leader remove the file of `first`.
load 1000 100 1
newer=$(status_field 1 snapshot_index)
((newer > first)) || fail "no newer snapshot ($newer)"
[ ! -e "$C/n1/snap/$(printf 'snap-%020d.snap' "$first")" ] ||
  fail "the file of snapshot $first is still there"
[ "$(snap_files 1)" = 1 ] || fail "the leader keeps $(snap_files 1) snapshot files"
[ -z "$(installed 3)" ] || fail "node 3 installed a snapshot before the file was removed"

has_installed() { [ -n "$(installed 3)" ]; }
wait_until "$kWaitS" "node 3 installing a snapshot" has_installed
# The entries after the snapshot (thousands, from bench) come faster over a healed link.
rl heal --all >/dev/null || fail "heal --all"
caught_up() { (($(status_field 3 applied) >= $(status_field 1 commit))); }
wait_until "$kWaitS" "node 3 catching up" caught_up
installed 3 | grep -qx "$first" ||
  { decisions 1 snap_sent index >&2; fail "node 3 did not install snapshot $first (installed: $(installed 3 | tr '\n' ' '))"; }
same_value() { [ "$(rl get "$1" --stale --node 3)" = "$(rl get "$1" --stale --node 1)" ]; }
same_value bench/00000219 || fail "node 3's bench/00000219 differs from node 1's"
echo "$NAME: snapshot $first streamed to node 3 after snapshot $newer removed its file" >&2

# A snapshot file cut by hand: its chunks cannot be read; nothing bad is sent.
rl kill 3 >/dev/null || fail "kill 3 again"
# Past the 100 trailing entries the leader keeps after its snapshot: node 3 needs a snapshot.
load 1000 100 2
wait_until "$kWaitS" "the leader's snapshots settling" settled
cut=$(status_field 1 snapshot_index)
((cut - 100 > $(status_field 3 last_index))) || fail "node 3's log is not behind snapshot $cut"
file="$C/n1/snap/$(printf 'snap-%020d.snap' "$cut")"
truncate -s 100 "$file" || fail "truncate $file"
before=$(grep -c "cannot read" "$C/n1/node.log" || true)
rl start 3 >/dev/null || fail "start 3 again"
unreadable() { (($(grep -c "cannot read" "$C/n1/node.log") > before)); }
wait_until "$kWaitS" "the leader logging the unreadable chunk" unreadable
if installed 3 | grep -qx "$cut"; then fail "node 3 installed the cut snapshot $cut"; fi
# A new snapshot on the leader: the stalled transfer starts over with it.
load 1000 100 1
wait_until "$kWaitS" "node 3 catching up after the cut" caught_up
echo "$NAME: the cut snapshot $cut was not sent; node 3 caught up from a newer one" >&2

# The leader's snapshots are written by a forked child (cmd/node_process/snapshots.cc): the
# newest file checks out when node 1 restarts from it.
wait_until "$kWaitS" "the leader's snapshots settling" settled
newest=$(status_field 1 snapshot_index)
((newest > cut)) || fail "no snapshot after the cut one ($newest)"
before=$(rl get bench/00000219 --stale --node 1)
[ -n "$before" ] || fail "node 1 has no bench/00000219"
rl kill 1 >/dev/null || fail "kill 1"
rl start 1 >/dev/null || fail "start 1"
grep "started:" "$C/n1/node.log" | tail -n 1 | grep -q "snapshot $newest\$" ||
  fail "node 1 did not restart from snapshot $newest: $(grep started: "$C/n1/node.log" | tail -n 1)"
[ "$(rl get bench/00000219 --stale --node 1)" = "$before" ] ||
  fail "node 1's bench/00000219 changed across the restart"
exit 0
