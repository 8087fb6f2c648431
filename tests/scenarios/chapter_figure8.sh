#!/usr/bin/env bash
# The README tutorial's Figure 8 (§5.4.2), run as written on three fresh clusters, every claim
# checked. (a) node 1 leads term T and takes "a" at index I, which reaches node 2 only;
# (b) node 1 crashes, node 5 wins term T+1 with 3 and 4 and appends at I alone; (c) node 5
# crashes, node 1 returns and wins a later term T', and "a" (term T) reaches 3 and 4: on four
# of five nodes, yet node 1 does not commit it (no entry of T' is on a majority). Ending (d):
# node 1 crashes, node 5 wins with 2, 3 and 4 and overwrites "a", which was never committed.
# Ending (e): node 1's own entry of T' reaches 3 and 4 first; that commits it and "a" with it,
# and node 5 can no longer win. With `--unsafe commit_previous_term_by_counting`, (c) commits
# "a" by counting; (d) then overwrites a committed entry, and `log diff` reports it.
. "$(dirname "$0")/lib.sh"
require_node
readonly kWaitS=10

# wait_for DESC CMD...: poll CMD (bounded) until it succeeds.
wait_for() {
  local desc=$1 deadline=$((SECONDS + kWaitS))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || fail "$desc"
    sleep 0.05
  done
}
field() { rl status --json | jfield "[n['$2'] for n in j['nodes'] if n['id'] == $1][0]"; }
field_is() { [ "$(field "$1" "$2")" = "$3" ]; }
leads() { [ "$(rl wait leader --json --timeout 5s | jfield 'j["leader"]')" = "$1" ]; }
# held_ids TO FIRST: ids of the held AppendEntries 1->TO whose entries start at FIRST.
held_ids() {
  rl msgs --json | jfield "' '.join(m['id'] for m in j['held'] if m['from'] == 1 and
    m['to'] == $1 and m['type'] == 'AppendEntries' and m['fields'].get('ents', [0])[0] == $2)"
}
has_held() { [ -n "$(held_ids "$1" "$2")" ]; }
commit_below() { (($(field 1 commit) < $1)); }
commit_at_least() { (($(field 1 commit) >= $1)); }

# (a) to (c), on a fresh cluster with the flags given; sets I (the index of "a") and T.
play_to_c() {
  new_cluster "$1" -n 5 --no-prevote --no-check-quorum --max-batch 1 "${@:2}"
  rl transfer 1 >/dev/null || fail "transfer to 1"
  rl timers freeze all >/dev/null || fail "freeze"
  rl net hold --from 1 --type AppendEntries,Heartbeat >/dev/null || fail "hold from 1"
  expect_rc 3 rl put a 1 --node 1 --timeout 100ms # appended by node 1 alone: unknown
  I=$(field 1 last_index)
  T=$(field 1 term)
  (($(field 1 commit) < I)) || fail "(a) node 1 did not append the put"
  rl deliver --from 1 --to 2 >/dev/null || fail "deliver to 2"
  wait_for "node 2 takes index $I" field_is 2 last_index "$I"
  # (b)
  rl kill 1 >/dev/null || fail "kill 1"
  rl net hold --from 5 --type AppendEntries >/dev/null || fail "hold from 5"
  rl campaign 5 >/dev/null || fail "campaign 5"
  wait_for "node 5 leads" leads 5
  [ "$(field 5 last_index)" = "$I" ] || fail "node 5's entry is not at $I"
  # (c)
  rl kill 5 >/dev/null && rl start 1 >/dev/null || fail "kill 5, start 1"
  # Its AppendEntries and heartbeats held, only node 1 knows it leads: status says so.
  wait_for "node 1 leads again" field_is 1 role leader
  TP=$(field 1 term) # T', node 1's term as leader again
  wait_for "probes held" has_held 3 $((I + 1))
  rl deliver --from 1 --to 3,4 >/dev/null || fail "deliver the probes" # both refuse
  wait_for "the term-$T entry to 3 held" has_held 3 "$I"
  wait_for "the term-$T entry to 4 held" has_held 4 "$I"
  rl deliver "$(held_ids 3 "$I" | cut -d' ' -f1)" "$(held_ids 4 "$I" | cut -d' ' -f1)" \
    >/dev/null || fail "deliver index $I to 3 and 4"
  for n in 2 3 4; do wait_for "node $n holds $I" field_is $n last_index "$I"; done
}

