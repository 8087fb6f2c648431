#!/usr/bin/env bash
# Kill the leader (SIGKILL): the others elect a new one; the old one restarts as a follower.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
old=$(leader) || fail "no leader"
rl kill "$old" --json | jfield 'j["nodes"]' | grep -q "$old" || fail "kill $old"
rest=$(for n in 1 2 3; do [ "$n" = "$old" ] || printf '%s,' "$n"; done)
new=$(rl wait leader --nodes "${rest%,}" --json --timeout 10s | jfield 'j["leader"]') ||
  fail "no new leader"
[ "$new" != "$old" ] || fail "the killed node $old is still the leader"
rl start "$old" >/dev/null || fail "start $old"
rl wait converged --timeout 10s >/dev/null || fail "not converged after the restart"
[ "$(leader)" = "$new" ] || fail "the restarted node disrupted leader $new"
exit 0
