#!/usr/bin/env bash
# Partition 5 nodes, let the majority move on (new terms, new entries), heal: every node
# converges to the same commit index and the same log (`log diff` prints nothing).
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 5
l=$(leader) || fail "no leader"
rl partition --random halves --json >"$WORK/p.json" || fail "partition"
rl wait leader --timeout 10s >/dev/null || fail "no majority leader"
rl kill leader >/dev/null || fail "kill the majority leader"   # more terms, more entries
rl start all >/dev/null || fail "start"
rl wait leader --timeout 10s >/dev/null || fail "no leader after the restart"
rl heal >/dev/null || fail "heal"
rl wait converged --timeout 15s --json >"$WORK/conv.json" || fail "not converged"
[ "$(jfield 'len(j["nodes"])' <"$WORK/conv.json")" = 5 ] || fail "not all 5 converged"
rl log diff >"$WORK/diff.txt" || fail "log diff exited $?"
[ ! -s "$WORK/diff.txt" ] || fail "logs differ: $(cat "$WORK/diff.txt")"
[ "$(rl log diff --json | jfield 'j["identical"]')" = True ] || fail "log diff --json"
rl log dump 1 --json | jfield 'len(j["nodes"][0]["entries"]) > 0' | grep -q True || fail "log dump 1"
exit 0