# --- Safe, ending (d): "a" is on 4 of 5 nodes, uncommitted, and rightly overwritten.
play_to_c d
sleep_until=$((SECONDS + 1)) # the leader has had the acks for a while: commit stays below I
while ((SECONDS < sleep_until)); do commit_below "$I" || fail "(c) commit covers $I"; done
[ "$(rl get a --stale --node 1 2>/dev/null)" != 1 ] || fail "(c) node 1 applied a"
rl kill 1 >/dev/null && rl net release >/dev/null && rl start 5 >/dev/null || fail "(d) steps"
wait_for "(d) node 5 leads" leads 5
expect_rc 1 rl get a # "a" never happened
rl timers thaw 2,3,4 >/dev/null && rl start 1 >/dev/null || fail "(d) thaw, start 1"
rl wait converged --timeout 10s >/dev/null || fail "(d) not converged"
rl log diff >/dev/null || fail "(d) logs differ after convergence"
rl timeline --node 1 --type truncate | grep -q "truncates $I\.\.$((I + 1)) t$T (leader has t$((T + 1)) at $I)" ||
  fail "(d) node 1's truncation of $I..$((I + 1))"
# As leader, node 1 never moved its commit to I or past it (it did as a follower of node 5).
rl timeline --node 1 --type commit | awk -v i="$I" '/ n1  L / && $NF >= i { bad = 1 } END { exit !bad }' &&
  fail "(d) node 1 as leader committed $I"

# --- Safe, ending (e): node 1's own entry of T' commits first, and "a" with it.
play_to_c e
commit_below "$I" || fail "(e) commit covers $I before the entry of T'"
wait_for "(e) entry $((I + 1)) to 3 held" has_held 3 $((I + 1))
wait_for "(e) entry $((I + 1)) to 4 held" has_held 4 $((I + 1))
rl deliver "$(held_ids 3 $((I + 1)) | cut -d' ' -f1)" "$(held_ids 4 $((I + 1)) | cut -d' ' -f1)" \
  >/dev/null || fail "(e) deliver $((I + 1))"
wait_for "(e) commit reaches $((I + 1))" commit_at_least $((I + 1))
[ "$(rl get a --stale --node 1)" = 1 ] || fail "(e) node 1 did not apply a"
rl kill 1 >/dev/null && rl net release >/dev/null && rl start 5 >/dev/null || fail "(e) steps"
refused() {
  rl timeline --type vote >"$D/votes.txt" &&
    grep -Eq " n3  F t[0-9]+ +refuses vote to n5 t[0-9]+: log behind" "$D/votes.txt" &&
    grep -Eq " n4  F t[0-9]+ +refuses vote to n5 t[0-9]+: log behind" "$D/votes.txt"
}
wait_for "(e) 3 and 4 refuse node 5: log behind" refused
# Node 5 led in (b), in term T+1; never after node 1's term T'.
rl timeline --node 5 --type role | awk -v tp="$TP" '/becomes leader/ && substr($4, 2) + 0 > tp { bad = 1 }
  END { exit !bad }' && fail "(e) node 5 led after term $TP"
rl timers thaw 2,3,4 >/dev/null || fail "(e) thaw"
case $(rl wait leader --json --timeout 10s | jfield 'j["leader"]') in
3 | 4) ;; # only they hold the entry of T'; 2 and 5 are behind them
*) fail "(e) the leader is not 3 or 4" ;;
esac
[ "$(rl get a)" = 1 ] || fail "(e) a is lost"

# --- Unsafe: counting commits "a" in (c); ending (d) overwrites a committed entry.
play_to_c u --unsafe commit_previous_term_by_counting
wait_for "(u) counting commits $I" commit_at_least "$I"
[ "$(rl get a --stale --node 1)" = 1 ] || fail "(u) node 1 did not apply a"
rl kill 1 >/dev/null && rl net release >/dev/null && rl start 5 >/dev/null || fail "(u) steps"
wait_for "(u) node 5 leads" leads 5
expect_rc 1 rl get a # committed and applied on node 1, now gone
expect_rc 1 rl log diff
grep -q "node 1: differs from node 5 at index $I .* COMMITTED ENTRY: node 1 committed up to" "$WORK/out" ||
  fail "(u) log diff does not report the committed entry: $(cat "$WORK/out")"
# Restarted, node 1 is asked to replace the entry it committed, and stops rather than do it.
rl timers thaw 2,3,4 >/dev/null && rl start 1 >/dev/null || fail "(u) thaw, start 1"
overwrite_refused() { grep -q "asked to overwrite committed entry $I" "$D/n1/node.log"; }
wait_for "(u) node 1 refuses to overwrite entry $I" overwrite_refused
exit 0
