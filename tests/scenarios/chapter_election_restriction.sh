#!/usr/bin/env bash
# The README tutorial's election restriction (§5.4.1), run as written, every claim checked:
# node 1 leads; timers frozen; AppendEntries to node 3 held, so three writes commit on 1 and 2
# only; node 3 campaigns with its shorter log and both others refuse it "log behind"; it goes
# back to follower and never leads; thawed and released, a leader holding the writes is elected
# and node 3's log is repaired.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3 --no-prevote --no-check-quorum
readonly kTraceWaitS=5

rl transfer 1 >/dev/null || fail "transfer to 1"
rl timers freeze all >/dev/null || fail "freeze"
rl net hold --to 3 --type AppendEntries >/dev/null || fail "hold"
for k in a b c; do rl put "$k" 1 >/dev/null 2>&1 || fail "put $k"; done
last3=$(rl status --json | jfield "[n['last_index'] for n in j['nodes'] if n['id'] == 3][0]")
last1=$(rl status --json | jfield "[n['last_index'] for n in j['nodes'] if n['id'] == 1][0]")
((last3 + 3 <= last1)) || fail "node 3's log ($last3) is not behind node 1's ($last1)"
rl campaign 3 >/dev/null || fail "campaign 3"
deadline=$((SECONDS + kTraceWaitS))
until rl timeline --node 3 --type RequestVoteResponse >"$D/t.txt" &&
  [ "$(grep -c 'refused (log behind)' "$D/t.txt")" = 2 ]; do
  ((SECONDS < deadline)) || { cat "$D/t.txt" >&2; fail "two refusals, log behind"; }
  sleep 0.1
done
grep -q "n1 .* refuses vote to n3 t[0-9]*: log behind" <(rl timeline --type vote) ||
  fail "node 1's decision does not say log behind"
rl timers thaw 1,2 >/dev/null && rl net release >/dev/null || fail "thaw, release"
leader=$(rl wait leader --timeout 10s --json | jfield 'j["leader"]') || fail "no leader"
[ "$leader" != 3 ] || fail "node 3 led with a log missing committed writes"
rl wait converged --timeout 10s >/dev/null || fail "not converged"
# From its campaign on (the first election, before `transfer 1`, may have been node 3's).
rl timeline --type role,action | awk '/ cli +campaign 3/ { on = 1 } on && / n3  L / { bad = 1 }
  END { exit !bad }' && fail "node 3 became leader after its campaign"
[ "$(rl get c --stale --node 3)" = 1 ] || fail "node 3's log not repaired"
exit 0
