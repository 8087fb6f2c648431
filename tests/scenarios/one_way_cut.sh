#!/usr/bin/env bash
# A one-way cut from the leader to a follower: the follower hears nothing, but the leader keeps
# a majority, so the cluster keeps a leader; after heal the follower catches up.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
l=$(leader) || fail "no leader"
f=$(for n in 1 2 3; do [ "$n" = "$l" ] || echo "$n"; done | head -1)
rl cut "$l" "$f" --one-way --json | jfield 'j["cuts"]' | grep -q "\[\[$l, $f\]\]" || fail "cut"
rl faults | grep -q "cut $l->$f" || fail "faults does not list the cut"
sleep 1  # several election timeouts
rl wait leader --timeout 10s >/dev/null || fail "no majority leader during a one-way cut"
rl heal >/dev/null || fail "heal"
rl wait converged --timeout 10s >/dev/null || fail "not converged after heal"
exit 0
