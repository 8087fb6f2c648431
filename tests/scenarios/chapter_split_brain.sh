#!/usr/bin/env bash
# The README tutorial's split brain (§5.2, §5.4), run as written, every claim checked: node 1
# leads in term T and x=1 commits; cut into {1,2} and {3,4,5}, node 1 takes `put x 2` (appended
# on 1 and 2, never committed; the client is told the outcome is unknown, exit 3); the majority
# elects a leader in a later term and commits x=3; status shows two leaders in two terms, node
# 1's commit index stuck below its last index; healed, nodes 1 and 2 truncate what node 1
# appended alone and x reads 3 everywhere: x=2 never happened.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 5 --no-check-quorum  # the old leader keeps leading in its minority
readonly kTraceWaitS=5

# node_field ID FIELD < status json: one node's field.
node_field() { jfield "[n['$2'] for n in j['nodes'] if n['id'] == $1][0]"; }

rl transfer 1 >/dev/null || fail "transfer to 1"
t=$(rl wait leader --json --timeout 10s | jfield 'j["term"]') || fail "no leader"
rl put x 1 >/dev/null 2>&1 || fail "put x 1"
rl partition 1,2 3,4,5 >/dev/null || fail "partition"
commit1=$(rl status --json | node_field 1 commit)

# The old leader appends the write, cannot commit it, and the client gives up: unknown.
expect_rc 3 rl put x 2 --node 1 --timeout 1s
grep -q "outcome unknown: no definite answer within 1000 ms" "$WORK/err" ||
  fail "put x 2 did not say outcome unknown: $(cat "$WORK/err")"
echo "put x 2 said: $(cat "$WORK/err")"

new=$(rl wait leader --nodes 3,4,5 --json --timeout 10s) || fail "the majority elected nobody"
l=$(echo "$new" | jfield 'j["leader"]')
t2=$(echo "$new" | jfield 'j["term"]')
((t2 > t)) || fail "the majority's leader is in term $t2, not later than $t"
expect_rc 0 rl put x 3 --node leader
grep -q "applied at index [0-9]* by node $l" "$WORK/err" || fail "x=3 not by $l: $(cat "$WORK/err")"

# Two leaders at once, in two terms; only the new one's commit index moves.
st=$(rl status --json)
echo "$st" | node_field 1 role | grep -qx leader || fail "node 1 no longer leads: $st"
[ "$(echo "$st" | node_field 1 term)" = "$t" ] || fail "node 1 left term $t: $st"
echo "$st" | node_field "$l" role | grep -qx leader || fail "node $l does not lead: $st"
[ "$(echo "$st" | node_field "$l" term)" = "$t2" ] || fail "node $l not in term $t2: $st"
[ "$(echo "$st" | node_field 1 commit)" = "$commit1" ] || fail "node 1 committed: $st"
last1=$(echo "$st" | node_field 1 last_index)
((last1 > commit1)) || fail "node 1 holds no uncommitted entry: $st"
[ "$(echo "$st" | node_field 2 last_index)" = "$last1" ] || fail "node 2 lacks node 1's entries"
# Each entry past node 1's commit index is the same write, one per try of the client.
rl log dump 1 >"$D/dump.txt" || fail "log dump 1"
n_x2=$(grep -c '^ *@[0-9]* entry [0-9]* term '"$t"' put "x" "2" client [0-9]* seq 1$' "$D/dump.txt")
[ "$n_x2" = $((last1 - commit1)) ] || { cat "$D/dump.txt" >&2; fail "$n_x2 x=2 entries, want $((last1 - commit1))"; }

rl heal >/dev/null && rl wait converged --timeout 10s >/dev/null || fail "not converged"
[ "$(rl get x)" = 3 ] || fail "x is not 3 after the heal"
for n in 1 2; do
  [ "$(rl get x --stale --node $n)" = 3 ] || fail "node $n's x is not 3"
done

# The timeline: each of nodes 1 and 2 truncates exactly what node 1 appended in the minority,
# for the new leader's term; node 1 commits nothing between the partition and the truncation.
want="truncates $((commit1 + 1))..$last1 t$t (leader has t$t2 at $((commit1 + 1)))"
deadline=$((SECONDS + kTraceWaitS))
until rl timeline --type role,append,commit,truncate,action >"$D/t.txt" &&
  [ "$(grep -c "$want" "$D/t.txt")" = 2 ]; do
  ((SECONDS < deadline)) || { cat "$D/t.txt" >&2; fail "'$want' on nodes 1 and 2"; }
  sleep 0.1
done
grep -q "n1  F t$t2 *$want" "$D/t.txt" && grep -q "n2  F t$t2 *$want" "$D/t.txt" ||
  fail "the truncations are not on nodes 1 and 2"
grep -q "n$l  L t$t2 *becomes leader" "$D/t.txt" || fail "no 'becomes leader' for n$l in t$t2"
first_commit=$(awk '/cli +partition/ {p = 1} p && /n1 .* commit / {print NR; exit}' "$D/t.txt")
trunc=$(grep -n "n1 .*truncates" "$D/t.txt" | head -1 | cut -d: -f1)
[ -n "$first_commit" ] && ((first_commit > trunc)) ||
  fail "node 1 committed in the minority (line $first_commit, truncation at $trunc)"
sed -n '/cli *partition/,$p' "$D/t.txt"
exit 0
