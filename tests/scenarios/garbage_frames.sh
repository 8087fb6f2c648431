#!/usr/bin/env bash
# A node fed garbage on its TCP port (random bytes, an oversize length, a truncated frame, a
# hello from another cluster) closes those connections and keeps serving.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
port=$(jfield '[n["port"] for n in j["nodes"] if n["id"] == 1][0]' <"$D/cluster.json")
python3 - "$port" <<'PY' || fail "could not send garbage"
import os, socket, struct, sys
port = int(sys.argv[1])
payloads = [os.urandom(4096), struct.pack(">I", 0xFFFFFFF0) + b"x" * 64,
            struct.pack(">I", 1000) + b"short", b"\x00\x00\x00\x03\xc1\xc1\xc1",
            struct.pack(">I", 5) + b"\x95\x01\x01\xa3bad"]
for k in range(50):
    for p in payloads:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(p)
            s.close()
        except OSError:
            pass
PY
rl wait converged --timeout 10s >/dev/null || fail "not converged after garbage"
rl status --json >"$WORK/s.json" || fail "status"
echo "$NAME: node 1 counters: $(jfield 'j["nodes"][0]["counters"]' <"$WORK/s.json")" >&2
[ "$(jfield 'sum((j["nodes"][0]["counters"] or {}).get(k, 0) for k in ("frames_bad", "messages_bad", "hello_refused")) > 0' <"$WORK/s.json")" = True ] ||
  fail "node 1 counted no bad input"
[ "$(rl status --json | jfield 'j["nodes"][0]["process"]')" = running ] || fail "node 1 died"
exit 0
