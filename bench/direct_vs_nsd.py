"""The direct stack (AF_PACKET) against NSD on the same veth, in the same run.

For each round, each server in turn: dnsperf closed-loop for its highest rate, then dnsperf at
a fixed 50,000 queries/s while the server's CPU time (utime+stime of its processes) and the
softirq time of its CPU are read from /proc. Servers are pinned to CPU 1, dnsperf to CPU 0;
rounds interleave the servers and the medians are reported.

    .venv/bin/python -m bench.direct_vs_nsd [--rounds 3] [--seconds 10] [--records 10000]

Writes bench/results/direct-vs-nsd.json and prints a markdown table.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time

from bench import netbench
from bench.genzone import write_zone

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN = "bench.test."


def query_file(path: str, shape, n: int = 20000, seed: int = 3):
    """Mostly positive answers, with NXDOMAIN, wildcard and referral queries mixed in."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        r = rng.random()
        if r < 0.70:
            lines.append("host%d.%s A" % (rng.randrange(shape.hosts), ORIGIN))
        elif r < 0.80:
            lines.append("host%d.%s AAAA" % (rng.randrange(shape.hosts), ORIGIN))
        elif r < 0.90:
            lines.append("missing%d.%s A" % (rng.randrange(10**6), ORIGIN))
        elif r < 0.95:
            lines.append("q%d.%s.%s A" % (rng.randrange(10**6), rng.choice(shape.wildcards),
                                          ORIGIN))
        else:
            lines.append("www.%s.%s A" % (rng.choice(shape.delegations), ORIGIN))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rate", type=int, default=50000)
    p.add_argument("--records", type=int, default=10000)
    p.add_argument("--out", default=os.path.join(HERE, "results", "direct-vs-nsd.json"))
    a = p.parse_args(argv)
    work = netbench.workdir()
    try:
        zone = os.path.join(work, "bench.zone")
        shape = write_zone(zone, a.records, ORIGIN)
        image = os.path.join(work, "bench.img")
        subprocess_check([netbench.APPLIANCE, "build", zone, "-o", image])
        queries = os.path.join(work, "queries.txt")
        query_file(queries, shape)
        results = {"ours": [], "nsd": []}
        with netbench.Bench() as b:
            for rnd in range(a.rounds):
                for name in ("ours", "nsd"):
                    server = (netbench.start_ours(b, image) if name == "ours"
                              else netbench.start_nsd(b, {ORIGIN: zone}, work))
                    try:
                        time.sleep(0.5)
                        top = netbench.measured_run(b, server, queries, a.seconds, None)
                        fixed = netbench.measured_run(b, server, queries, a.seconds, a.rate)
                    finally:
                        server.stop()
                    results[name].append({"round": rnd, "max": top, "fixed": fixed})
                    print("round %d %-4s max %.0f qps (loss %.2f%%), at %d/s: %.2f us CPU + "
                          "%.2f us softirq per query, loss %.2f%%" % (
                              rnd + 1, name, top["qps"], top["loss_pct"], a.rate,
                              fixed["cpu_us_per_query"], fixed["softirq_us_per_query"],
                              fixed["loss_pct"]), flush=True)
        summary = summarise(results)
        doc = {"date": time.strftime("%Y-%m-%d"), "host": os.uname().nodename,
               "records": a.records, "seconds": a.seconds, "rate": a.rate,
               "rounds": results, "medians": summary}
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        print(table(summary, a.rate))
    finally:
        netbench.remove(work)
    return 0


def summarise(results):
    out = {}
    for name, rounds in results.items():
        med = statistics.median
        out[name] = {
            "max_qps": med(r["max"]["qps"] for r in rounds),
            "max_loss_pct": med(r["max"]["loss_pct"] for r in rounds),
            "fixed_qps": med(r["fixed"]["qps"] for r in rounds),
            "fixed_loss_pct": med(r["fixed"]["loss_pct"] for r in rounds),
            "cpu_us_per_query": med(r["fixed"]["cpu_us_per_query"] for r in rounds),
            "softirq_us_per_query": med(r["fixed"]["softirq_us_per_query"] for r in rounds),
            "latency_avg_ms": 1000 * med(r["fixed"]["latency_avg_s"] for r in rounds),
        }
    o, n = out["ours"], out["nsd"]
    out["ratio"] = {"max_qps": o["max_qps"] / n["max_qps"],
                    "cpu_per_query": o["cpu_us_per_query"] / n["cpu_us_per_query"]}
    return out


def table(s, rate):
    rows = ["| server | dnsperf max qps (loss) | at %d/s: server CPU per query | softirq "
            "per query | loss | mean latency |" % rate, "|---|---:|---:|---:|---:|---:|"]
    for name, label in (("ours", "appliance, direct stack (afpacket)"), ("nsd", "NSD 4.6.1")):
        r = s[name]
        rows.append("| %s | %.0f (%.2f%%) | %.2f us | %.2f us | %.2f%% | %.2f ms |" % (
            label, r["max_qps"], r["max_loss_pct"], r["cpu_us_per_query"],
            r["softirq_us_per_query"], r["fixed_loss_pct"], r["latency_avg_ms"]))
    rows.append("")
    rows.append("ours / NSD: max qps x%.2f, server CPU per query x%.2f" % (
        s["ratio"]["max_qps"], s["ratio"]["cpu_per_query"]))
    return "\n".join(rows)


def subprocess_check(cmd):
    import subprocess
    subprocess.run(cmd, check=True, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
