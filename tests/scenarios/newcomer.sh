#!/usr/bin/env bash
# What a newcomer meets first (issue 11): global flags before the verb, the grouped help with
# the exit codes, membership in status and `members`, honest member messages, one name for
# the majority ring, node ids printed plainly.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3

# --dir and --json before the verb, as git, etcdctl and kubectl take them.
"$RAFTLAB" --dir "$D" status >"$WORK/out" 2>"$WORK/err" || fail "raftlab --dir D status: $(cat "$WORK/err")"
grep -q "^cluster " "$WORK/out" || fail "status table: $(cat "$WORK/out")"
"$RAFTLAB" --json --dir "$D" status | jfield 'len(j["nodes"])' | grep -qx 3 || fail "--json before the verb"
"$RAFTLAB" --dir="$D" faults >/dev/null || fail "--dir=D before the verb"

# The top-level help groups the verbs and states the directory and the exit codes.
"$RAFTLAB" --help >"$WORK/help"
for want in "Cluster:" "Faults:" "Inspect:" "Key/value store:" "Test and measure:" \
  "RAFTLAB_DIR" "Exit codes" "not the Raft log"; do
  grep -qF "$want" "$WORK/help" || fail "raftlab --help lacks '$want'"
done
"$RAFTLAB" member --help | grep -q "4294967296" && fail "member --help prints the odd id range"
expect_rc 2 "$RAFTLAB" member add 0 --dir "$D"

# Membership: a column in status, and `members`.
[ "$(rl status --json | jfield '[n["member"] for n in j["nodes"]]')" = "['voter', 'voter', 'voter']" ] ||
  fail "status member column: $(rl status --json)"
rl status | head -2 | grep -q "MEMBER" || fail "status table has no MEMBER column"
[ "$(rl members --json | jfield 'j["voters"]')" = "[1, 2, 3]" ] || fail "members: $(rl members --json)"
lead=$(leader) || fail "no leader"
f=$(for n in 1 2 3; do [ "$n" = "$lead" ] || echo "$n"; done | head -n 1)
rl member remove "$f" >"$WORK/out" 2>"$WORK/err" || fail "member remove $f: $(cat "$WORK/err")"
grep -q "^removed node $f" "$WORK/out" || fail "member remove said: $(cat "$WORK/out")"
rl member remove "$f" >"$WORK/out" 2>"$WORK/err" || fail "member remove $f again"
grep -q "node $f was not a member" "$WORK/out" || fail "a second remove said: $(cat "$WORK/out")"
[ "$(rl status --json | jfield "[n['member'] for n in j['nodes'] if n['id'] == $f][0]")" = removed ] ||
  fail "status does not show node $f removed"
rl members | grep -q "^$f *removed" || fail "members: $(rl members)"
rl member add "$f" >"$WORK/out" 2>"$WORK/err" || fail "member add $f: $(cat "$WORK/err")"
grep -q "^added node $f" "$WORK/out" || fail "member add said: $(cat "$WORK/out")"

# Time: every node stamps its lines with one clock, and `logs all` merges them in time order;
# a restarted node does not start its clock again.
rl restart "$f" >/dev/null || fail "restart $f"
rl wait converged --timeout 10s >/dev/null || fail "not converged after restarting $f"
rl logs all >"$WORK/logs" || fail "logs all"
python3 - "$WORK/logs" <<'PY' || fail "logs all is not merged in time order: $(head -n 5 "$WORK/logs")"
import re, sys
stamps, nodes = [], set()
for line in open(sys.argv[1]):
    m = re.match(r"n(\d+)\| \[(\d+\.\d+)\] node \d+: ", line)
    if m:
        nodes.add(m.group(1)); stamps.append(float(m.group(2)))
assert len(nodes) == 3, nodes
assert stamps == sorted(stamps), "not in time order"
PY
# Elections and votes are in events.jsonl, for followers too.
rl kill leader >/dev/null || fail "kill leader"
rl wait leader --timeout 10s >/dev/null || fail "no new leader"
cat "$D"/n*/events.jsonl | grep -q '"election"' || fail "no election event"
cat "$D"/n*/events.jsonl | grep '"vote"' | grep -q '"granted":true' || fail "no granted vote event"
rl start all >/dev/null 2>&1

# status --watch: each frame has its time; what changed is marked; a change draws at once.
rl status --watch --watch-count 8 >"$WORK/watch" 2>&1 &
watcher=$!
for _ in $(seq 1 100); do grep -q "frame 1 " "$WORK/watch" && break; sleep 0.05; done
rl kill "$f" >/dev/null || fail "kill $f"
for _ in $(seq 1 200); do kill -0 "$watcher" 2>/dev/null || break; sleep 0.05; done
kill "$watcher" 2>/dev/null
grep -q "^cluster .*\[[0-9]*\.[0-9]*\]  frame 2 " "$WORK/watch" || fail "no timed frames: $(head -n 3 "$WORK/watch")"
grep -q "stopped\*" "$WORK/watch" || fail "the stopped node is not marked as changed"
rl start "$f" >/dev/null 2>&1

# One name for one thing: ring and majority-ring are accepted by both.
rl partition --random ring >/dev/null || fail "partition --random ring"
rl heal >/dev/null || fail "heal"
rl check --nemesis majority-ring --duration 1s --clients 1 >/dev/null 2>&1
[ $? -ne 2 ] || fail "check --nemesis majority-ring is a usage error"
exit 0
