#!/usr/bin/env python3
"""Writes a cluster directory's trace as docs/trace.md describes it, for `raftlab timeline`
tests before (and besides) real nodes: n<ID>/trace.jsonl per node and actions.jsonl.

The story, deterministic for a seed: node 1 wins the election of term 1 (pre-votes, votes),
then replicates (AppendEntries with entries to every live follower, RATE a second each, and
their answers; commits); with --kill-at S the leader is killed, the lowest live follower wins
the next term, and with --restart-after S the old leader starts again (a new process: its seq
numbers restart at 1), its extra entry is refused, truncated and replaced. --loss P drops a
share of AppendEntries (a `drop` record naming the rule, no receipt). --torn leaves an
unfinished last line in node 2's file. Prints a summary (JSON) of what it wrote:
{"messages", "paired", "leaders": [[node, from_ns, term]...], "t0", "t1", "kill_ns"}.

Usage: make_trace.py DIR [--nodes N] [--seconds S] [--rate R] [--kill-at S]
                         [--restart-after S] [--loss P] [--seed X] [--torn]
"""
import argparse
import json
import os
import random

kT0 = 5_000_000_000_000  # an arbitrary CLOCK_MONOTONIC start
kLatencyNs = (150_000, 600_000)  # a message's time in flight on 127.0.0.1
kElectionTimeoutMs = (150, 300)
kEntriesPerAppend = 3


