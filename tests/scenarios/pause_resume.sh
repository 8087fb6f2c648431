#!/usr/bin/env bash
# Pause the leader (SIGSTOP): status shows it paused and the others elect a new leader; resume
# it and it rejoins as a follower.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
old=$(leader) || fail "no leader"
rl pause "$old" >/dev/null || fail "pause"
[ "$(rl status --json | jfield "[n['process'] for n in j['nodes'] if n['id'] == $old][0]")" = paused ] ||
  fail "status does not show $old paused"
rest=$(for n in 1 2 3; do [ "$n" = "$old" ] || printf '%s,' "$n"; done)
new=$(rl wait leader --nodes "${rest%,}" --json --timeout 10s | jfield 'j["leader"]') ||
  fail "no new leader while $old is paused"
[ "$new" != "$old" ] || fail "paused node still leader"
rl resume "$old" >/dev/null || fail "resume"
rl wait converged --timeout 10s >/dev/null || fail "not converged after resume"
[ "$(rl status --json | jfield "[n['role'] for n in j['nodes'] if n['id'] == $old][0]")" = follower ] ||
  fail "resumed $old is not a follower"
exit 0
