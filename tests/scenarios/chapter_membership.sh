#!/usr/bin/env bash
# The README tutorial's leadership transfer and membership change (thesis §3.10, §4.2), run as
# written, every claim checked: `transfer 2` sends TimeoutNow and node 2 campaigns at once (no
# timer fired, no pre-vote) and leads one term later; `member add 4` adds a learner, promotes it
# once caught up, then commits voters 1,2,3,4; `member remove 3` drops a follower; `member remove
# 2` removes the leader, which commits the change, then steps down, and 1 or 4 leads.
. "$(dirname "$0")/lib.sh"
require_node
readonly kTraceWaitS=5   # a trace is written within 10 ms; generous under load
readonly kLeaderWaitS=10 # an election takes 150-300 ms; generous under load

# status_field ID FIELD: node ID's FIELD in `status --json`.
status_field() { rl status --json | jfield "[n['$2'] for n in j['nodes'] if n['id'] == $1][0]"; }

# wait_timeline PATTERN ARGS...: poll `timeline ARGS` until a line matches PATTERN.
wait_timeline() {
  local pat=$1 deadline=$((SECONDS + kTraceWaitS))
  shift
  until rl timeline "$@" >"$WORK/t.txt" && grep -qE -- "$pat" "$WORK/t.txt"; do
    ((SECONDS < deadline)) || { tail -n 30 "$WORK/t.txt" >&2; fail "timeline $*: no '$pat'"; }
    sleep 0.1
  done
}

# in_order FILE PATTERN...: each PATTERN matches a line after the previous one's.
in_order() {
  python3 - "$@" <<'PY'
import re, sys
lines, at = open(sys.argv[1]).read().splitlines(), 0
for pat in sys.argv[2:]:
    at = next((i for i in range(at, len(lines)) if re.search(pat, lines[i])), None)
    if at is None:
        sys.exit(f"not in order: {pat}")
    at += 1
PY
}

check_transfer() {
  rl transfer 1 >/dev/null || fail "transfer 1"
  local term
  term=$(status_field 1 term)
  rl transfer 2 >"$WORK/out" || fail "transfer 2"
  grep -q "leader is node 2 (term $((term + 1)))" "$WORK/out" || fail "transfer 2 said: $(cat "$WORK/out")"
  [ "$(status_field 2 role)" = leader ] || fail "node 2 does not lead"
  wait_timeline "n2  L t$((term + 1))   becomes leader" --type transfer,TimeoutNow,election
  in_order "$WORK/t.txt" "n1  L t$term   transfer to n2: timeout now sent" "n1  L t$term   -> n2 TimeoutNow" \
    "n2  F t$term   transfer to n2: timeout now received" "n2  C t$((term + 1))   becomes candidate" \
    "n2  C t$((term + 1))   -> n[13] RequestVote .* transfer" "n2  L t$((term + 1))   becomes leader" ||
    fail "the transfer's steps"
  # At once: between the TimeoutNow and the election no timer fired and no pre-vote ran.
  sed -n '/transfer to n2: timeout now received/,/becomes leader/p' "$WORK/t.txt" |
    grep -E "n2 .*(election timer fired|becomes precandidate|PreVote)" && fail "node 2 waited for its timer"
  TERM_NOW=$((term + 1))
}

check_add() {
  rl member add 4 >"$WORK/out" 2>/dev/null || fail "member add 4"
  grep -q "added node 4: voters 1,2,3,4, learners -" "$WORK/out" || fail "member add said: $(cat "$WORK/out")"
  [ "$(status_field 4 member)" = voter ] || fail "node 4 is not a voter"
  wait_timeline "n4  F t$TERM_NOW   membership at [0-9]+: applied voters 1,2,3,4$" --type member
  in_order "$WORK/t.txt" "n2  L t$TERM_NOW   membership at [0-9]+: appended voters 1,2,3 learners 4$" \
    "n4  F t$TERM_NOW   membership at [0-9]+: appended voters 1,2,3 learners 4$" \
    "n2  L t$TERM_NOW   membership at [0-9]+: promote learner 4 \(caught up in round [0-9]+\)" \
    "n2  L t$TERM_NOW   membership at [0-9]+: appended voters 1,2,3,4$" \
    "n2  L t$TERM_NOW   membership at [0-9]+: applied voters 1,2,3,4$" || fail "the add's steps"
}

check_remove_follower() {
  rl member remove 3 >"$WORK/out" 2>/dev/null || fail "member remove 3"
  grep -q "removed node 3: voters 1,2,4, learners -" "$WORK/out" || fail "member remove 3 said: $(cat "$WORK/out")"
  [ "$(status_field 3 member)" = removed ] || fail "node 3 is not removed"
  [ "$(status_field 2 role)" = leader ] || fail "node 2 no longer leads after removing a follower"
  wait_timeline "n2  L t$TERM_NOW   membership at [0-9]+: applied voters 1,2,4$" --type member
}

# check_remove_leader: the leader commits its own removal, then steps down; 1 or 4 leads after.
check_remove_leader() {
  rl member remove 2 >"$WORK/out" 2>/dev/null || fail "member remove 2"
  grep -q "removed node 2: voters 1,4, learners -" "$WORK/out" || fail "member remove 2 said: $(cat "$WORK/out")"
  local new
  # Nodes 1 and 4 name node 2 as leader until their election timeout passes: poll.
  local deadline=$((SECONDS + kLeaderWaitS))
  until new=$(rl wait leader --nodes 1,4 --json --timeout 2s | jfield "j['leader']") &&
    { [ "$new" = 1 ] || [ "$new" = 4 ]; }; do
    ((SECONDS < deadline)) || fail "no leader of 1,4 after the leader's removal (last: ${new:-none})"
    sleep 0.1
  done
  [ "$(status_field 2 member)" = removed ] || fail "node 2 is not removed"
  [ "$(status_field "$new" term)" -gt "$TERM_NOW" ] || fail "the new leader's term is not higher"
  wait_timeline "n$new  L t[0-9]+   becomes leader" --type member,commit,stepdown,role --node "2,$new"
  local idx
  idx=$(grep -oE "n2  L t$TERM_NOW   membership at [0-9]+: appended voters 1,4$" "$WORK/t.txt" | grep -oE "at [0-9]+" | cut -c4-)
  [ -n "$idx" ] || fail "node 2 did not append voters 1,4"
  in_order "$WORK/t.txt" "n2  L t$TERM_NOW   membership at $idx: appended voters 1,4$" \
    "n2  L t$TERM_NOW   commit [0-9]+ -> $idx$" "n2  L t$TERM_NOW   steps down: removed from the configuration" \
    "n$new  L t[0-9]+   becomes leader" || fail "the leader's removal steps"
  rl put k v >/dev/null 2>&1 && [ "$(rl get k)" = v ] || fail "voters 1,4 do not serve"
}

new_cluster c -n 3
check_transfer
check_add
check_remove_follower
check_remove_leader
rl timeline --type transfer,member,stepdown,action >/dev/null || fail "timeline"
rl down >/dev/null && new_cluster defaults -n 5 || fail "back to the defaults"
exit 0
