#!/usr/bin/env bash
# The README tutorial's leader cut off one way (thesis §6.2, §9.6), run as written, every claim
# checked. Every link INTO the leader (node 1) is cut; what it sends still arrives.
# With CheckQuorum (the default): the followers keep hearing its heartbeats, so none campaigns
# until node 1 steps down ("check quorum"); then they elect one of themselves (T+1 unless a
# vote splits); node 1 stays a precandidate in term T (PreVote: its rounds reach the others,
# their answers never reach it) and appends nothing; a write sent to it is refused there and
# lands on the new leader; healed, node 1 follows.
# With --no-check-quorum: node 1 leads term T for as long as the cut stands, its heartbeats keep
# every follower from campaigning, a write to it is appended everywhere and committed nowhere
# (the client: outcome unknown); healed, node 1 commits it: the unknown write did happen.
. "$(dirname "$0")/lib.sh"
require_node
readonly kTraceWaitS=10
# Heartbeats node 2 answers (every 50 ms) before the stuck cluster is judged: 1 s, more than
# three of the longest election timeouts (300 ms).
readonly kHeartbeatsStuck=20

node_field() { jfield "[n['$2'] for n in j['nodes'] if n['id'] == $1][0]"; }

# trace_until FILE TIMELINE_ARGS... -- CONDITION...: rewrite FILE with the timeline until the
# condition (a command) holds, within kTraceWaitS.
trace_until() {
  local file=$1 args=()
  shift
  while [ "$1" != -- ]; do args+=("$1") && shift; done
  shift
  local deadline=$((SECONDS + kTraceWaitS))
  until rl timeline "${args[@]}" >"$file" && "$@"; do
    ((SECONDS < deadline)) || { cat "$file" >&2; fail "timeline: '$*' never held"; }
    sleep 0.1
  done
}

# Part 1: defaults.
new_cluster c -n 5
rl transfer 1 >/dev/null || fail "transfer to 1"
t=$(rl wait leader --json --timeout 10s | jfield 'j["term"]') || fail "no leader"
rl wait converged --timeout 10s >/dev/null || fail "not converged before the cut"
last1=$(rl status --json | node_field 1 last_index)
rl cut 2,3,4,5 1 --one-way >/dev/null || fail "cut"
rl status >"$D/st.txt"
grep -q "^1 .* no recv from 2,3,4,5$" "$D/st.txt" || fail "status does not show the cut on node 1"
[ "$(grep -c "^[2-5] .* no send to 1$" "$D/st.txt")" = 4 ] || fail "status: the four's cut"
rl wait no-leader --nodes 1 --timeout 10s >/dev/null || fail "node 1 never stepped down"
new=$(rl wait leader --nodes 2,3,4,5 --json --timeout 10s) || fail "the four elected nobody"
l=$(echo "$new" | jfield 'j["leader"]')
t2=$(echo "$new" | jfield 'j["term"]')
((t2 > t)) || fail "the new leader's term is $t2, not later than $t"  # T+1 unless a vote split
rl put k 1 --node 1 --json >"$D/put.json" 2>/dev/null || fail "put k 1 failed"
[ "$(jfield 'j["node"]' <"$D/put.json")" = "$l" ] || fail "put k 1 not by $l: $(cat "$D/put.json")"

# Node 1's PreVote rounds after the election: delivered, refused, the answers lost; its term
# stays T, the new leader's stays t2.
rounds() {
  [ "$(sed -n "/n$l  L t$t2 *becomes leader/,\$p" "$D/e.txt" |
    grep -c "n1  P t$t *becomes precandidate")" -ge 2 ]
}
trace_until "$D/e.txt" --type election,stepdown,action -- rounds
st=$(rl status --json)
[ "$(echo "$st" | node_field 1 term)" = "$t" ] || fail "node 1 left term $t: $st"
echo "$st" | node_field 1 role | grep -qxE "precandidate|follower" || fail "node 1 role: $st"
[ "$(echo "$st" | node_field 1 last_index)" = "$last1" ] || fail "node 1 appended: $st"
echo "$st" | node_field 1 leader | grep -qxE "0|None" || fail "node 1 knows a leader: $st"
[ "$(echo "$st" | node_field "$l" term)" = "$t2" ] || fail "node $l's term moved: $st"
echo "$st" | node_field "$l" role | grep -qx leader || fail "node $l no longer leads: $st"
grep -q "n1  L t$t *steps down: check quorum: heard from 1 of 5 voters" "$D/e.txt" ||
  fail "no check-quorum step-down on node 1"
