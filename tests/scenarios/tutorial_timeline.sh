#!/usr/bin/env bash
# The README tutorial's timelines say what to look for; this runs the same commands and checks
# each claim, so the tutorial cannot rot. Chapter 1: an election's RequestVote arrows, granted,
# then "becomes leader". Chapter 2: the isolated leader steps down by CheckQuorum, then asks as
# a precandidate, its PreVotes dropped by the partition rule, its term unchanged. Chapter 4: a
# deposed leader's entries refused by the consistency check, the leader backs up by the hint,
# and the conflicting suffix is truncated.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 5
readonly kTimelineWaitS=5  # the killed and isolated nodes' records reach their files by then

# grep_timeline PATTERN WHAT ARGS...: the timeline (with ARGS) must show PATTERN within the bound.
grep_timeline() {
  local pattern=$1 what=$2 deadline=$((SECONDS + kTimelineWaitS))
  shift 2
  until rl timeline "$@" >"$D/timeline.txt" && grep -Eq -- "$pattern" "$D/timeline.txt"; do
    ((SECONDS < deadline)) || { cat "$D/timeline.txt" >&2; fail "timeline $*: no $what"; }
    sleep 0.1
  done
}

# Chapter 1: the first election and one after a kill.
first=$(leader) || fail "no leader"
grep_timeline "n$first  L t1   becomes leader" "leader $first in term 1" --type election
grep_timeline "n$first  C t1   -> n[0-9] RequestVote .* granted|-> n$first RequestVoteResponse granted" \
  "granted RequestVote" --type election
rl kill leader >/dev/null || fail "kill leader"
rest=$(for n in 1 2 3 4 5; do [ "$n" = "$first" ] || printf '%s,' "$n"; done)
second=$(rl wait leader --nodes "${rest%,}" --json --timeout 10s | jfield 'j["leader"]') ||
  fail "no second leader"
grep_timeline "cli        kill $first" "kill action" --type election
grep_timeline "n$second  C t[0-9]+   -> n$first RequestVote .*\\(no receipt\\)" \
  "RequestVote to the dead leader without receipt" --type election
rl start all >/dev/null || fail "start all"
rl wait converged --timeout 10s >/dev/null || fail "not converged"

# Chapter 2: the isolated leader.
old=$(leader) || fail "no leader"
term=$(rl status --json | jfield "[n['term'] for n in j['nodes'] if n['id'] == $old][0]")
rl isolate "$old" >/dev/null || fail "isolate"
grep_timeline "n$old  L t$term   steps down: check quorum" "CheckQuorum step-down" \
  --type election --node "$old"
grep_timeline "n$old  P t$term   -> n[0-9] PreVote term=$((term + 1)) .* LOST  \\[drop partition" \
  "dropped PreVote from the precandidate" --type election --node "$old"
rl heal >/dev/null && rl wait converged --timeout 10s >/dev/null || fail "not converged"

# Chapter 4: a deposed leader's log repaired.
old=$(leader) || fail "no leader"
rl isolate "$old" >/dev/null || fail "isolate"
# Each put reaches the isolated leader, which appends it and cannot commit it. (A bound of 1 s,
# not the tutorial's 300 ms: a loaded sanitizer build may not reach the node in 300 ms.)
for k in a b c; do rl put "$k" 1 --node "$old" --timeout 1s >/dev/null 2>&1 || true; done
st=$(admin_status "$old") || fail "node $old does not answer"
[ "$(echo "$st" | jfield 'j["last_index"] > j["commit"]')" = True ] ||
  fail "the isolated leader holds no uncommitted entry: $st"
rl wait leader --nodes majority --timeout 10s >/dev/null || fail "no majority leader"
rl kill leader >/dev/null || fail "kill the majority's leader"
rl wait leader --nodes majority --timeout 10s >/dev/null || fail "no second majority leader"
rl put d 1 >/dev/null || fail "put d"
rl heal >/dev/null && rl start all >/dev/null && rl wait converged --timeout 10s >/dev/null ||
  fail "not converged after the repair"
grep_timeline "-> n[0-9] AppendEntriesResponse rejected prev=[0-9]+ hint=t[0-9]+/[0-9]+" \
  "rejection with a hint" --node "$old" --type replication
grep_timeline "n$old  F t[0-9]+   truncates [0-9]+\\.\\.[0-9]+ t[0-9]+ \\(leader has t[0-9]+ at" \
  "truncation of the conflicting suffix" --node "$old" --type replication
exit 0
