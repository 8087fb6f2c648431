#!/usr/bin/env bash
# The nemesis of `raftlab check`, alone (hidden `raftlab nemesis-run`): every kind of fault on
# a 5-node cluster for 12 s (a refused transfer or removal costs seconds in a slow build), then
# the final heal. It must converge, record faults of several kinds each followed by its undo,
# and leave nothing behind: all nodes running, no fault rules, all five voters, a leader.
. "$(dirname "$0")/lib.sh"
require_node
expect_rc 2 "$RAFTLAB" nemesis-run --dir "$WORK/none" --kinds partition,sunspots
grep -q "sunspots" "$WORK/err" || fail "the unknown kind is not named: $(cat "$WORK/err")"
"$RAFTLAB" --help | grep -q "nemesis-run" && fail "nemesis-run shows in --help"

new_cluster c -n 5
timeout 100 "$RAFTLAB" nemesis-run --dir "$D" --kinds all --interval 400ms --duration 12s \
  --seed 11 --converge-timeout 30s >"$WORK/events" 2>"$WORK/nemesis.err" ||
  fail "nemesis-run exited $?: $(tail -n 20 "$WORK/nemesis.err")"
python3 - "$WORK/events" <<'PY' || fail "events: $(cat "$WORK/events")"
import json, sys
kinds = {"partition", "ring", "bridge", "isolate-leader", "cut", "kill", "pause", "loss", "delay",
         "transfer", "member"}
undos = {"heal", "restart", "resume", "transfer-done", "member-add"}
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert events, "no events"
last = 0
in_force = None
seen = set()
for e in events:
    assert e["process"] == "nemesis" and e["type"] == "info", e
    assert isinstance(e["time"], int) and e["time"] >= last, e
    last = e["time"]
    if e["f"] in kinds:
        assert in_force is None, f"two faults at once: {in_force} and {e}"
        in_force = e
        seen.add(e["f"])
    else:
        assert e["f"] in undos, e
        if e is not events[-1]:
            assert in_force is not None, f"an undo without a fault: {e}"
        in_force = None
assert events[-1]["f"] == "heal", events[-1]
assert len(seen) >= 4, f"only kinds {seen}"
print(f"{len(events)} events, kinds {sorted(seen)}", file=sys.stderr)
PY
grep -q "converged" "$WORK/nemesis.err" || fail "no summary: $(cat "$WORK/nemesis.err")"
rl status --json >"$WORK/status" || fail "status"
[ "$(jfield '[n["process"] for n in j["nodes"]]' <"$WORK/status")" = "['running', 'running', 'running', 'running', 'running']" ] ||
  fail "not all running: $(cat "$WORK/status")"
[ "$(jfield '[n["faults"] for n in j["nodes"] if n["faults"]]' <"$WORK/status")" = "[]" ] ||
  fail "faults left: $(cat "$WORK/status")"
[ "$(rl faults --json | jfield 'j["partition"] == [] and j["cuts"] == [] and j["links"] == []')" = True ] ||
  fail "fault rules left: $(rl faults --json)"
# Every node's own configuration: the five voters, no learner.
python3 - "$D" <<'PY' || fail "membership not restored"
import json, os, socket, sys
for n in range(1, 6):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(os.path.join(sys.argv[1], f"n{n}", "admin.sock"))
    s.sendall(b'{"cmd": "status"}\n')
    data = b""
    while b"\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    st = json.loads(data.split(b"\n")[0])
    assert sorted(st["voters"]) == [1, 2, 3, 4, 5] and st["learners"] == [], (n, st)
PY
leader >/dev/null || fail "no leader after the nemesis"
rl wait converged --timeout 10s >/dev/null || fail "not converged after the nemesis"
exit 0
