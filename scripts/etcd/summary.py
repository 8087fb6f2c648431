#!/usr/bin/env python3
"""Summarises scripts/bench_vs_etcd.sh's results: the medians of every run as Markdown tables
on stdout (first the headline table the README quotes, then the put load with the
raftlab/etcd ratios, linearizable reads, failover and where its gap goes, the cost curve over
node counts, RSS), and the same figures as one JSON document in the second argument.

Usage: summary.py RESULTS.jsonl SUMMARY.json
"""
import json
import statistics
import sys

SYSTEMS = ("raftlab", "etcd")
PERCENTILES = (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"))
GAP_PARTS = ("detection_ms", "prevote_ms", "election_ms", "client_ms", "other_ms")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec="%.3f"):
    return "n/a" if value is None else spec % value


def ratio(ours, theirs):
    return ours / theirs if ours is not None and theirs else None


def load_summary(mine):
    """The medians of a list of `bench --json` / `load put` documents."""
    return {"runs": len(mine),
            "ops_per_s": median([r["ops_per_s"] for r in mine]),
            "errors": sum(r["errors"] for r in mine),
            "latency_ms": {k: median([r["latency_ms"][k] for r in mine]) for k, _ in PERCENTILES}}


def load_rows(records, kind, key):
    """One row per value of `key` (clients, nodes): each system's medians and the ratio."""
    mine = [r for r in records if r["kind"] == kind]
    rows = []
    for value in sorted({r[key] for r in mine}):
        row = {key: value}
        for system in SYSTEMS:
            row[system] = load_summary([r for r in mine if r["system"] == system and r[key] == value])
        row["ratio"] = ratio(row["raftlab"]["ops_per_s"], row["etcd"]["ops_per_s"])
        rows.append(row)
    return rows


def print_loads(title, rows, key):
    print("\n## %s\n" % title)
    head = [key, "raftlab ops/s", "etcd ops/s", "ratio"]
    for _, name in PERCENTILES:
        head += ["raftlab %s ms" % name, "etcd %s ms" % name]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [str(row[key]), fmt(row["raftlab"]["ops_per_s"], "%.0f"),
                 fmt(row["etcd"]["ops_per_s"], "%.0f"), fmt(row["ratio"], "%.2fx")]
        for k, _ in PERCENTILES:
            cells += [fmt(row[s]["latency_ms"][k]) for s in SYSTEMS]
        print("| " + " | ".join(cells) + " |")
    errors = {s: sum(row[s]["errors"] for row in rows) for s in SYSTEMS}
    print("\nerrors (failed or unknown, all runs): raftlab %d, etcd %d" % (errors["raftlab"], errors["etcd"]))


def failover_rows(records):
    """One row per system and timing: every round of every run, the medians over all rounds."""
    rows = []
    for system in SYSTEMS:
        for timing in ("equal", "default"):
            mine = [r for r in records if r["kind"] == "failover" and r["system"] == system
                    and r.get("timing") == timing]
            if not mine:
                continue
            rounds = [x for r in mine for x in r.get("rounds", [])]
            row = {"system": system, "timing": timing, "runs": len(mine), "rounds": len(rounds),
                   "gap_ms": median([x.get("gap_ms") for x in rounds]),
                   "no_ack": sum(x.get("gap_ms") is None for x in rounds),
                   "per_round_ms": [x.get("gap_ms") for x in rounds],
                   "recovered_ms": median([x.get("recovered_ms") for x in rounds]),
                   "try_timeout_ms": mine[0].get("try_timeout_ms"), "retry": mine[0].get("retry")}
            for part in GAP_PARTS:
                row[part] = median([x.get(part) for x in rounds])
            rows.append(row)
    return rows


def print_failover(rows, config):
    if not rows:
        return
    print("\n## leader failover: kill -9 of the leader to the first put a survivor acknowledges (ms)\n")
    print("| system | timing | rounds | gap (median) | detection | PreVote | election | client | other | per round | caught up |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["system"], r["timing"], r["rounds"], fmt(r["gap_ms"], "%.1f"),
            *[fmt(r[p], "%.1f") for p in GAP_PARTS],
            ", ".join(fmt(v, "%.0f") for v in r["per_round_ms"]), fmt(r["recovered_ms"], "%.0f")))
    print("\nequal timing: raftlab `up %s`, etcd heartbeat %s ms, election %s ms; default: `raftlab up` "
          "defaults. %s clients of put load, per-try timeout %s; retry (both): next node at once after a "
          "timeout or a lost connection, a refusal: the hinted leader at once (raftlab only; etcd gives "
          "no hint), else the next node after 20 ms. Parts: raftlab's from its traces, etcd's from its logs "
          "(`--logger zap`, millisecond steps)." % (
              config.get("raftlab_equal_timing"), config.get("etcd_heartbeat_ms"),
              config.get("etcd_election_ms"), config.get("failover_clients"), config.get("try_timeout")))


