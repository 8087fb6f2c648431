#!/usr/bin/env bash
# The nodes' trace and the CLI's actions (docs/trace.md) on a real cluster:
#  1. `--trace all`: kill -9 the leader, wait for a new one, cut it off one way from a follower.
#     Every recv has its send (from, seq); on each link the recvs come in send order; the new
#     leader's election is traced (its vote requests, the votes answered, role/vote/timeout
#     records); the cut's drops and a delay rule's delays name the rule; actions.jsonl holds
#     each command, the kill at its time.
#  2. the default level (`changes`): heartbeats are counted in `heartbeats` records.
#  3. `--trace off` writes no trace; a restart keeps the recorded level unless --trace is given.
. "$(dirname "$0")/lib.sh"
require_node

# ---- 1. --trace all -----------------------------------------------------------------------------
new_cluster all -n 3 --trace all
[ "$(rl status --json | jfield 'j["trace"]')" = all ] || fail "status --json: trace is not all"
rl status | grep -q '^trace all' || fail "status does not show the trace level"
old=$(leader) || fail "no leader"
rl kill "$old" >/dev/null || fail "kill $old"
rest=$(for n in 1 2 3; do [ "$n" = "$old" ] || printf '%s,' "$n"; done)
rest=${rest%,}
new=$(rl wait leader --nodes "$rest" --json --timeout 10s | jfield 'j["leader"]') ||
  fail "no new leader"
[ "$new" != "$old" ] || fail "the killed node $old is still the leader"
term=$(admin_status "$new" term) || fail "node $new does not answer"
follower=$(echo "$rest" | tr ',' '\n' | grep -vx "$new")
rl cut "$new" "$follower" --one-way >/dev/null || fail "cut $new -> $follower"
# Drops reach the file within the trace writer's 10 ms (or the 100 ms summaries timer): bounded wait for the first.
for _ in $(seq 50); do
  grep -q '"ev":"drop"' "$D/n$new/trace.jsonl" 2>/dev/null && break
  sleep 0.1
done
rl heal >/dev/null || fail "heal"
rl net --from "$new" --to "$follower" --delay 20ms >/dev/null || fail "net --delay"
for _ in $(seq 50); do
  grep -q '"ev":"delay"' "$D/n$new/trace.jsonl" 2>/dev/null && break
  sleep 0.1
done
rl heal --all >/dev/null || fail "heal --all"
rl down >/dev/null || fail "down"  # a clean stop writes every buffered record

python3 - "$D" "$old" "$new" "$term" "$follower" <<'PY' || fail "trace checks (all)"
import json, sys, glob, os, collections
d, old, new, term, follower = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
errors = []
def check(ok, what):
    if not ok:
        errors.append(what)
recs = {}
for n in (1, 2, 3):
    with open(f"{d}/n{n}/trace.jsonl") as f:
        recs[n] = [json.loads(line) for line in f]
    check(recs[n][0]["ev"] == "trace" and recs[n][0]["level"] == "all", f"n{n}: first record is not trace/all")
    check(all(r["n"] == n for r in recs[n]), f"n{n}: a record names another node")
    ts = [r["t"] for r in recs[n]]
    check(ts == sorted(ts), f"n{n}: records out of time order")
sends = {}
for n, rs in recs.items():
    seqs = [r["seq"] for r in rs if r["ev"] == "send"]
    check(seqs == list(range(1, len(seqs) + 1)), f"n{n}: send seqs are not 1, 2, 3, ... in file order")
    for r in rs:
        if r["ev"] == "send":
            sends[(r["from"], r["seq"])] = r
# The killed node lost at most its last 10 ms of trace: its messages received after its last
# written send have no send record, and are the only ones allowed none.
old_last_seq = max([r["seq"] for r in recs[old] if r["ev"] == "send"], default=0)
links = collections.defaultdict(list)
for n, rs in recs.items():
    for r in rs:
        if r["ev"] != "recv":
            continue
        check(r["to"] == n, f"n{n}: recv addressed to {r['to']}")
        s = sends.get((r["from"], r["seq"]))
        if s is None:
            check(r["from"] == old and r["seq"] > old_last_seq, f"recv without send: {r}")
            continue
        check(s["to"] == n and s["type"] == r["type"] and s["term"] == r["term"] and s["t"] <= r["t"],
              f"recv differs from its send: {r} vs {s}")
        links[(r["from"], n)].append(r["seq"])
check(len(links) >= 4, f"messages on only {len(links)} links")
for link, seqs in links.items():
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"link {link}: recvs out of send order")
# The new leader's election: its vote requests in `term`, answered by the live follower.
votes = [r for r in recs[new] if r["ev"] == "send" and r["type"] == "RequestVote" and r["term"] == term]
check(any(r["to"] == follower for r in votes), f"n{new}: no RequestVote to {follower} in term {term}")
check(all("lli" in r and "llt" in r for r in votes), "RequestVote without lli/llt")
answers = [r for r in recs[follower] if r["ev"] == "send" and r["type"] == "RequestVoteResponse"
           and r["to"] == new and r["term"] == term]
check(any(r["granted"] for r in answers), f"n{follower}: no granted vote to {new} in term {term}")
got = [r for r in recs[new] if r["ev"] == "recv" and r["type"] == "RequestVoteResponse" and r["term"] == term]
check(any(r["from"] == follower and r["granted"] for r in got), f"n{new}: the vote of {follower} not received")
# The core's decisions (node/trace.h): the roles, the vote, the timeouts.
check(any(r["ev"] == "role" and r["role"] == "leader" and r["term"] == term for r in recs[new]),
      f"n{new}: no role leader in term {term}")
