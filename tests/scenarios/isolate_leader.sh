#!/usr/bin/env bash
# Isolate the leader: it steps down (CheckQuorum) while the majority elects another; heal and
# all converge on the new leader.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
old=$(leader) || fail "no leader"
rl isolate leader --json | jfield 'j["nodes"]' | grep -q "$old" || fail "isolate"
rest=$(for n in 1 2 3; do [ "$n" = "$old" ] || printf '%s,' "$n"; done)
# First the old leader steps down: it no longer hears a quorum (CheckQuorum). Until then the
# majority may still name it, so its agreement on a leader is waited for second.
rl wait no-leader --nodes "$old" --timeout 10s >/dev/null || fail "isolated $old did not step down"
new=$(rl wait leader --nodes "${rest%,}" --json --timeout 10s | jfield 'j["leader"]') ||
  fail "the majority elected no leader"
[ "$new" != "$old" ] || fail "majority leader is the isolated node"
rl heal >/dev/null || fail "heal"
rl wait converged --timeout 10s >/dev/null || fail "not converged after heal"
[ "$(leader)" = "$new" ] || fail "leader changed after heal"
exit 0
