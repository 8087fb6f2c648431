#!/usr/bin/env python3
# A stand-in for `raftlab node`, for testing the lab CLI alone (RAFTLAB_NODE_EXE points at it):
# it binds its port and DIR/n<ID>/admin.sock, writes its pid file and answers admin requests.
# Node 1 claims to be the leader of term 1; nothing is replicated.
import json, os, signal, socket, sys, selectors

args = sys.argv[sys.argv.index("node") + 1:]
d = args[args.index("--dir") + 1]
me = int(args[args.index("--id") + 1])
spec = json.load(open(os.path.join(d, "cluster.json")))
port = [n["port"] for n in spec["nodes"] if n["id"] == me][0]
nd = os.path.join(d, "n%d" % me)
os.chdir(nd)
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", port))
tcp.listen()
if os.path.exists("admin.sock"):
    os.unlink("admin.sock")
adm = socket.socket(socket.AF_UNIX)
adm.bind("admin.sock")
os.chmod("admin.sock", 0o600)
adm.listen()
with open("pid.tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename("pid.tmp", "pid")
print("fake node %d listening on %d" % (me, port), flush=True)
signal.signal(signal.SIGTERM, lambda *_: (os.unlink("admin.sock"), sys.exit(0)))
reloads = 0
sel = selectors.DefaultSelector()
sel.register(adm, selectors.EVENT_READ)
bufs = {}
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is adm:
            c, _ = adm.accept()
            bufs[c] = b""
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            sel.unregister(s); s.close(); del bufs[s]; continue
        bufs[s] += data
        while b"\n" in bufs[s]:
            line, bufs[s] = bufs[s].split(b"\n", 1)
            req = json.loads(line)
            if req["cmd"] == "status":
                ans = {"ok": True, "id": me, "pid": os.getpid(), "role": "leader" if me == 1 else "follower",
                       "term": 1, "leader": 1, "commit": 1, "applied": 1, "last_index": 1,
                       "snapshot_index": 0, "counters": {"reloads": reloads}}
            elif req["cmd"] == "reload_faults":
                reloads += 1
                print("reloaded faults", flush=True)
                ans = {"ok": True}
            else:
                ans = {"ok": False, "error": "fake node: unknown command"}
            try:
                s.sendall((json.dumps(ans) + "\n").encode())
            except OSError:
                pass