def rss_rows(records):
    rows = {}
    for system in SYSTEMS:
        for kind in ("rss_idle", "rss_after", "rss_big"):
            kb = [v for r in records if r["kind"] == kind and r["system"] == system
                  for v in r["rss_kb"] if v is not None]
            rows.setdefault(system, {})[kind] = {
                "median_mib": median(kb) / 1024 if kb else None,
                "max_mib": max(kb) / 1024 if kb else None}
    return rows


def print_rss(rows, config):
    print("\n## node RSS (MiB, per node: median / max)\n")
    print("| system | idle | after 10^5 keys | after %s keys |" % config.get("big_keys", "n/a"))
    print("|---|---|---|---|")
    for system, kinds in rows.items():
        cells = ["%s / %s" % (fmt(kinds[k]["median_mib"], "%.1f"), fmt(kinds[k]["max_mib"], "%.1f"))
                 for k in ("rss_idle", "rss_after", "rss_big")]
        print("| %s | %s |" % (system, " | ".join(cells)))


def headline(puts, reads, failover, cost, rss, big_keys):
    """(figure, raftlab, etcd, raftlab/etcd) rows: the table the README quotes."""
    rows = []
    for row in puts:
        c = row["clients"]
        rows.append(("put ops/s, %d client%s" % (c, "" if c == 1 else "s"),
                     row["raftlab"]["ops_per_s"], row["etcd"]["ops_per_s"], "%.0f"))
        key = "p50" if c == 1 else "p999"
        rows.append(("put %s ms, %d client%s" % ("p50" if c == 1 else "p99.9", c, "" if c == 1 else "s"),
                     row["raftlab"]["latency_ms"][key], row["etcd"]["latency_ms"][key], "%.3f"))
    for row in reads:
        rows.append(("linearizable reads ops/s, %d clients" % row["clients"],
                     row["raftlab"]["ops_per_s"], row["etcd"]["ops_per_s"], "%.0f"))
    by = {(r["system"], r["timing"]): r["gap_ms"] for r in failover}
    if by:
        rows.append(("failover gap ms, equal timing (median)", by.get(("raftlab", "equal")),
                     by.get(("etcd", "equal")), "%.1f"))
        rows.append(("failover gap ms, raftlab default timing", by.get(("raftlab", "default")),
                     None, "%.1f"))
    for row in cost:
        rows.append(("put ops/s, %d nodes" % row["nodes"], row["raftlab"]["ops_per_s"],
                     row["etcd"]["ops_per_s"], "%.0f"))
    for kind, name in (("rss_after", "10^5 keys"), ("rss_big", "%s keys" % big_keys)):
        if rss["raftlab"][kind]["max_mib"] is None and rss["etcd"][kind]["max_mib"] is None:
            continue  # not measured in this run (BIG_KEYS=0)
        rows.append(("RSS per node MiB after %s (max)" % name, rss["raftlab"][kind]["max_mib"],
                     rss["etcd"][kind]["max_mib"], "%.1f"))
    return rows


def print_headline(rows, runs):
    print("## raftlab vs etcd, fsync on, 127.0.0.1 (medians of %d runs)\n" % runs)
    print("| figure | raftlab | etcd | raftlab/etcd |")
    print("|---|---|---|---|")
    for name, ours, theirs, spec in rows:
        print("| %s | %s | %s | %s |" % (name, fmt(ours, spec), fmt(theirs, spec),
                                         fmt(ratio(ours, theirs), "%.2fx")))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    config = next((r for r in records if r["kind"] == "config"), {})
    config = {k: v for k, v in config.items() if k not in ("system", "run", "kind")}
    runs = max([r["run"] for r in records if r["kind"] != "config"] or [0])
    puts = load_rows(records, "put", "clients")
    reads = load_rows(records, "reads", "clients")
    cost = load_rows(records, "cost", "nodes")
    failover, rss = failover_rows(records), rss_rows(records)
    print_headline(headline(puts, reads, failover, cost, rss, config.get("big_keys", "n/a")), runs)
    print_loads("put load, 3 nodes", puts, "clients")
    if reads:
        print_loads("linearizable reads, 3 nodes", reads, "clients")
    print_failover(failover, config)
    if cost:
        print_loads("cost curve: the put load at %s clients by node count" % config.get("cost_clients"),
                    cost, "nodes")
    print_rss(rss, config)
    print("\n%s" % " ".join("%s=%s" % item for item in sorted(config.items())))
    with open(sys.argv[2], "w") as out:
        json.dump({"config": config, "put": puts, "reads": reads, "failover": failover,
                   "cost": cost, "rss": rss}, out, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
