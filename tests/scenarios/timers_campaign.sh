#!/usr/bin/env bash
# The election timer by hand and the protocol switches (issue 14), on real processes:
# frozen followers elect nobody when the leader dies, `campaign 2` elects node 2, a restart
# thaws; `up --no-prevote ...` lands in cluster.json and `status`, is kept on a restart, and
# a campaign then skips the PreVote round.
. "$(dirname "$0")/lib.sh"
require_node

ELECTION_MAX_MS=300               # the default --election-timeout 150ms-300ms
QUIET_MS=$((3 * ELECTION_MAX_MS)) # frozen followers must stay leaderless this long

# sends_of NODE TYPE: how many messages of TYPE node NODE's trace says it sent.
sends_of() {
  cat "$D/n$1"/trace*.jsonl 2>/dev/null |
    grep -c "\"ev\":\"send\".*\"type\":\"$2\"" || true
}

# protocol_is PYTHON_DICT: cluster.json's "protocol" equals it.
protocol_is() {
  [ "$(jfield "j['protocol'] == $1" <"$D/cluster.json")" = True ]
}

# --- frozen followers, then a campaign by hand --------------------------------------------
new_cluster c -n 3
rl status | grep -q "^protocol defaults" || fail "status does not show the default protocol"
jfield 'j["protocol"]["pre_vote"]' <"$D/cluster.json" | grep -qx True ||
  fail "cluster.json has no protocol.pre_vote"
l=$(leader) || fail "no leader"
if [ "$l" != 1 ]; then rl transfer 1 >/dev/null || fail "transfer to 1"; fi

rl timers freeze 2,3 >/dev/null || fail "timers freeze 2,3"
[ "$(admin_status 2 timers_frozen)" = true ] || fail "node 2 does not report a frozen timer"
rl status | grep -E "^2 .*follower \(timer frozen\)" >/dev/null || fail "status does not show 2 frozen"
rl status --json | jfield '[n["timers_frozen"] for n in j["nodes"]]' | grep -qx "\[False, True, True\]" ||
  fail "status --json timers_frozen is not [false, true, true]"

term_before=$(admin_status 2 term)
rl kill 1 >/dev/null || fail "kill 1"
# Bounded: three election timeouts without a leader (exit 3 of `wait` is the pass).
expect_rc 3 rl wait leader --nodes 2,3 --timeout "${QUIET_MS}ms"
for n in 2 3; do
  [ "$(admin_status $n role)" = '"follower"' ] || fail "frozen node $n left the follower role"
done
[ "$(admin_status 2 term)" = "$term_before" ] || fail "a frozen node started a new term"

expect_rc 4 rl campaign 1  # not running
expect_rc 2 rl timers melt 2
rl campaign 2 >"$WORK/campaign.out" || fail "campaign 2"
grep -q "node 2: precandidate" "$WORK/campaign.out" || fail "campaign 2: $(cat "$WORK/campaign.out")"
[ "$(rl wait leader --nodes 2,3 --json --timeout 5s | jfield 'j["leader"]')" = 2 ] ||
  fail "campaign 2 did not elect node 2"
expect_rc 1 rl campaign 2  # the leader
[ "$(sends_of 2 PreVote)" -ge 1 ] || fail "node 2's campaign sent no PreVote (pre-vote is on)"
grep -q '"ev":"timer"' "$D/n2/trace.jsonl" || fail "no timer record in node 2's trace"
for verb in timers campaign; do
  grep -q "\"verb\":\"$verb\"" "$D/actions.jsonl" || fail "no $verb in actions.jsonl"
done

# A restart thaws: the frozen state is the process's, not the disk's.
rl restart 3 >/dev/null || fail "restart 3"
ok=0
for _ in $(seq 1 50); do
  [ "$(admin_status 3 timers_frozen 2>/dev/null)" = false ] && ok=1 && break
  sleep 0.1
done
[ $ok = 1 ] || fail "restarted node 3 is still frozen"
rl timers thaw 2 >/dev/null || fail "timers thaw 2"
[ "$(admin_status 2 timers_frozen)" = false ] || fail "node 2 still frozen after thaw"

# --- protocol switches ------------------------------------------------------------------------
new_cluster s -n 3 --no-prevote --no-check-quorum --no-fast-backup --max-inflight 4 --max-batch 8
want="protocol no-prevote, no-check-quorum, no-fast-backup, max-inflight 4, max-batch 8"
rl status | grep -qF "$want" || fail "status does not say '$want'"
protocol_is "{'pre_vote': False, 'check_quorum': False, 'fast_backup': False, 'max_inflight': 4, 'max_batch': 8}" ||
  fail "cluster.json protocol: $(jfield 'j["protocol"]' <"$D/cluster.json")"
rl status --json | jfield 'j["protocol"]["fast_backup"]' | grep -qx False ||
  fail "status --json has no protocol"
l=$(leader) || fail "no leader"
others=$(for n in 1 2 3; do [ "$n" = "$l" ] || printf '%s,' "$n"; done)
others=${others%,}
c=${others%%,*}
rl timers freeze "$others" >/dev/null || fail "timers freeze $others"
rl kill "$l" >/dev/null || fail "kill $l"
expect_rc 3 rl wait leader --nodes "$others" --timeout "${QUIET_MS}ms"
rl campaign "$c" >"$WORK/campaign.out" || fail "campaign $c"
grep -q "node $c: candidate" "$WORK/campaign.out" || fail "campaign $c: $(cat "$WORK/campaign.out")"
[ "$(rl wait leader --nodes "$others" --json --timeout 5s | jfield 'j["leader"]')" = "$c" ] ||
  fail "campaign $c did not elect node $c"
[ "$(sends_of "$c" PreVote)" = 0 ] || fail "node $c sent PreVote with --no-prevote"
[ "$(sends_of "$c" RequestVote)" -ge 1 ] || fail "node $c sent no RequestVote"

# Kept on a restart unless given; a given one changes only itself.
rl down >/dev/null || fail "down"
"$RAFTLAB" up --dir "$D" --timeout 10s --max-batch 16 >/dev/null 2>"$WORK/up.err" ||
  fail "restart: $(cat "$WORK/up.err")"
protocol_is "{'pre_vote': False, 'check_quorum': False, 'fast_backup': False, 'max_inflight': 4, 'max_batch': 16}" ||
  fail "restart did not keep the switches: $(jfield 'j["protocol"]' <"$D/cluster.json")"
exit 0
