#!/usr/bin/env python3
"""Where one request's time goes: joins `raftlab bench --stamps` with the nodes' traces.

Usage: scripts/request_stages.py DIR STAMPS [--json]

DIR is the cluster directory (its n*/trace.1.jsonl and n*/trace.jsonl, docs/trace.md); STAMPS
the JSONL `bench --stamps FILE` wrote: {"t0", "t1", "index", "node"} per measured put, on the
nodes' clock (CLOCK_MONOTONIC ns). Each put is followed by its log index along one chain:

  client      submit (t0) -> the leader's `append` of the index
  propose     -> the leader's first AppendEntries carrying it sent to the acking follower
  wire_ae     -> that AppendEntries received by the follower (matched by from and seq)
  f_append    -> the follower's `append` of the index
  f_sync      -> its AppendEntriesResponse (ok, match >= index) sent: after its fsync
  wire_ack    -> that response received by the leader
  commit      -> the leader's `commit` covering the index
  apply       -> the leader's `apply` covering the index
  answer      -> the client has the answer (t1)

The acking follower is the one whose acknowledgement the leader received first (in a 3-node
cluster the one that made the majority). The stages telescope, so each request's stages sum to
its latency. The leader's own fsync runs beside wire_ae..wire_ack and is not traced: when it
ends after the follower's ack arrived, the wait shows in `commit` (recv of the ack to commit),
so a `commit` stage well above a loop turn is the leader's fsync. The other followers' path
is printed as `other_ack` (the leader's send to the receipt of their acknowledgement).

The trace keeps at most kTraceBytesPerSecondMax per node and second (trace_writer.h), so only
the first few hundred requests of each second can be followed; the rest are counted as not
followed. Exit 0; 1 if no request could be followed; 2 on usage; 4 if a file cannot be read.
"""
import bisect
import glob
import json
import os
import statistics
import sys

kStages = ["client", "propose", "wire_ae", "f_append", "f_sync", "wire_ack", "commit",
           "apply", "answer"]
kResponseScanMax = 64  # responses looked at past the first candidate, per request


def read_jsonl(path):
    """The records of one JSONL file; a torn last line (a node killed mid-write) is skipped."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            out.append(json.loads(line))
    return out


def trace_records(cluster_dir):
    paths = sorted(glob.glob(os.path.join(cluster_dir, "n*", "trace.1.jsonl")))
    paths += sorted(glob.glob(os.path.join(cluster_dir, "n*", "trace.jsonl")))
    records = []
    for p in paths:
        records.extend(read_jsonl(p))
    records.sort(key=lambda r: r["t"])
    return records


class Index:
    """The trace's records, indexed for lookups by node and log index."""

    def __init__(self, records):
        self.append = {}     # (node, index) -> t of the first append covering it
        self.ae_sent = {}    # (leader, to, index) -> (t, seq) of the first AppendEntries with it
        self.recv = {}       # (receiver, from, seq) -> [t, ...]
        self.acks = {}       # (follower, leader) -> ([t], [(match, seq)]) of accepted responses
        self.commits = {}    # node -> ([t], [to])
        self.applies = {}    # node -> ([t], [to])
        for r in records:
            self.add(r)

    def add(self, r):
        ev, n, t = r["ev"], r["n"], r["t"]
        if ev == "append":
            for i in range(r["first"], r["last"] + 1):
                self.append.setdefault((n, i), t)
        elif ev == "send" and r["type"] == "AppendEntries" and "ents" in r:
            for i in range(r["ents"][0], r["ents"][1] + 1):
                self.ae_sent.setdefault((n, r["to"], i), (t, r["seq"]))
        elif ev == "send" and r["type"] == "AppendEntriesResponse" and r.get("ok"):
            ts, ms = self.acks.setdefault((n, r["to"]), ([], []))
            ts.append(t)
            ms.append((r["match"], r["seq"]))
        elif ev == "recv":
            self.recv.setdefault((n, r["from"], r["seq"]), []).append(t)
        elif ev in ("commit", "apply"):
            ts, tos = (self.commits if ev == "commit" else self.applies).setdefault(n, ([], []))
            ts.append(t)
            tos.append(r["to"])

    def received(self, receiver, sender, seq, after):
        ts = self.recv.get((receiver, sender, seq), [])
        i = bisect.bisect_left(ts, after)
        return ts[i] if i < len(ts) else None

    def first_ack(self, follower, leader, index, after):
        """(t sent, seq) of the follower's first accepted response covering index after `after`."""
        ts, ms = self.acks.get((follower, leader), ([], []))
        i = bisect.bisect_left(ts, after)
        for j in range(i, min(len(ts), i + kResponseScanMax)):
            if ms[j][0] >= index:
                return ts[j], ms[j][1]
        return None

    @staticmethod
    def first_covering(table, node, index, after):
        ts, tos = table.get(node, ([], []))
        for j in range(bisect.bisect_left(ts, after), len(ts)):
            if tos[j] >= index:
                return ts[j]
        return None


