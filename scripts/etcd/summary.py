#!/usr/bin/env python3
"""Summarises scripts/bench_vs_etcd.sh's results: the medians of every run as Markdown tables
on stdout (put load with the raftlab/etcd ratios, failover, RSS), and the same figures as one
JSON document in the second argument.

Usage: summary.py RESULTS.jsonl SUMMARY.json
"""
import json
import statistics
import sys

SYSTEMS = ("raftlab", "etcd")
PERCENTILES = (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec="%.3f"):
    return "n/a" if value is None else spec % value


def put_rows(records):
    """One row per client count: each system's median ops/s and latency percentiles."""
    puts = [r for r in records if r["kind"] == "put"]
    rows = []
    for clients in sorted({r["clients"] for r in puts}):
        row = {"clients": clients}
        for system in SYSTEMS:
            mine = [r for r in puts if r["system"] == system and r["clients"] == clients]
            row[system] = {
                "runs": len(mine),
                "ops_per_s": median([r["ops_per_s"] for r in mine]),
                "errors": sum(r["errors"] for r in mine),
                "latency_ms": {k: median([r["latency_ms"][k] for r in mine]) for k, _ in PERCENTILES},
            }
        ours, theirs = row["raftlab"]["ops_per_s"], row["etcd"]["ops_per_s"]
        row["ratio"] = ours / theirs if ours is not None and theirs else None
        rows.append(row)
    return rows


def print_puts(rows, runs):
    print("## raftlab vs etcd, put load, 3 nodes on 127.0.0.1, fsync on (medians of %d runs)\n" % runs)
    head = ["clients", "raftlab ops/s", "etcd ops/s", "ratio"]
    for _, name in PERCENTILES:
        head += ["raftlab %s ms" % name, "etcd %s ms" % name]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [str(row["clients"]), fmt(row["raftlab"]["ops_per_s"], "%.0f"),
                 fmt(row["etcd"]["ops_per_s"], "%.0f"), fmt(row["ratio"], "%.2fx")]
        for key, _ in PERCENTILES:
            cells += [fmt(row[s]["latency_ms"][key]) for s in SYSTEMS]
        print("| " + " | ".join(cells) + " |")
    errors = {s: sum(row[s]["errors"] for row in rows) for s in SYSTEMS}
    print("\nerrors (failed or unknown puts, all runs): raftlab %d, etcd %d" % (errors["raftlab"], errors["etcd"]))


def failover_rows(records):
    rows = []
    for system in SYSTEMS:
        for method in ("cli", "client"):
            mine = [r for r in records if r["kind"] == "failover" and r["system"] == system
                    and r.get("method") == method]
            if not mine:
                continue
            rows.append({"system": system, "method": method, "runs": len(mine),
                         "first_put_ok_ms": median([r["first_put_ok_ms"] for r in mine]),
                         "timeouts": sum(r["first_put_ok_ms"] is None for r in mine),
                         "per_run_ms": [r["first_put_ok_ms"] for r in mine],
                         "probe_ms": median([r.get("probe_ms") for r in mine]),
                         "new_leader_ms": median([r.get("new_leader_ms") for r in mine])})
    return rows


def print_failover(rows, config):
    if not rows:
        return
    print("\n## leader failover: kill -9 of the leader to the first acknowledged put (ms)\n")
    print("| system | method | runs | first put ok (median) | per run | healthy probe | new leader seen |")
    print("|---|---|---|---|---|---|---|")
    methods = {"cli": "command-line put loop", "client": "connected Go client"}
    for r in rows:
        print("| %s | %s | %d | %s | %s | %s | %s |" % (
            r["system"], methods[r["method"]], r["runs"], fmt(r["first_put_ok_ms"], "%.1f"),
            ", ".join(fmt(v, "%.1f") for v in r["per_run_ms"]), fmt(r["probe_ms"], "%.1f"),
            fmt(r["new_leader_ms"], "%.1f")))
    print("\nraftlab: `raftlab up` election timeout and heartbeat defaults; etcd: heartbeat %s ms, "
          "election timeout %s ms" % (config.get("etcd_heartbeat_ms"), config.get("etcd_election_ms")))


def rss_rows(records):
    rows = {}
    for system in SYSTEMS:
        for kind in ("rss_idle", "rss_after"):
            kb = [v for r in records if r["kind"] == kind and r["system"] == system
                  for v in r["rss_kb"] if v is not None]
            rows.setdefault(system, {})[kind] = {
                "median_mib": median(kb) / 1024 if kb else None,
                "max_mib": max(kb) / 1024 if kb else None}
    return rows


def print_rss(rows):
    print("\n## node RSS (MiB, per node: median / max)\n")
    print("| system | idle | after the load |")
    print("|---|---|---|")
    for system, kinds in rows.items():
        cells = ["%s / %s" % (fmt(kinds[k]["median_mib"], "%.1f"), fmt(kinds[k]["max_mib"], "%.1f"))
                 for k in ("rss_idle", "rss_after")]
        print("| %s | %s |" % (system, " | ".join(cells)))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    config = next((r for r in records if r["kind"] == "config"), {})
    config = {k: v for k, v in config.items() if k not in ("system", "run", "kind")}
    runs = max([r["run"] for r in records if r["kind"] == "put"] or [0])
    puts, failover, rss = put_rows(records), failover_rows(records), rss_rows(records)
    print_puts(puts, runs)
    print_failover(failover, config)
    print_rss(rss)
    print("\n%s" % " ".join("%s=%s" % item for item in sorted(config.items())))
    with open(sys.argv[2], "w") as out:
        json.dump({"config": config, "put": puts, "failover": failover, "rss": rss}, out, indent=1,
                  allow_nan=False)


if __name__ == "__main__":
    main()
