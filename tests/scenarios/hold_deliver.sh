#!/usr/bin/env bash
# Messages by hand on a real 3-node cluster (`net hold`, `msgs`, `deliver`, `drop`,
# `net release`): the leader's AppendEntries to one follower wait at the leader, so a put does
# not reach it until delivered; drop discards; release lets the rest go. On a second cluster
# with a test-only cap (RAFTLAB_TEST_HELD_MAX): the cap drops the oldest, a killed node loses
# what it held, and a restarted one holds again.
. "$(dirname "$0")/lib.sh"
require_node
CAP=4
new_cluster c -n 3
L=$(leader) || fail "no leader"
F=$([ "$L" = 1 ] && echo 2 || echo 1)
rl wait converged --timeout 10s >/dev/null || fail "not converged"

# held_count [PYTHON FILTER over m]: how many held messages match.
held_count() { rl msgs --json | jfield "len([m for m in j['held'] if ${1:-True}])"; }
# wait_for DESC CMD...: polls CMD (true/false) every 0.1 s, at most 10 s.
wait_for() {
  local desc=$1 k
  shift
  for ((k = 0; k < 100; ++k)); do
    "$@" && return 0
    sleep 0.1
  done
  fail "timed out waiting for: $desc"
}
last_of() { admin_status "$1" last_index; }
ae_held() { [ "$(held_count "m['from'] == $L and m['to'] == $F and m['type'] == 'AppendEntries'")" -ge 1 ]; }

# 1. Hold the leader's AppendEntries to F; a put commits on the other two, not on F. (The
# leader sends the entry again at each heartbeat answer that shows F behind: all are held.)
rl net hold --from "$L" --to "$F" --type AppendEntries >/dev/null || fail "net hold"
rl faults | grep -q "hold $L->$F AppendEntries" || fail "faults does not show the hold rule"
rl status | grep -q "holds: $L->$F AppendEntries" || fail "status does not show the hold rule"
before=$(last_of "$F") || fail "no status from $F"
rl put k v1 >/dev/null || fail "put k v1"
wait_for "msgs to list an AppendEntries $L->$F" ae_held
rl msgs | grep -q "^$L\.[0-9]*  $L->$F AppendEntries t[0-9]* prev=" || fail "msgs text: $(rl msgs)"
[ "$(last_of "$F")" = "$before" ] || fail "F's log grew while its AppendEntries were held"
id=$(rl msgs --json | jfield "[m['id'] for m in j['held'] if m['type'] == 'AppendEntries'][0]")

# 2. Deliver it: F's log advances.
rl deliver "$id" >/dev/null || fail "deliver $id"
wait_for "F's last index to pass $before" test "$(last_of "$F")" -gt "$before"
grep -q "\"ev\":\"deliver\".*\"id\":\"$id\",\"why\":\"hand\"" "$D/n$L/trace.jsonl" ||
  fail "no deliver record for $id in n$L's trace"
rl msgs --json | jfield "'$id' not in [m['id'] for m in j['held']]" | grep -q True ||
  fail "$id still listed after deliver"

# 3. Ids: unknown is 1, malformed is 2; neither changes anything.
expect_rc 1 rl deliver "$L.999999"
expect_rc 2 rl deliver "nonsense"
expect_rc 2 rl deliver

# 4. Drop by selector: the next put's AppendEntries are discarded, F does not get them.
after_deliver=$(last_of "$F")
rl put k v2 >/dev/null || fail "put k v2"
wait_for "a new AppendEntries $L->$F" ae_held
rl drop --from "$L" --to "$F" --type AppendEntries >"$WORK/drop.out" || fail "drop"
grep -q "^dropped [1-9]" "$WORK/drop.out" || fail "drop said: $(cat "$WORK/drop.out")"
[ "$(last_of "$F")" = "$after_deliver" ] || fail "F got an entry that was dropped"
grep -q '"ev":"discard".*"why":"hand"' "$D/n$L/trace.jsonl" || fail "no discard record"

# 5. Release everything: the held AppendEntries flow and F catches up.
rl net release >/dev/null || fail "net release"
rl faults | grep -q "hold" && fail "hold rules left after release"
rl wait converged --timeout 10s >/dev/null || fail "F did not catch up after release"
[ "$(held_count)" = 0 ] || fail "messages still held after release"
[ "$(rl get k)" = v2 ] || fail "get k: $(rl get k)"
grep -q '"verb":"deliver"' "$D/actions.jsonl" || fail "deliver not in actions.jsonl"
rl timeline >"$WORK/timeline.txt" || fail "timeline"
grep -q "holds $L\.[0-9]* -> n$F AppendEntries" "$WORK/timeline.txt" || fail "timeline has no hold"
grep -q "delivers $id -> n$F AppendEntries (by hand)" "$WORK/timeline.txt" ||
  fail "timeline has no delivery of $id"
rl timeline --html "$WORK/timeline.html" >/dev/null || fail "timeline --html with hold records"

# 6. The cap, on a cluster whose nodes inherit a cap of CAP: F's HeartbeatResponses to the
# leader (about 20 a second) fill it; beyond it the oldest go, traced as discarded by the cap.
RAFTLAB_TEST_HELD_MAX=$CAP new_cluster cap -n 3
L=$(leader) || fail "no leader on the cap cluster"
F=$([ "$L" = 1 ] && echo 2 || echo 1)
rl net hold --from "$F" --to "$L" --type HeartbeatResponse >/dev/null || fail "net hold F->L"
cap_hit() { grep -q '"ev":"discard".*"why":"cap"' "$D/n$F/trace.jsonl"; }
wait_for "a cap discard in n$F's trace" cap_hit
[ "$(held_count "m['from'] == $F")" = "$CAP" ] || fail "F holds $(held_count "m['from'] == $F"), want $CAP"

# 7. Kill F: what it held is gone; started again, it holds again (the rule is in cluster.json).
rl kill "$F" >/dev/null || fail "kill $F"
[ "$(held_count "m['from'] == $F")" = 0 ] || fail "a killed node's messages are still listed"
rl start "$F" >/dev/null || fail "start $F"
f_holds() { [ "$(held_count "m['from'] == $F")" -ge 1 ]; }
wait_for "restarted F to hold its HeartbeatResponses again" f_holds

exit 0