check(any(r["ev"] == "role" and r["role"] == "candidate" and r["term"] == term for r in recs[new]),
      f"n{new}: no role candidate in term {term}")
check(any(r["ev"] == "vote" and r["cand"] == new and r["term"] == term and r["granted"]
          for r in recs[follower]), f"n{follower}: no vote record for {new} in term {term}")
timeouts = [r for n in recs for r in recs[n] if r["ev"] == "timeout"]
check(timeouts and all(r["ms"] == r["ticks"] * 10 for r in timeouts), "timeout records without ms = ticks x 10")
check(any(r["ev"] == "fired" for r in recs[new]), f"n{new}: no fired record before its campaign")
# The one-way cut: drops naming the rule, each of a message the node traced as sent.
drops = [r for r in recs[new] if r["ev"] == "drop"]
check(drops, f"n{new}: no drop records after the cut")
check(all(r["rule"] == f"cut {new}->{follower}" and r["to"] == follower for r in drops),
      f"drops name another rule: {drops[:2]}")
check(all((r["from"], r["seq"]) in sends for r in drops), "a drop without its send")
check(not any(r["ev"] == "drop" for r in recs[follower]), "the follower dropped on a one-way cut")
delays = [r for r in recs[new] if r["ev"] == "delay"]
check(delays and all(r["rule"] == f"delay {new}->{follower} 20ms" and r["ms"] == 20 for r in delays),
      f"n{new}: no delay records naming the rule: {delays[:2]}")
# actions.jsonl: the kill, after everything the killed node traced, before the new leader.
with open(f"{d}/actions.jsonl") as f:
    actions = [json.loads(line) for line in f]
verbs = [a["verb"] for a in actions]
check(verbs == ["up", "kill", "cut", "heal", "net", "heal", "down"], f"actions: {verbs}")
kill = next((a for a in actions if a["verb"] == "kill"), {"t": 0})
check(kill.get("nodes") == [old] and kill.get("text") == f"kill {old} (SIGKILL)", f"kill action: {kill}")
check(max(r["t"] for r in recs[old]) < kill["t"], "the killed node traced after the kill")
led = min((r["t"] for r in recs[new] if r["ev"] == "role" and r["role"] == "leader" and r["term"] == term), default=0)
check(kill["t"] < led, "the kill is recorded after the new leader's election")
check(actions[0]["t"] < kill["t"], "the up is recorded after the kill")
for e in errors:
    print("trace check:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# ---- 2. the default level: heartbeats counted, not written one by one -------------------------
new_cluster changes -n 3
[ "$(rl status --json | jfield 'j["trace"]')" = changes ] || fail "the default level is not changes"
lead=$(leader) || fail "no leader"
# About 50 heartbeats per link at 50 ms; the 1 s summaries need more than two seconds.
deadline=$(($(date +%s) + 10))
until [ "$(grep -c '"ev":"heartbeats"' "$D/n$lead/trace.jsonl")" -ge 2 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "no heartbeats records within 10 s"
  sleep 0.2
done
rl down >/dev/null || fail "down"
python3 - "$D/n$lead/trace.jsonl" <<'PY' || fail "trace checks (changes)"
import json, sys, collections
recs = [json.loads(line) for line in open(sys.argv[1])]
assert recs[0]["ev"] == "trace" and recs[0]["level"] == "changes", recs[0]
written = collections.Counter(r["to"] for r in recs if r["ev"] == "send" and r["type"] == "Heartbeat")
counted = collections.Counter()
for r in recs:
    if r["ev"] == "heartbeats" and "to" in r:  # "from": the responses it received
        counted[r["to"]] += r["count"]
assert counted and all(c > 0 for c in counted.values()), f"no heartbeat counted: {counted}"
for peer, c in counted.items():
    # Written only when term or commit changed: a handful, against dozens counted.
    assert written[peer] <= 5 and c >= 3 * max(1, written[peer]), f"to {peer}: {written[peer]} written, {c} counted"
PY

# ---- 3. --trace off; the level kept or changed on a restart -----------------------------------
new_cluster off -n 3 --trace off
[ "$(rl status --json | jfield 'j["trace"]')" = off ] || fail "status: trace is not off"
rl down >/dev/null || fail "down"
"$RAFTLAB" up --dir "$D" --timeout 10s >/dev/null 2>&1 || fail "restart without --trace"
[ "$(rl status --json | jfield 'j["trace"]')" = off ] || fail "a restart without --trace changed the level"
ls "$D"/n*/trace*.jsonl >/dev/null 2>&1 && fail "--trace off wrote a trace file"
rl down >/dev/null || fail "down"
"$RAFTLAB" up --dir "$D" --timeout 10s --trace all >/dev/null 2>&1 || fail "restart with --trace all"
[ "$(rl status --json | jfield 'j["trace"]')" = all ] || fail "up --trace all did not change the level"
for n in 1 2 3; do [ -s "$D/n$n/trace.jsonl" ] || fail "n$n: no trace after up --trace all"; done
expect_rc 2 "$RAFTLAB" up --dir "$WORK/bad" --trace loud
exit 0
