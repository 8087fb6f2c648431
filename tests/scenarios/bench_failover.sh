#!/usr/bin/env bash
# `bench --failover 2 --clients 4` (functional, not timed): two rounds of kill -9 the leader
# under the put load, each with a positive gap to the first acknowledged put and the four parts
# of it (detection, PreVote, election, client) read from the traces, none negative and summing
# to no more than the gap (plus slack for the trace and client clocks' granularity); each kill
# recorded in actions.jsonl; the killed nodes back and the cluster converged afterwards.
. "$(dirname "$0")/lib.sh"
require_node
readonly kRounds=2
readonly kSlackMs=15 # the client sweeps every 5 ms; trace records are stamped as they happen
new_cluster c -n 3
expect_rc 0 rl bench --failover "$kRounds" --clients 4 --warmup 500ms --json
python3 - "$WORK/out" "$kRounds" "$kSlackMs" <<'PY' || fail "report: $(cat "$WORK/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
rounds, slack = int(sys.argv[2]), float(sys.argv[3])
parts = ("detection_ms", "prevote_ms", "election_ms", "client_ms")
assert len(doc["rounds"]) == rounds, "want %d rounds, got %d" % (rounds, len(doc["rounds"]))
assert doc["try_timeout_ms"] == 300, doc["try_timeout_ms"]
for r in doc["rounds"]:
    gap = r["gap_ms"]
    assert gap is not None and gap > 0, "round %s: gap %r" % (r["round"], gap)
    for p in parts:
        assert r[p] is not None and r[p] >= 0, "round %s: %s = %r" % (r["round"], p, r[p])
    total = sum(r[p] for p in parts)
    assert 0 < total <= gap + slack, "round %s: parts sum to %.3f, gap %.3f" % (r["round"], total, gap)
    assert r["new_leader"] not in (None, r["killed"]), "round %s: new leader %r" % (r["round"], r["new_leader"])
    assert r["recovered_ms"] >= gap, "round %s: caught up before the first ack?" % r["round"]
assert doc["median"]["gap_ms"] is not None and doc["median"]["gap_ms"] > 0
assert doc["ops"] > 0
PY
kills=$(grep -c '"verb":"kill"' "$D/actions.jsonl") || fail "no kill in actions.jsonl"
[ "$kills" -eq "$kRounds" ] || fail "$kills kill actions, want $kRounds"
rl wait converged --timeout 10s >/dev/null || fail "not converged after the rounds"
for n in 1 2 3; do
  [ "$(rl status --json | jfield "[x['process'] for x in j['nodes'] if x['id'] == $n][0]")" = running ] ||
    fail "node $n is not running after the rounds"
done
# A cluster too small to lose its leader and still elect one is a usage error.
new_cluster one -n 1
expect_rc 2 rl bench --failover 1 --clients 1
exit 0