def follower_path(ix, leader, follower, index, after):
    """[AE sent, received, appended, ack sent, ack received] for one follower, or None."""
    sent = ix.ae_sent.get((leader, follower, index))
    if sent is None or sent[0] < after:
        return None
    got = ix.received(follower, leader, sent[1], sent[0])
    appended = ix.append.get((follower, index))
    if got is None or appended is None or appended < got:
        return None
    ack = ix.first_ack(follower, leader, index, appended)
    if ack is None:
        return None
    back = ix.received(leader, follower, ack[1], ack[0])
    return None if back is None else [sent[0], got, appended, ack[0], back]


def follow(ix, stamp, followers):
    """The stages of one request (dict), or None if the trace cannot follow it completely."""
    leader, index = stamp["node"], stamp["index"]
    appended = ix.append.get((leader, index))
    if appended is None or appended < stamp["t0"]:
        return None
    paths = [p for p in (follower_path(ix, leader, f, index, appended) for f in followers
                         if f != leader) if p is not None]
    if not paths:
        return None
    paths.sort(key=lambda p: p[4])
    path = paths[0]
    committed = Index.first_covering(ix.commits, leader, index, path[4])
    if committed is None:
        return None
    applied = Index.first_covering(ix.applies, leader, index, committed)
    if applied is None or applied > stamp["t1"]:
        return None
    marks = [stamp["t0"], appended] + path + [committed, applied, stamp["t1"]]
    stages = {name: marks[i + 1] - marks[i] for i, name in enumerate(kStages)}
    if min(stages.values()) < 0:
        return None
    stages["other_ack"] = paths[1][4] - paths[1][0] if len(paths) > 1 else None
    stages["latency"] = stamp["t1"] - stamp["t0"]
    return stages


def p90(values):
    s = sorted(values)
    return s[min(len(s) - 1, int(0.9 * len(s)))]


def summarise(followed, total):
    out = {"requests": total, "followed": len(followed), "stages": {}}
    for name in kStages + ["other_ack", "latency"]:
        vals = [f[name] for f in followed if f[name] is not None]
        if not vals:
            continue
        out["stages"][name] = {"median_us": statistics.median(vals) / 1000.0,
                               "p90_us": p90(vals) / 1000.0, "min_us": min(vals) / 1000.0,
                               "mean_us": statistics.fmean(vals) / 1000.0}
    # Each request's stages should add up to its latency exactly; the worst relative gap says
    # whether the chain left anything out.
    gaps = [abs(sum(f[s] for s in kStages) - f["latency"]) / max(1, f["latency"])
            for f in followed]
    out["sum_gap_max"] = max(gaps) if gaps else None
    out["sum_of_medians_us"] = sum(out["stages"][s]["median_us"] for s in kStages
                                   if s in out["stages"])
    return out


def print_text(summary):
    print("followed %d of %d requests completely" % (summary["followed"], summary["requests"]))
    print("%-10s %10s %10s %10s" % ("stage", "median_us", "p90_us", "mean_us"))
    for name, s in summary["stages"].items():
        if name == "latency":
            print("%-10s %10s %10s %10s" % ("", "-" * 9, "-" * 9, "-" * 9))
        print("%-10s %10.1f %10.1f %10.1f" % (name, s["median_us"], s["p90_us"], s["mean_us"]))
    print("sum of stage medians %.1f us" % summary["sum_of_medians_us"])


def main(argv):
    args = [a for a in argv if a != "--json"]
    if len(args) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        stamps = read_jsonl(args[1])
        ix = Index(trace_records(args[0]))
    except (OSError, ValueError, KeyError) as e:
        print("request_stages: %s" % e, file=sys.stderr)
        return 4
    followers = sorted({n for (n, _) in ix.append})
    followed = [f for f in (follow(ix, s, followers) for s in stamps) if f is not None]
    summary = summarise(followed, len(stamps))
    if "--json" in argv:
        print(json.dumps(summary, indent=1))
    else:
        print_text(summary)
    return 0 if followed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