class Cluster:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.ids = list(range(1, a.nodes + 1))
        self.lines = {n: [] for n in self.ids}
        self.actions = []
        self.seq = {n: 0 for n in self.ids}
        self.alive = {n: True for n in self.ids}
        self.log = {n: [] for n in self.ids}  # terms by index - 1
        self.commit = {n: 0 for n in self.ids}
        self.messages = 0
        self.paired = 0
        self.leaders = []
        self.t1 = kT0

    def rec(self, t, n, ev, **f):
        self.lines[n].append((t, json.dumps(dict(t=t, n=n, ev=ev, **f), separators=(",", ":"))))
        self.t1 = max(self.t1, t)

    def action(self, t, verb, nodes, text):
        self.actions.append(json.dumps(dict(t=t, verb=verb, nodes=nodes, text=text),
                                       separators=(",", ":")))

    def msg(self, t, typ, frm, to, term, drop=None, **f):
        """A send at t and, unless dropped or the receiver is dead, its receipt. Returns the
        receipt time or None."""
        self.seq[frm] += 1
        common = dict(type=typ, **{"from": frm}, to=to, term=term, seq=self.seq[frm], **f)
        self.rec(t, frm, "send", **common)
        self.messages += 1
        if drop is not None:
            self.rec(t + 1000, frm, "drop", type=typ, **{"from": frm}, to=to, term=term,
                     seq=self.seq[frm], rule=drop)
            return None
        if not self.alive[to]:
            return None
        r = t + self.rng.randint(*kLatencyNs)
        self.rec(r, to, "recv", **common)
        self.paired += 1
        return r

    def role(self, t, n, role, term, leader=None):
        f = dict(role=role, term=term)
        if leader is not None:
            f["leader"] = leader
        self.rec(t, n, "role", **f)

    def last(self, n):
        return len(self.log[n]), (self.log[n][-1] if self.log[n] else 0)

    def election(self, t, cand, term):
        """A pre-vote round then a vote round won by cand; returns the time it leads."""
        ms = self.rng.randint(*kElectionTimeoutMs)
        self.rec(t, cand, "timeout", ticks=ms // 10, ms=ms)
        t += ms * 1_000_000
        self.rec(t, cand, "fired", ticks=ms // 10)
        lli, llt = self.last(cand)
        won = t
        for prevote, typ in ((True, "PreVote"), (False, "RequestVote")):
            self.role(t, cand, "precandidate" if prevote else "candidate", term - 1 if prevote else term)
            for peer in self.ids:
                if peer == cand:
                    continue
                r = self.msg(t + 10_000, typ, cand, peer, term, lli=lli, llt=llt)
                if r is None:
                    continue
                self.rec(r + 5_000, peer, "vote", cand=cand, term=term, granted=True, prevote=prevote)
                if not prevote:
                    self.role(r + 6_000, peer, "follower", term)
                back = self.msg(r + 20_000, typ + "Response", peer, cand, term, granted=True)
                won = max(won, back or won)
            t = won + 50_000
        self.role(t, cand, "leader", term)
        self.leaders.append([cand, t, term])
        self.log[cand].append(term)
        self.rec(t + 1000, cand, "append", first=len(self.log[cand]), last=len(self.log[cand]), term=term)
        return t + 2000

    def replicate(self, t, leader, term, until):
        """Steady replication from leader until `until`; returns the time it stops."""
        gap = int(1e9 / self.a.rate)
        nxt = {p: len(self.log[p]) + 1 for p in self.ids if p != leader}
        while t < until:
            first = len(self.log[leader]) + 1
            self.log[leader] += [term] * kEntriesPerAppend
            self.rec(t, leader, "append", first=first, last=first + kEntriesPerAppend - 1, term=term)
            matched = [len(self.log[leader])]
            for p in sorted(nxt):
                if self.alive[p]:
                    matched.append(self.append_to(t, leader, p, term, nxt))
            matched.sort(reverse=True)
            quorum = matched[len(self.ids) // 2]
            if quorum > self.commit[leader]:
                self.rec(t + 900_000, leader, "commit", **{"from": self.commit[leader]}, to=quorum)
                self.commit[leader] = quorum
            t += gap
        return t

    def append_to(self, t, leader, p, term, nxt):
        """One AppendEntries round to p (repairing a conflict first); returns p's match."""
        for _ in range(len(self.log[leader]) + 1):  # bounded: one step back per round
            prev = nxt[p] - 1
            prev_term = self.log[leader][prev - 1] if prev > 0 else 0
            last = len(self.log[leader])
            drop = None
            if self.a.loss > 0 and self.rng.random() < self.a.loss:
                drop = "loss %d->%d %d%%" % (leader, p, round(self.a.loss * 100))
            r = self.msg(t, "AppendEntries", leader, p, term, drop=drop, prev=[prev, prev_term],
                         ents=[nxt[p], last, self.log[leader][nxt[p] - 1], term],
                         commit=self.commit[leader])
            if r is None:
                return 0
            ok = len(self.log[p]) >= prev and (prev == 0 or self.log[p][prev - 1] == prev_term)
            if not ok:
                self.msg(r + 10_000, "AppendEntriesResponse", p, leader, term, ok=False,
                         rejected=prev, hint=[self.last(p)[1], len(self.log[p])], last=len(self.log[p]))
                nxt[p] = min(prev, len(self.log[p]) + 1)
                t = r + 20_000
                continue
            if len(self.log[p]) > prev and self.log[p][prev:] != self.log[leader][prev:len(self.log[p])]:
                self.rec(r + 1000, p, "truncate", first=prev + 1, last=len(self.log[p]),
                         term=self.log[p][prev], by=self.log[leader][prev])
            self.log[p] = self.log[p][:prev] + self.log[leader][prev:last]
            self.rec(r + 2000, p, "append", first=nxt[p], last=last, term=term, leader=leader)
            c = min(self.commit[leader], last)
            if c > self.commit[p]:
                self.rec(r + 3000, p, "commit", **{"from": self.commit[p]}, to=c)
                self.commit[p] = c
            self.msg(r + 10_000, "AppendEntriesResponse", p, leader, term, ok=True, match=last)
            nxt[p] = last + 1
            return last
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--kill-at", type=float, default=None)
    ap.add_argument("--restart-after", type=float, default=None)
    ap.add_argument("--loss", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--torn", action="store_true")
    a = ap.parse_args()
    c = Cluster(a)
    end = kT0 + int(a.seconds * 1e9)
    for n in c.ids:
        c.rec(kT0 + n * 1000, n, "trace", level="all", pid=1000 + n)
        c.role(kT0 + n * 1000 + 1, n, "follower", 0)
    c.action(kT0 - 1000, "up", c.ids, "up %d nodes" % a.nodes)
    t = c.election(kT0 + 100_000, 1, 1)
    leader, term, kill_ns = 1, 1, None
    if a.kill_at is not None:
        kill_ns = kT0 + int(a.kill_at * 1e9)
        c.replicate(t, leader, term, kill_ns - 5_000_000)
        c.log[leader].append(term)  # appended, never sent: the conflict the restart repairs
        c.rec(kill_ns - 4_000_000, leader, "append", first=len(c.log[leader]),
              last=len(c.log[leader]), term=term)
        c.alive[leader] = False
        c.action(kill_ns, "kill", [leader], "kill %d (SIGKILL)" % leader)
        old = leader
        leader, term = min(n for n in c.ids if c.alive[n]), term + 1
        t = c.election(kill_ns + 1_000_000, leader, term)
        if a.restart_after is not None:
            back = kill_ns + int(a.restart_after * 1e9)
            t = c.replicate(t, leader, term, back)
            c.alive[old] = True
            c.seq[old] = 0
            c.action(back, "start", [old], "start %d" % old)
            c.rec(back + 5_000_000, old, "trace", level="all", pid=2000 + old)
            c.role(back + 5_000_001, old, "follower", term, leader=leader)
            t = max(t, back + 6_000_000)
    c.replicate(t, leader, term, end)
    for n in c.ids:
        os.makedirs(os.path.join(a.dir, "n%d" % n), exist_ok=True)
        lines = [line for _, line in sorted(c.lines[n], key=lambda tl: tl[0])]
        text = "\n".join(lines) + "\n"
        if a.torn and n == 2:
            text += '{"t":%d,"n":2,"ev":"comm' % (c.t1 + 1)
        with open(os.path.join(a.dir, "n%d" % n, "trace.jsonl"), "w") as f:
            f.write(text)
    with open(os.path.join(a.dir, "actions.jsonl"), "w") as f:
        f.write("\n".join(c.actions) + "\n")
    print(json.dumps(dict(messages=c.messages, paired=c.paired, leaders=c.leaders, t0=kT0,
                          t1=c.t1, kill_ns=kill_ns)))


if __name__ == "__main__":
    main()
