#!/usr/bin/env bash
# The README tutorial's snapshots and InstallSnapshot (§7, Figure 13), run as written, every
# claim checked: with `up --snapshot-every 20` and node 1 leading, node 3 is killed while the
# leader takes 150 writes of 2 KiB; the others snapshot and compact past node 3's log; started,
# node 3 gets the snapshot from the leader in 64 KiB chunks at increasing offsets, the last
# marked done (at least 3 of them), installs it once, catches up and serves the old writes
# from it; `log dump 3` shows the snapshot record and file; the timeline shows the transfer.
. "$(dirname "$0")/lib.sh"
require_node
readonly kWrites=150 kValueBytes=2048 kSnapshotEvery=20 kChunkBytes=65536 kChunksMin=3
readonly kTraceWaitS=5

new_cluster c -n 3 --snapshot-every "$kSnapshotEvery"
rl transfer 1 >/dev/null || fail "transfer to 1"
leader=1 victim=3
rl kill "$victim" >/dev/null || fail "kill $victim"
v=$(printf "%${kValueBytes}s" | tr ' ' x)
for i in $(seq "$kWrites"); do rl put "k$i" "$v" >/dev/null 2>&1 || fail "put k$i"; done
st=$(rl status --json)
snap=$(echo "$st" | jfield "[n['snapshot_index'] for n in j['nodes'] if n['id'] == $leader][0]")
vlast=$(echo "$st" | jfield "[n['last_index'] for n in j['nodes'] if n['id'] == $victim][0]")
((snap >= kWrites - kSnapshotEvery)) ||
  fail "the leader's snapshot is at $snap, want >= $((kWrites - kSnapshotEvery))"
((vlast < snap)) || fail "node $victim's log ($vlast) is not behind the snapshot ($snap)"

rl start "$victim" >/dev/null || fail "start $victim"
rl wait converged --timeout 10s >/dev/null || fail "not converged"
vsnap=$(rl status --json |
  jfield "[n['snapshot_index'] for n in j['nodes'] if n['id'] == $victim][0]")
((vsnap >= snap)) || fail "node $victim's snapshot is at $vsnap, want >= $snap"
[ "$(rl get k1 --stale --node "$victim")" = "$v" ] || fail "node $victim does not serve k1"
[ "$(rl get k1 --stale --node "$victim" | wc -c)" = $((kValueBytes + 1)) ] || fail "k1's length"

# log dump: the snapshot record in the WAL and the snapshot file, with its size.
rl log dump "$victim" >"$WORK/dump.txt" || fail "log dump $victim"
grep -qE "^  @[0-9]+ snapshot index $vsnap term [0-9]+$" "$WORK/dump.txt" ||
  fail "no snapshot record in the dump"
file_re="snap-0*$vsnap\.snap: index $vsnap term [0-9]+, 3 voters, 0 learners, ([0-9]+) data bytes"
size=$(sed -nE "s/^snapshot .*$file_re$/\1/p" "$WORK/dump.txt")
[ -n "$size" ] || { cat "$WORK/dump.txt" >&2; fail "no snapshot file line in the dump"; }
chunks=$(((size + kChunkBytes - 1) / kChunkBytes))
((chunks >= kChunksMin)) || fail "the snapshot is $size bytes, $chunks chunks, want >= $kChunksMin"

# The first transfer of that snapshot, in the trace: chunks at 0, 64 KiB, ..., the last done.
first_transfer() {
  rl timeline --json | python3 -c '
import json, sys
leader, victim, snap = (int(a) for a in sys.argv[1:4])
ev = json.load(sys.stdin)["events"]
ok = any(e.get("ev") == "snap_installed" and e["n"] == victim for e in ev)
chunks = []
for e in ev:
    if e.get("ev") == "message" and e["type"] == "InstallSnapshot" and e["from"] == leader \
            and e["to"] == victim and e["fields"]["snap"][0] == snap:
        f = e["fields"]
        chunks.append((f["offset"], f["bytes"], f["done"], e["recv"] is not None))
        if f["done"]:
            break
if not ok or not chunks or not chunks[-1][2]:
    sys.exit(1)
for c in chunks:
    print(*c)
' "$leader" "$victim" "$vsnap"
}
deadline=$((SECONDS + kTraceWaitS))
until first_transfer >"$WORK/chunks.txt"; do
  ((SECONDS < deadline)) || fail "no complete InstallSnapshot transfer and install in the trace"
  sleep 0.1
done
[ "$(wc -l <"$WORK/chunks.txt")" = "$chunks" ] ||
  { cat "$WORK/chunks.txt" >&2; fail "not $chunks chunks"; }
expect=0
while read -r offset bytes last received; do
  [ "$offset" = "$expect" ] || fail "a chunk at offset $offset, want $expect"
  [ "$received" = True ] || fail "chunk at $offset not received"
  expect=$((offset + bytes))
  [ "$last" = True ] || [ "$bytes" = "$kChunkBytes" ] || fail "a middle chunk of $bytes bytes"
done <"$WORK/chunks.txt"
[ "$expect" = "$size" ] || fail "the chunks add up to $expect bytes, not $size"
sent=$(rl timeline --node "$victim" --type InstallSnapshot | grep -c 'InstallSnapshot snap')
echo "$NAME: snapshot $vsnap, $size bytes, $chunks chunks; $sent InstallSnapshot in all" >&2
# The heartbeats queued for node 3 while it was down arrive at once; the leader takes them as
# one round without progress and resends at most once (it once resent per answer: 200-400).
((sent <= 2 * chunks)) || fail "$sent InstallSnapshot sent for $chunks chunks: resent more than once"

rl timeline --node "$victim" --type snap_installed >"$WORK/i.txt"
grep -qE "n$victim  F t[0-9]+   installs snapshot $vsnap t[0-9]+ from n$leader" "$WORK/i.txt" ||
  fail "the timeline does not show the install"
# The whole snapshot may be sent more than once (heartbeat answers queued while node 3 was
# down each restart the transfer; see the README), but it is installed once.
[ "$(grep -c "installs snapshot" "$WORK/i.txt")" = 1 ] ||
  fail "node $victim installed a snapshot more than once"
rl timeline --node "$victim" --type InstallSnapshot,action >"$WORK/t.txt"
last_offset=$((kChunkBytes * (chunks - 1)))
last_chunk_re="snap=$vsnap/[0-9]+ offset=$last_offset bytes=$((size - last_offset)) done"
grep -qE "n$leader  L t[0-9]+   -> n$victim InstallSnapshot $last_chunk_re" "$WORK/t.txt" ||
  fail "the timeline does not show the last chunk"
head -n 14 "$WORK/t.txt" >&2
cat "$WORK/i.txt" >&2
exit 0
