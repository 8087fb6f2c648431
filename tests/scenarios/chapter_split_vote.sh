#!/usr/bin/env bash
# The README tutorial's split vote, run as written, every claim checked: node 1 leads (term T);
# every timer frozen; node 1 killed; RequestVotes held; nodes 2 and 3 campaign at once in T+1;
# node 4's vote goes to 2, node 5's to 3, and 2 and 3 refuse each other ("already voted"): two
# votes each of five, no leader in T+1; released, the rest are refused too; the timers
# thawed, a leader is elected in a later term; node 1 rejoins.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 5 --no-prevote --no-check-quorum  # no pre-vote round, no lease
readonly kHeldWaitS=5

rl transfer 1 >/dev/null || fail "transfer to 1"
t=$(($(rl wait leader --json --timeout 10s | jfield 'j["term"]') + 1))  # the split vote's term
rl timers freeze all >/dev/null || fail "freeze"
rl kill 1 >/dev/null || fail "kill 1"
rl net hold --type RequestVote >/dev/null || fail "hold"
rl campaign 2 >/dev/null || fail "campaign 2"
rl campaign 3 >/dev/null || fail "campaign 3"
deadline=$((SECONDS + kHeldWaitS))
until [ "$(rl msgs --json | jfield "len(j['held'])")" = 8 ]; do
  ((SECONDS < deadline)) || { rl msgs >&2; fail "8 RequestVotes not held"; }
  sleep 0.05
done
rl deliver --from 2 --to 4 >/dev/null || fail "deliver 2->4"
rl deliver --from 3 --to 5 >/dev/null || fail "deliver 3->5"
rl deliver --from 2 --to 3 >/dev/null || fail "deliver 2->3"
rl deliver --from 3 --to 2 >/dev/null || fail "deliver 3->2"
rl net release >/dev/null || fail "release"

# Every vote of the split term is in the trace; wait (bounded) until the four voters' answers are.
expect_votes() {
  rl timeline --type vote >"$D/votes.txt" || return 1
  grep -q "n4  F t$t   grants vote to n2 t$t" "$D/votes.txt" &&
    grep -q "n5  F t$t   grants vote to n3 t$t" "$D/votes.txt" &&
    grep -q "n2  C t$t   refuses vote to n3 t$t: already voted" "$D/votes.txt" &&
    grep -q "n3  C t$t   refuses vote to n2 t$t: already voted" "$D/votes.txt" &&
    grep -q "n4  F t$t   refuses vote to n3 t$t: already voted" "$D/votes.txt" &&
    grep -q "n5  F t$t   refuses vote to n2 t$t: already voted" "$D/votes.txt"
}
deadline=$((SECONDS + kHeldWaitS))
until expect_votes; do
  ((SECONDS < deadline)) || { cat "$D/votes.txt" >&2; fail "the split vote's votes"; }
  sleep 0.1
done
st=$(rl status --json)
for n in 2 3; do
  echo "$st" | jfield "[(x['role'], x['term']) for x in j['nodes'] if x['id'] == $n][0]" |
    grep -q "('candidate', $t)" || fail "node $n is not a candidate in term $t: $st"
done
rl timeline --type role | grep -q "t$t   becomes leader" && fail "a leader in term $t"

# Thawed, the four time out and elect a leader in a later term. (Node 1 stays down until
# then: back while 2 and 3 still campaign in the split term, its vote would make one of them
# leader of that term after all.)
rl timers thaw 2,3,4,5 >/dev/null || fail "thaw"
term=$(rl wait leader --timeout 10s --json | jfield 'j["term"]') || fail "no leader after the thaw"
((term > t)) || fail "the leader's term is $term, not later than the split one"
rl start 1 >/dev/null && rl wait converged --timeout 10s >/dev/null || fail "node 1 back"
rl timeline --type role | grep -q "t$t   becomes leader" && fail "a leader in term $t after all"
exit 0
