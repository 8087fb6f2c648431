#!/usr/bin/env bash
# A node restarted while partitioned stays partitioned (it reloads the rules from cluster.json):
# it never hears the leader until heal.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
l=$(leader) || fail "no leader"
f=$(for n in 1 2 3; do [ "$n" = "$l" ] || echo "$n"; done | head -1)
rl isolate "$f" >/dev/null || fail "isolate"
rl restart "$f" >/dev/null || fail "restart"
sleep 1  # many heartbeats
knows=$(rl status --json | jfield "[n['leader'] for n in j['nodes'] if n['id'] == $f][0]")
[ "$knows" = "0" ] || [ "$knows" = "None" ] || fail "restarted node $f hears leader $knows: healed by restart"
rl wait leader --timeout 10s >/dev/null || fail "the majority lost its leader"
rl heal >/dev/null || fail "heal"
rl wait converged --timeout 10s >/dev/null || fail "not converged after heal"
exit 0
