#!/usr/bin/env bash
# `log diff` on logs that diverge, written directly (make_wal): the first index where terms
# differ, the suffix the leader will overwrite, the entries a node lacks; nothing when equal.
# Usage: log_diff.sh RAFTLAB MAKE_WAL
. "$(dirname "$0")/lib.sh"
MAKE_WAL=${2:?usage: $0 RAFTLAB MAKE_WAL}
D="$WORK/c"
mkdir -p "$D"
cat >"$D/cluster.json" <<'JSON'
{"version": 1, "cluster_id": "lab-diff", "seed": 1, "nodes": [{"id": 1, "port": 1},
 {"id": 2, "port": 2}, {"id": 3, "port": 3}], "voters": [1, 2, 3],
 "timing": {"tick_ms": 10, "heartbeat_ms": 50, "election_timeout_min_ms": 150,
 "election_timeout_max_ms": 300}, "fsync": true, "snapshot_every": 0, "faults": {}}
JSON
mkdir -p "$D/n1" "$D/n2" "$D/n3"
"$MAKE_WAL" "$D/n1" 1,1,2,2 || fail "make_wal n1"
"$MAKE_WAL" "$D/n2" 1,1,3,3,3 || fail "make_wal n2"
"$MAKE_WAL" "$D/n3" 1,1 || fail "make_wal n3"
# No node runs: the reference is the log with the highest last term (node 2).
rl log diff >"$WORK/diff.txt"
rc=$?
[ $rc -eq 1 ] || fail "log diff on differing logs exited $rc, want 1 (as diff)"
grep -q "node 1: differs from node 2 at index 3 (term 2 vs 3); entries 3..4 will be overwritten" \
  "$WORK/diff.txt" || fail "node 1: $(cat "$WORK/diff.txt")"
grep -q "node 3: behind, lacks entries 3..5" "$WORK/diff.txt" || fail "node 3: $(cat "$WORK/diff.txt")"
rl log diff --json >"$WORK/diff.json"
[ $? -eq 1 ] || fail "log diff --json on differing logs: want exit 1"
[ "$(jfield '(j["reference"], j["identical"], j["nodes"][0]["diverges_at"], j["nodes"][0]["overwrite"])' <"$WORK/diff.json")" = "(2, False, 3, [3, 4])" ] ||
  fail "json: $(cat "$WORK/diff.json")"
# log dump with a selector reads the same files.
[ "$(rl log dump 2 --json | jfield '[e["term"] for e in j["nodes"][0]["entries"]]')" = "[1, 1, 3, 3, 3]" ] ||
  fail "log dump 2"
# Equal logs: nothing printed, exit 0.
rm -rf "$D"/n1/wal "$D"/n3/wal
"$MAKE_WAL" "$D/n1" 1,1,3,3,3 && "$MAKE_WAL" "$D/n3" 1,1,3,3,3 || fail "make_wal"
rl log diff >"$WORK/diff.txt" || fail "log diff on equal logs exited $?, want 0"
[ ! -s "$WORK/diff.txt" ] || fail "equal logs, yet: $(cat "$WORK/diff.txt")"
exit 0
