#!/usr/bin/env bash
# The admin commands on a real cluster: `transfer` to a named follower, `member add` of a new
# node (started on a free port, promoted to voter), `member remove`, `snapshot all`; and their
# usage errors (exit 2) and environment errors (exit 4).
. "$(dirname "$0")/lib.sh"
require_node
D="$WORK/c"
# Usage errors: caught by the parser, before any cluster is looked at.
expect_rc 2 "$RAFTLAB" member --dir "$D"
expect_rc 2 "$RAFTLAB" member add --dir "$D"
expect_rc 2 "$RAFTLAB" member join 4 --dir "$D"
expect_rc 2 "$RAFTLAB" member add 0 --dir "$D"
expect_rc 2 "$RAFTLAB" member add four --dir "$D"
expect_rc 2 "$RAFTLAB" member add 4 --timeout soon --dir "$D"
expect_rc 2 "$RAFTLAB" transfer --dir "$D"
expect_rc 2 "$RAFTLAB" transfer 1,,2 --dir "$D"
expect_rc 2 "$RAFTLAB" transfer 1 --timeout soon --dir "$D"
expect_rc 2 "$RAFTLAB" snapshot --dir "$D"
expect_rc 2 "$RAFTLAB" snapshot everyone --dir "$D"
expect_rc 4 "$RAFTLAB" transfer 1 --dir "$D"
grep -q "no cluster at" "$WORK/err" || fail "transfer without a cluster: $(cat "$WORK/err")"
"$RAFTLAB" member --help | grep -q "keeps running" || fail "member --help does not say a removed node keeps running"
for cmd in transfer member snapshot; do
  "$RAFTLAB" "$cmd" --help | grep -q -- "--dir" || fail "$cmd --help has no --dir"
done

new_cluster c -n 3
old=$(leader) || fail "no leader"
# Selectors naming anything but one known node are usage errors; nothing is done.
expect_rc 2 rl transfer 1,2
grep -q "exactly one node" "$WORK/err" || fail "transfer 1,2: $(cat "$WORK/err")"
expect_rc 2 rl transfer 7
grep -q "unknown node 7" "$WORK/err" || fail "transfer 7: $(cat "$WORK/err")"
expect_rc 2 rl member remove 9
grep -q "unknown node 9" "$WORK/err" || fail "member remove 9: $(cat "$WORK/err")"

# transfer to a named follower: the leader changes and the output names it.
target=$(for n in 1 2 3; do [ "$n" = "$old" ] || { echo "$n"; break; }; done)
expect_rc 0 rl transfer "$target" --json --timeout 5s
[ "$(jfield 'j["leader"]' <"$WORK/out")" = "$target" ] || fail "transfer printed $(cat "$WORK/out")"
[ "$(jfield 'j["nodes"]' <"$WORK/out")" = "[$target]" ] || fail "transfer nodes: $(cat "$WORK/out")"
[ "$(leader)" = "$target" ] || fail "leader is not $target after the transfer"
# A target the leader cannot reach: accepted, never done; exit 3 naming it.
other=$(for n in 1 2 3; do [ "$n" = "$target" ] || { echo "$n"; break; }; done)
rl isolate "$other" >/dev/null || fail "isolate $other"
expect_rc 3 rl transfer "$other" --timeout 1s
grep -q "did not finish" "$WORK/err" || fail "transfer timeout: $(cat "$WORK/err")"
rl heal >/dev/null || fail "heal"
rl wait converged --timeout 10s >/dev/null || fail "not converged after heal"
# To the leader itself: done at once.
expect_rc 0 rl transfer leader --json
[ "$(jfield 'j["leader"]' <"$WORK/out")" = "$target" ] || fail "transfer leader: $(cat "$WORK/out")"

# member add of a new id: in cluster.json, started, a voter.
expect_rc 0 rl member add 4 --json --timeout 15s
[ "$(jfield 'j["voters"]' <"$WORK/out")" = "[1, 2, 3, 4]" ] || fail "add: $(cat "$WORK/out")"
[ "$(jfield 'j["learners"]' <"$WORK/out")" = "[]" ] || fail "add learners: $(cat "$WORK/out")"
jfield '[n["id"] for n in j["nodes"]]' <"$D/cluster.json" | grep -q "4" || fail "4 not in cluster.json"
[ "$(rl status --json | jfield '[n["process"] for n in j["nodes"] if n["id"] == 4][0]')" = running ] ||
  fail "node 4 is not running"
rl wait converged --timeout 10s >/dev/null || fail "not converged with node 4"
# Adding a voter again: nothing to do.
expect_rc 0 rl member add 4 --json --timeout 5s
[ "$(jfield 'j["voters"]' <"$WORK/out")" = "[1, 2, 3, 4]" ] || fail "re-add: $(cat "$WORK/out")"

# snapshot all: every node answers with its snapshot index.
expect_rc 0 rl snapshot all --json
[ "$(jfield 'sorted(j["snapshot_index"].keys())' <"$WORK/out")" = "['1', '2', '3', '4']" ] ||
  fail "snapshot: $(cat "$WORK/out")"
[ "$(jfield 'min(j["snapshot_index"].values()) > 0' <"$WORK/out")" = True ] ||
  fail "snapshot index 0: $(cat "$WORK/out")"
snap1=$(jfield 'j["snapshot_index"]["1"]' <"$WORK/out")
[ "$(rl status --json | jfield '[n["snapshot_index"] for n in j["nodes"] if n["id"] == 1][0]')" -ge "$snap1" ] ||
  fail "status does not show node 1's snapshot"

# member remove: no longer a member; its process keeps running.
expect_rc 0 rl member remove 4 --json --timeout 10s
[ "$(jfield 'j["voters"]' <"$WORK/out")" = "[1, 2, 3]" ] || fail "remove: $(cat "$WORK/out")"
[ "$(rl status --json | jfield '[n["process"] for n in j["nodes"] if n["id"] == 4][0]')" = running ] ||
  fail "a removed node's process was stopped"
rl wait leader --nodes 1,2,3 --timeout 10s >/dev/null || fail "no leader after remove"
# A node that is not running: exit 4.
rl kill 4 >/dev/null || fail "kill 4"
expect_rc 4 rl snapshot 4
expect_rc 4 rl transfer 4
# member add of a known node that is stopped: started on its data, then a voter again.
expect_rc 0 rl member add 4 --json --timeout 15s
[ "$(jfield 'j["voters"]' <"$WORK/out")" = "[1, 2, 3, 4]" ] || fail "re-add 4: $(cat "$WORK/out")"
[ "$(rl status --json | jfield '[n["process"] for n in j["nodes"] if n["id"] == 4][0]')" = running ] ||
  fail "node 4 was not started"
exit 0
