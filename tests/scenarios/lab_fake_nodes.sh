#!/usr/bin/env bash
# The lab CLI against stand-in nodes (fake_node.py), so it is tested without the real node:
# up/status/down, pid files checked against /proc, pause/resume, faults pushed to every node
# and kept across restarts, a stopped cluster restarted by `up`, two clusters side by side.
. "$(dirname "$0")/lib.sh"
export RAFTLAB_NODE_EXE="$(cd "$(dirname "$0")" && pwd)/fake_node.py"
new_cluster a -n 3
[ "$(rl status --json | jfield '[n["process"] for n in j["nodes"]]')" = "['running', 'running', 'running']" ] ||
  fail "not all running"
expect_rc 4 rl up # live nodes: refused
# A pid file naming another process (pid reuse) is not trusted, and never signalled.
sleep 30 &
decoy=$!
cp "$D/n3/pid" "$WORK/n3.pid"
echo "$decoy" >"$D/n3/pid"
[ "$(rl status --json | jfield 'j["nodes"][2]["process"]')" = "stopped" ] || fail "trusted a foreign pid"
rl kill 3 >/dev/null || fail "kill 3"
kill -0 "$decoy" || fail "signalled a process that is not the node"
kill "$decoy"
cp "$WORK/n3.pid" "$D/n3/pid"
# pause / resume: status shows paused from /proc.
rl pause 2 >/dev/null || fail "pause"
[ "$(rl status --json | jfield 'j["nodes"][1]["process"]')" = "paused" ] || fail "not paused"
rl partition 1 2,3 --json >"$WORK/p.json" 2>/dev/null || fail "partition"
rl resume 2 --json | jfield 'j["nodes"]' | grep -q 2 || fail "resume"
# Every running node reloaded the rules (the paused one on resume).
for n in 1 2 3; do grep -q "reloaded faults" "$D/n$n/node.log" || fail "node $n did not reload"; done
rl restart 2 >/dev/null || fail "restart"
rl faults --json | jfield 'j["partition"]' | grep -q "\[\[1\], \[2, 3\]\]" || fail "rules lost"
rl partition --random halves --json >"$WORK/h.json" || fail "partition --random"
# The same seed gives the same shape.
rl partition --random halves --json | cmp -s - "$WORK/h.json" || fail "--random not seeded"
rl heal --all >/dev/null || fail "heal"
# A second cluster side by side, on other ports.
A="$D"
new_cluster b -n 2
B="$D"
pa=$(jfield '[n["port"] for n in j["nodes"]]' <"$A/cluster.json")
pb=$(jfield '[n["port"] for n in j["nodes"]]' <"$B/cluster.json")
[ "$pa" != "$pb" ] || fail "same ports"
rl down >/dev/null || fail "down b"
# down leaves no process; `up` on the stopped cluster restarts it on the same ports.
D="$A"
pids=$(cat "$A"/n*/pid)
rl down >/dev/null || fail "down a"
for p in $pids; do [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" && fail "pid $p still runs"; done
"$RAFTLAB" up --dir "$A" --timeout 5s >/dev/null 2>&1 || fail "up on a stopped cluster"
[ "$(jfield '[n["port"] for n in j["nodes"]]' <"$A/cluster.json")" = "$pa" ] || fail "ports changed"
rl status --watch --watch-count 2 | grep -c "^cluster" | grep -q 2 || fail "watch"
rl logs 1 | grep -q "fake node 1" || fail "logs"
rl down --purge >/dev/null || fail "down --purge"
[ ! -e "$A" ] || fail "--purge left $A"
exit 0