# While node 1 led, its heartbeats reached the four: no timer fired before the step-down.
down_at=$(grep -n "n1  L t$t *steps down" "$D/e.txt" | head -1 | cut -d: -f1)
fired_at=$(awk '/cli +cut/ {c = 1} c && /n[2-5] .*election timer fired/ {print NR; exit}' "$D/e.txt")
((fired_at > down_at)) || fail "a follower campaigned while node 1 led (line $fired_at < $down_at)"
grep -q "n1  P t$t *-> n$l PreVote term=$((t + 1)) .*([0-9.]*ms)" "$D/e.txt" ||
  fail "node 1's PreVote did not reach the leader"
grep -q "n$l  L t$t2 *becomes leader" "$D/e.txt" || fail "no 'becomes leader' for n$l in t$t2"
# The leader voted for itself in T+1; in a later term node 1's T+1 is stale.
why="already voted"
((t2 == t + 1)) || why="[a-z ]*"
grep -q "n$l  L t$t2 *-> n1 PreVoteResponse refused ($why)  LOST  \[drop cut $l->1\]" "$D/e.txt" ||
  fail "the leader's refusal did not get lost on the cut"
sed -n '/cli *cut/,/n1  P.*becomes precandidate/p' "$D/e.txt"
rl heal >/dev/null && rl wait converged --timeout 10s >/dev/null || fail "not converged"
[ "$(rl wait leader --json | jfield 'j["leader"]')" = "$l" ] || fail "node 1 took over at the heal"

# Part 2: --no-check-quorum.
rl down >/dev/null
new_cluster c2 -n 5 --no-check-quorum
rl transfer 1 >/dev/null || fail "transfer to 1"
t=$(rl wait leader --json --timeout 10s | jfield 'j["term"]') || fail "no leader"
rl wait converged --timeout 10s >/dev/null || fail "not converged before the cut"
commit=$(rl status --json | node_field 1 commit)
rl cut 2,3,4,5 1 --one-way >/dev/null || fail "cut"
expect_rc 3 rl put k 1 --node 1 --timeout 1s
grep -q "outcome unknown: no definite answer within 1000 ms" "$WORK/err" ||
  fail "put k 1 did not say outcome unknown: $(cat "$WORK/err")"
last=$(rl status --json | node_field 1 last_index)  # the client has stopped trying
((last > commit)) || fail "node 1 did not append the write"
# Node 2 answers kHeartbeatsStuck heartbeats, all dropped, the last one after the write's
# last try; then nothing may have changed but the logs.
stuck() {
  [ "$(grep -c 'HeartbeatResponse.*\[drop cut 2->1\]' "$D/hb.txt")" -ge "$kHeartbeatsStuck" ] &&
    grep -q "n2  F t$t *-> n1 HeartbeatResponse last=$last  LOST  \[drop cut 2->1\]" "$D/hb.txt"
}
trace_until "$D/hb.txt" --type election,commit,action,HeartbeatResponse --node 2 -- stuck
rl timeline --type AppendEntriesResponse --node 2 |
  grep -q "n2  F t$t *-> n1 AppendEntriesResponse ok match=$last  LOST  \[drop cut 2->1\]" ||
  fail "node 2's acknowledgement of the write was not lost on the cut"
st=$(rl status --json)
for n in 1 2 3 4 5; do
  [ "$(echo "$st" | node_field $n term)" = "$t" ] || fail "node $n left term $t: $st"
  [ "$(echo "$st" | node_field $n commit)" = "$commit" ] || fail "node $n committed: $st"
  [ "$(echo "$st" | node_field $n last_index)" = "$last" ] || fail "node $n lacks the write: $st"
  [ "$(echo "$st" | node_field $n leader)" = 1 ] || fail "node $n does not follow node 1: $st"
done
rl timeline --type election,commit,stepdown,action >"$D/e.txt"
sed -n '/cli *cut/,$p' "$D/e.txt" | grep -E "fired|precandidate|candidate|steps down|commit" &&
  fail "after the cut someone campaigned, stepped down or committed"
rl heal >/dev/null && rl wait converged --timeout 10s >/dev/null || fail "not converged"
[ "$(rl get k)" = 1 ] || fail "k is not 1 after the heal"
trace_until "$D/e.txt" --type election,commit,action -- grep -q "n1  L t$t *commit $commit -> $last" "$D/e.txt"
# (The heal's action record is written after the nodes took the change, so the commit may
# come before it on the timeline; before the heal there was none, checked above.)
sed -n '/cli *cut/,$p' "$D/e.txt" | grep -q "n1  L t$t *commit $commit -> $last" ||
  fail "node 1 did not commit the write at the heal"
sed -n '/cli *cut/,/cli *heal/p' "$D/hb.txt" | grep -E "LOST|cli"
exit 0
