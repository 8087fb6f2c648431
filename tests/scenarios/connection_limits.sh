#!/usr/bin/env bash
# Inbound connections are bounded (issue #10, item 6). Against the leader of a 3-node cluster:
#  1. a slowloris: 300 connections that never say hello, each reopened as soon as the node
#     closes it;
#  2. 100 clients each sending one frame of 16 MiB - 1 slowly (64 KiB per connection every
#     50 ms), each restarted when the node closes it.
# Throughout, puts keep succeeding, and the leader's RSS stays under its starting RSS plus
# RSS_GROWTH_MAX_MB: the 64 MiB bound on buffered bytes plus room for the allocator (before
# the bounds, 300 idle connections stopped every write, and 20 such frames took 7 -> 344 MB).
. "$(dirname "$0")/lib.sh"
require_node
RSS_GROWTH_MAX_MB=128  # measured: 91 MB (release), 111 MB (ASan)
# Under ASan the shadow memory and the quarantine below add to every byte held.
grep -qa __asan_init "$RAFTLAB" && RSS_GROWTH_MAX_MB=192
FLOOD_SECONDS=8
PUTS_MAX=200  # per flood; the loop ends with the flood
# ASan keeps freed memory in quarantine (256 MB by default): it would count as growth here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"

new_cluster c -n 3
l=$(leader) || fail "no leader"
port=$(jfield "[n['port'] for n in j['nodes'] if n['id'] == $l][0]" <"$D/cluster.json")
pid=$(cat "$D/n$l/pid") || fail "no pid file for node $l"
cluster_id=$(jfield 'j["cluster_id"]' <"$D/cluster.json")
rl put warmup v --timeout 5s >/dev/null 2>&1 || fail "put before any flood"
rss_base_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
rss_limit_kb=$((rss_base_kb + RSS_GROWTH_MAX_MB * 1024))

cat >"$WORK/flood.py" <<'PY'
# flood.py MODE PORT COUNT SECONDS PID RSS_LIMIT_KB CLUSTER_ID: keeps COUNT connections to PORT
# for SECONDS (idle ones, or clients sending one max-size frame slowly), reopening any the node
# closes; samples PID's VmRSS every tick and stops early (exit 1) once it passes RSS_LIMIT_KB.
import socket, struct, sys, time
mode, port, count, seconds, pid, limit_kb, cluster = sys.argv[1:8]
port, count, seconds, limit_kb = int(port), int(count), float(seconds), int(limit_kb)
TICK_S, CHUNK, FRAME = 0.05, 64 << 10, (16 << 20) - 1
REOPENS_MAX = count * 400
def mp_str(b):  # msgpack str (short ones only)
    return bytes([0xa0 | len(b)]) + b if len(b) < 32 else b"\xd9" + bytes([len(b)]) + b
hello = b"\x95\x00\x01" + mp_str(b"client") + mp_str(cluster.encode()) + b"\x00"
prefix = struct.pack(">I", len(hello)) + hello + struct.pack(">I", FRAME) if mode == "frames" else b""
def rss_kb():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
def open_one():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.setblocking(False)
        s.sendall(prefix) if prefix else None
        return [s, 0]
    except OSError:
        return None
def closed(s):
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
conns, reopened, rss_max, end = [open_one() for _ in range(count)], 0, 0, time.time() + seconds
chunk = b"x" * CHUNK
while time.time() < end:
    for i, c in enumerate(conns):
        if c is not None and mode == "frames" and c[1] < FRAME:
            try:
                c[1] += c[0].send(chunk[: min(CHUNK, FRAME - c[1])])
            except BlockingIOError:
                pass
            except OSError:
                c[0].close(); conns[i] = c = None
        if c is not None and closed(c[0]):
            c[0].close(); conns[i] = c = None
        if c is None and reopened < REOPENS_MAX:
            conns[i] = open_one(); reopened += 1
    rss_max = max(rss_max, rss_kb())
    if rss_max > limit_kb:
        break
    time.sleep(TICK_S)
print("%s: %d connections, %d reopened after the node closed them, leader VmRSS max %d kB"
      % (mode, count, reopened, rss_max), flush=True)
sys.exit(1 if rss_max > limit_kb else 0)
PY

# flood_with_puts MODE COUNT: runs the flood and, while it lasts, puts; fails on any failed put,
# on too few puts, or on the RSS bound.
flood_with_puts() {
  local mode=$1 count=$2 fpid ok=0 bad=0 i rc
  python3 "$WORK/flood.py" "$mode" "$port" "$count" "$FLOOD_SECONDS" "$pid" "$rss_limit_kb" \
    "$cluster_id" >"$WORK/flood.out" 2>&1 &
  fpid=$!
  sleep 1  # the flood is in place before the first put
  for ((i = 0; i < PUTS_MAX; i++)); do
    kill -0 "$fpid" 2>/dev/null || break
    if rl put "$mode-$i" v --timeout 2s >/dev/null 2>>"$WORK/put.err"; then
      ok=$((ok + 1))
    else
      bad=$((bad + 1))
    fi
  done
  wait "$fpid"
  rc=$?
  echo "$NAME: $(cat "$WORK/flood.out"); puts ok $ok, failed $bad (RSS limit $rss_limit_kb kB)" >&2
  [ "$rc" -eq 0 ] || fail "$mode: leader RSS over $rss_limit_kb kB (started at $rss_base_kb kB)"
  [ "$bad" -eq 0 ] || fail "$mode: $bad of $((ok + bad)) puts failed: $(tail -n 3 "$WORK/put.err")"
  [ "$ok" -ge 3 ] || fail "$mode: only $ok puts during the flood"
}

flood_with_puts idle 300
flood_with_puts frames 100
kill -0 "$pid" 2>/dev/null || fail "the leader (pid $pid) died"
rl status --json >"$WORK/s.json" || fail "status"
counters=$(jfield "[n['counters'] for n in j['nodes'] if n['id'] == $l][0]" <"$WORK/s.json")
echo "$NAME: leader counters: $counters" >&2
# The node host reports the transport's shedding counters once it lists them: then they must
# show that both floods were shed, not merely outlasted.
for k in pending_evicted buffer_evicted; do
  v=$(jfield "[n['counters'] for n in j['nodes'] if n['id'] == $l][0].get('$k', 'absent')" <"$WORK/s.json")
  [ "$v" = absent ] || [ "$v" -gt 0 ] || fail "leader counter $k is $v after the floods"
done
exit 0
