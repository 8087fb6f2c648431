#!/usr/bin/env bash
# `down` stops every node, a paused one too, and waits until the pids are gone.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
pids=$(rl status --json | jfield '" ".join(str(n["pid"]) for n in j["nodes"])')
rl pause 2 >/dev/null || fail "pause"
rl down >/dev/null || fail "down exited $?"
for p in $pids; do
  if [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
    fail "pid $p still runs after down"
  fi
done
[ "$(rl status --json | jfield '{n["process"] for n in j["nodes"]}')" = "{'stopped'}" ] ||
  fail "status after down"
rl down >/dev/null || fail "down on a stopped cluster"
exit 0
