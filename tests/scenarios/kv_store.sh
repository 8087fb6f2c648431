#!/usr/bin/env bash
# The KV store from the command line: every op and its exit code, redirects from a follower,
# stale reads, a retried write applied once, `log dump` decoding the commands, and a node that
# missed a long partition catching up through an automatic snapshot (InstallSnapshot) after
# its restart.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3 --snapshot-every 50
l=$(leader) || fail "no leader"
f=$(for n in 1 2 3; do [ "$n" = "$l" ] || echo "$n"; done | head -1)

# Every op, asked of a follower (it redirects writes; reads go through ReadIndex).
rl put k1 hello --node "$f" >/dev/null 2>&1 || fail "put via follower $f"
v=$(rl get k1 --node "$f") || fail "get"
[ "$v" = "hello" ] || fail "get k1 = '$v', want hello"
rl append k1 ", world" >/dev/null 2>&1 || fail "append"
j=$(rl get k1 --json) || fail "get --json"
[ "$(echo "$j" | jfield 'j["value"]')" = "hello, world" ] || fail "after append: $j"
[ "$(echo "$j" | jfield 'j["ok"]')" = "True" ] || fail "ok field: $j"
expect_rc 1 rl cas k1 wrong new
grep -q "hello, world" "$WORK/err" || fail "a failed cas names the value found"
[ "$(grep -o "cas" "$WORK/err" | wc -l)" -eq 1 ] || fail "the cas message repeats itself: $(cat "$WORK/err")"
expect_rc 0 rl cas k1 "hello, world" swapped
[ "$(rl get k1)" = "swapped" ] || fail "cas did not swap"
rl put empty "" >/dev/null 2>&1 || fail "put empty"
[ "$(rl get empty --json | jfield 'j["value"]')" = "" ] || fail "an empty value is not absent"
rl delete k1 >/dev/null 2>&1 || fail "delete"
[ "$(rl get k1 --json | jfield 'j["value"]')" = "None" ] || fail "deleted key still there"
# `log dump` reads each command back in words, with its session; --raw keeps the bytes.
rl log dump "$l" >"$WORK/dump" 2>&1 || fail "log dump: $(cat "$WORK/dump")"
for want in 'put "k1" "hello" client [0-9]+ seq [0-9]+$' 'append "k1" ", world" client [0-9]+ seq' \
  'cas "k1" "hello, world" -> "swapped" client' 'delete "k1" client [0-9]+ seq' 'noop$'; do
  grep -Eq "entry [0-9]+ term [0-9]+ $want" "$WORK/dump" || fail "log dump lacks '$want': $(cat "$WORK/dump")"
done
rl log dump "$l" --raw >"$WORK/raw" 2>&1 || fail "log dump --raw"
! grep -q 'put "k1"' "$WORK/raw" || fail "log dump --raw decoded the commands"
grep -Eq 'entry [0-9]+ term [0-9]+ normal [0-9]+ B "' "$WORK/raw" || fail "--raw: no raw entry"
ops=$(rl log dump "$l" --json | jfield "[e['command']['op'] for e in j['nodes'][0]['entries'] if e.get('command', {}).get('key') == 'k1']")
[ "$ops" = "['put', 'append', 'cas', 'cas', 'delete']" ] || fail "log dump --json ops on k1: $ops"
# A missing key prints nothing and exits 1 (as git config --get); a stored "(absent)" is a value.
expect_rc 1 rl get k1
[ ! -s "$WORK/out" ] || fail "get of a missing key printed '$(cat "$WORK/out")'"
[ "$(rl get k1 --json | jfield 'j["found"]')" = "False" ] || fail "get --json of a missing key: found"
rl put k2 "(absent)" >/dev/null 2>&1 || fail "put (absent)"
[ "$(rl get k2)" = "(absent)" ] || fail "a stored (absent)"
[ "$(rl get k2 --json | jfield 'j["found"]')" = "True" ] || fail "get --json of a stored key: found"
# Writes go to the leader first: one try each on a healthy cluster.
for k in 1 2 3; do
  t=$(rl put "t$k" x --json | jfield 'j["tries"]')
  [ "$t" = 1 ] || fail "put t$k took $t tries on a healthy cluster"
done
expect_rc 2 rl get k1 --stale  # --stale needs --node
expect_rc 2 rl put onlykey
expect_rc 2 rl get k1 --node 9

# A stale read of an isolated follower shows its old state; a linearizable one is refused.
rl put s old >/dev/null 2>&1 || fail "put s"
rl wait converged --timeout 10s >/dev/null || fail "converged"
rl isolate "$f" >/dev/null || fail "isolate"
rl put s new --node "$l" >/dev/null 2>&1 || fail "put s new"
[ "$(rl get s --stale --node "$f")" = "old" ] || fail "stale read of isolated $f"
# A linearizable read asked of the isolated node is never 'old': it cannot confirm a leader,
# so the client goes on to other nodes (clients reach every node) and reads 'new'.
v=$(rl get s --node "$f" --timeout 3s) || fail "linearizable get via $f"
[ "$v" = "new" ] || fail "linearizable read via isolated $f returned '$v'"
[ "$(rl get s)" = "new" ] || fail "linearizable read"

# Long partition: the leader writes far past --snapshot-every and compacts; the isolated
# follower, killed and restarted, must catch up by InstallSnapshot.
rl kill "$f" >/dev/null || fail "kill"
for i in $(seq 1 120); do rl put "bulk$((i % 7))" "v$i" >/dev/null 2>&1 || fail "bulk put $i"; done
snap=$(rl status --json | jfield "[n['snapshot_index'] for n in j['nodes'] if n['id'] == $l][0]")
[ "$snap" -ge 100 ] || fail "leader snapshot index $snap: no automatic snapshot"
rl heal >/dev/null || fail "heal"
rl start "$f" >/dev/null || fail "start"
rl wait converged --timeout 15s >/dev/null || fail "not converged after restart"
v=$(rl get bulk1 --stale --node "$f") || fail "stale get on $f"
[ "$v" = "v120" ] || fail "restarted follower has bulk1=$v, want v120 (from the snapshot)"
fsnap=$(rl status --json | jfield "[n['snapshot_index'] for n in j['nodes'] if n['id'] == $f][0]")
[ "$fsnap" -ge 100 ] || fail "follower snapshot index $fsnap: it did not install a snapshot"

# With a majority down, an unknown outcome says that no leader could be found.
rl kill "$(for n in 1 2 3; do [ "$n" = "$f" ] || echo "$n"; done | paste -sd,)" >/dev/null || fail "kill two"
rl put lonely x --timeout 1s 2>"$WORK/err" >/dev/null
rc=$?
[ $rc -eq 1 ] || [ $rc -eq 3 ] || fail "put with a majority down exited $rc"
grep -q "no leader could be found: a majority of the nodes may be down" "$WORK/err" ||
  fail "no hint about a missing majority: $(cat "$WORK/err")"
exit 0
