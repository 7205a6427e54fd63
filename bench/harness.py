"""`make bench`: the appliance against NSD, Knot and BIND, on this machine, in one run.

For each zone (a realistic zone, and a generated 1,000,000-record one), each round runs every
server in turn on the same veth (the reflector first, for the harness ceiling), interleaved:
A B C D E, A B C D E, ... For each server:
  1. dnsperf closed loop for SECONDS: the rate it sustains for dnsperf, loss, mean latency;
  2. kxdpgun open loop, doubling then bisecting the rate: the highest rate under 1% loss;
  3. kxdpgun at a fixed RATE every server sustains: server CPU time (utime+stime of its
     processes) per answered query, and the softirq time of its CPU, reported apart;
  4. dnsperf -v at a light 10,000/s for 3 s: mean and 99th percentile latency;
  5. its RSS (with the 1M zone also right after loading: memory at rest).
The server runs pinned to CPU 1 and the load generator to the other CPU (Knot pins itself; the
generator takes whichever CPU Knot left). Every round's raw figures go to
bench/results/<date>-<host>.json; bench/report.py turns them into the tables and charts that
bench/README.md shows. The topology and the servers are removed at the end, also on Ctrl-C.

    appliance bench [--rounds 3] [--seconds 10] [--zones realistic,1m] [--servers ...]
    appliance bench --smoke        two servers, 2 s each, one round (what `make test` runs)
"""

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time

from bench import loadgen, netbench, servers
from bench.genzone import write_zone

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
REALISTIC = ("realistic", "realistic.test.", os.path.join(HERE, "zones", "realistic.test.zone"))
LATENCY_RATE = 10000
APT_PEERS = ["nsd", "knot", "bind9", "dnsperf", "knot-dnsutils", "bind9-dnsutils"]


def log(msg: str):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def ensure_peers():
    missing = [p for p in APT_PEERS
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        log("installing %s" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env)


def machine() -> dict:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version()}


class Zone:
    """A zone file, its image and its query file."""

    def __init__(self, key, origin, path, work, nqueries):
        from bench.queries import write_queries
        self.key, self.origin, self.path = key, origin, path
        self.image = os.path.join(work, "%s.img" % key)
        t = time.monotonic()
        subprocess.run([netbench.APPLIANCE, "build", path, "-o", self.image], check=True,
                       capture_output=True)
        self.build_s = time.monotonic() - t
        self.queries = os.path.join(work, "%s.queries" % key)
        mix = write_queries(self.queries, path, origin, nqueries)
        self.mix = {k: mix[k] for k in ("count", "seed", "categories", "qtypes") if k in mix}
        self.records = _records(path)


def _records(path):
    n = 0
    with open(path, "rb") as f:
        for line in f:
            s = line.strip()
            if s and not s.startswith((b";", b"$")) and not s.startswith(b")"):
                n += 1
    return n


def run_server(b, name, zone, work, a, progress) -> dict:
    """Start one server, measure it, stop it: one row of raw figures."""
    srv_cpu = netbench.SERVER_CPU
    rec = {"zone": zone.key, "server": name}
    t0 = time.monotonic()
    if name == "reflector":
        r = servers.start_reflector(b, a.reflector, srv_cpu)
    else:
        r = servers.start(name, b, {zone.origin: zone.path}, zone.image, work, srv_cpu)
    rec["start_s"] = time.monotonic() - t0
    rec["rss_at_rest_kib"] = r.rss_kib()
    cli_cpu = 1 - r.cpu if r.cpu in (0, 1) else 0
    try:
        if name != "reflector":
            progress("dnsperf closed loop %ds" % a.seconds)
            rec["dnsperf"] = loadgen.dnsperf(b, zone.queries, a.seconds, cli_cpu)
        if a.kxdpgun:
            if a.smoke:
                t = loadgen.kxdpgun(b, zone.queries, 20000, 1, cli_cpu, r.mac)
                rec["kxdpgun"] = {"loss_free_qps": t["received"] if t["loss_pct"] < 1 else None,
                                  "generator_bound": False, "trials": [t]}
            else:
                rec["kxdpgun"] = loadgen.loss_free_rate(b, zone.queries, cli_cpu, r.mac,
                                                        progress=progress)
        if name == "reflector":
            return rec
        progress("fixed %d/s for %ds, measuring CPU" % (a.rate, a.seconds))
        rec["fixed"] = fixed_rate(b, r, zone, a, cli_cpu)
        progress("latency at %d/s" % LATENCY_RATE)
        rec["latency"] = loadgen.dnsperf(b, zone.queries, 1 if a.smoke else 3, cli_cpu,
                                         rate=LATENCY_RATE, verbose=True)
        rec["rss_kib"] = r.rss_kib()
        rec["server_cpu"] = r.cpu
    finally:
        r.stop()
    return rec


def fixed_rate(b, r, zone, a, cli_cpu) -> dict:
    c0, s0 = r.cpu_s(), netbench.softirq_seconds(r.cpu)
    t0 = time.monotonic()
    if a.kxdpgun:
        t = loadgen.kxdpgun(b, zone.queries, a.rate, a.seconds, cli_cpu, r.mac)
        answered, loss, gen = t["received"], t["loss_pct"], "kxdpgun"
    else:
        d = loadgen.dnsperf(b, zone.queries, a.seconds, cli_cpu, rate=a.rate)
        answered, loss, gen = d["completed"], d["loss_pct"], "dnsperf"
    wall = time.monotonic() - t0
    cpu, soft = r.cpu_s() - c0, netbench.softirq_seconds(r.cpu) - s0
    return {"rate": a.rate, "generator": gen, "answered": answered, "loss_pct": loss,
            "cpu_s": cpu, "softirq_s": soft, "wall_s": wall,
            "cpu_us_per_query": 1e6 * cpu / answered if answered else None,
            "softirq_us_per_query": 1e6 * soft / answered if answered else None,
            "cpu_pct": 100.0 * cpu / wall if wall else None}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="appliance bench", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rate", type=int, default=50000, help="the fixed rate for CPU per query")
    p.add_argument("--zones", default="realistic,1m")
    p.add_argument("--servers", default=",".join(servers.SERVERS))
    p.add_argument("--records", type=int, default=1000000, help="size of the generated zone")
    p.add_argument("--queries", type=int, default=50000, help="queries in each query file")
    p.add_argument("--no-kxdpgun", dest="kxdpgun", action="store_false")
    p.add_argument("--no-ceiling", dest="ceiling", action="store_false")
    p.add_argument("--smoke", action="store_true",
                   help="two servers, 2 s each, one round, the realistic zone")
    p.add_argument("--out", default=RESULTS)
    p.add_argument("--no-readme", dest="readme", action="store_false",
                   help="do not put the results into bench/README.md")
    a = p.parse_args(argv)
    if a.smoke:
        a.rounds, a.seconds, a.zones = 1, 2, "realistic"
        a.servers, a.ceiling, a.queries = "ours-direct,nsd", False, 5000
    names = [s for s in a.servers.split(",") if s]
    for n in names:
        if n not in servers.SERVERS:
            p.error("unknown server %r (choose from %s)" % (n, ", ".join(servers.SERVERS)))
    if os.geteuid() != 0:
        p.error("the benchmark makes network namespaces: run it as root")
    ensure_peers()
    if a.kxdpgun:
        a.kxdpgun, why = loadgen.kxdpgun_available()
    else:
        why = "disabled with --no-kxdpgun"

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    work = netbench.workdir()
    host = socket.gethostname()
    date = datetime.date.today().isoformat()
    results = {"date": date, "host": host, "machine": machine(),
               "settings": {"rounds": a.rounds, "seconds": a.seconds, "fixed_rate": a.rate,
                            "server_cpu": netbench.SERVER_CPU, "smoke": a.smoke,
                            "latency_rate": LATENCY_RATE,
                            "dnsperf": {"clients": loadgen.DNSPERF_CLIENTS,
                                        "outstanding": loadgen.DNSPERF_OUTSTANDING},
                            "kxdpgun": {"available": a.kxdpgun, "why": why,
                                        "trial_seconds": loadgen.TRIAL_SECONDS}},
               "servers": {n: {"label": servers.LABELS[n], "version": servers.version(n)}
                           for n in names},
               "zones": {}, "ceiling": {}, "runs": [], "footprint": {}}
    try:
        zones = []
        for key in a.zones.split(","):
            if key == "realistic":
                log("building the realistic zone's image and queries")
                zones.append(Zone(*REALISTIC, work, a.queries))
            elif key == "1m":
                log("generating a %d-record zone, building its image (minutes)" % a.records)
                path = os.path.join(work, "bench.test.zone")
                write_zone(path, a.records, "bench.test.")
                zones.append(Zone("1m", "bench.test.", path, work, a.queries))
            else:
                p.error("unknown zone %r" % key)
        for z in zones:
            results["zones"][z.key] = {"origin": z.origin, "records": z.records, "mix": z.mix,
                                       "image_bytes": os.path.getsize(z.image),
                                       "build_s": z.build_s}
        if a.ceiling and a.kxdpgun:
            a.reflector = servers.build_reflector(work)
        order = (["reflector"] if a.ceiling and a.kxdpgun else []) + names
        with netbench.Bench() as b:
            for z in zones:
                for rnd in range(a.rounds):
                    for name in order:
                        def progress(msg, z=z, rnd=rnd, name=name):
                            log("%s round %d/%d %s: %s" % (z.key, rnd + 1, a.rounds, name,
                                                            msg))
                        progress("starting")
                        try:
                            rec = run_server(b, name, z, work, a, progress)
                        except (RuntimeError, subprocess.CalledProcessError) as e:
                            log("%s failed: %s" % (name, str(e).splitlines()[0]))
                            rec = {"zone": z.key, "server": name, "error": str(e)[:500]}
                        rec["round"] = rnd
                        if name == "reflector":
                            kx = rec.get("kxdpgun") or {}
                            results["ceiling"].setdefault(z.key, []).append(
                                {"round": rnd, "loss_free_qps": kx.get("loss_free_qps"),
                                 "generator_bound": kx.get("generator_bound")})
                        else:
                            results["runs"].append(rec)
                        summary(progress, rec)
        results["footprint"] = footprint(results, zones)
    except KeyboardInterrupt:
        log("interrupted: namespaces and servers removed; partial results kept")
        results["interrupted"] = True
    finally:
        netbench.remove(work)
    os.makedirs(a.out, exist_ok=True)
    stem = "%s-%s%s" % (date, host, "-smoke" if a.smoke else "")
    path = os.path.join(a.out, stem + ".json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    log("raw figures: %s" % path)
    from bench.report import report
    rep = report(results, a.out, stem, link_dir=HERE)
    log("table: %s; charts: %s" % (rep["markdown"], ", ".join(rep["charts"])))
    print(rep["table"])
    if a.readme and not a.smoke and not results.get("interrupted"):
        update_readme(rep["table"])
        log("bench/README.md now shows these results")
    return 1 if results.get("interrupted") else 0


BEGIN, END = "<!-- latest results: begin -->", "<!-- latest results: end -->"


def update_readme(table: str, begin: str = BEGIN, end: str = END):
    """Put the latest tables and charts into bench/README.md, between its markers."""
    path = os.path.join(HERE, "README.md")
    with open(path) as f:
        text = f.read()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
    else:
        head, tail = text.rstrip() + "\n\n", "\n"
    table = table.replace("\n# ", "\n## ", 1) if table.startswith("# ") else table
    with open(path, "w") as f:
        f.write(head + begin + "\n" + table.strip() + "\n" + end + tail)


def summary(progress, rec):
    if "error" in rec:
        return
    d, k, f = rec.get("dnsperf") or {}, rec.get("kxdpgun") or {}, rec.get("fixed") or {}
    parts = []
    if d.get("qps") is not None:
        parts.append("dnsperf %.0f/s (%.2f%% lost)" % (d["qps"], d["loss_pct"] or 0))
    if k.get("loss_free_qps"):
        parts.append("loss-free %.0f/s" % k["loss_free_qps"])
    if f.get("cpu_us_per_query") is not None:
        parts.append("%.2f us CPU + %.2f us softirq per query" % (
            f["cpu_us_per_query"], f["softirq_us_per_query"] or 0))
    progress("; ".join(parts) or "done")


def footprint(results, zones) -> dict:
    """Image sizes, the installed size of each peer's Debian packages with everything they
    depend on (bench/footprint.py says what is counted), ours, and memory at rest."""
    from bench import footprint as fp
    out = {"image_bytes": {z.key: fp.image_bytes(z.image) for z in zones}, "packages": {}}
    for name, pkg in servers.PACKAGES.items():
        if name in results["servers"]:
            r = fp.closure_report([pkg])
            out["packages"][name] = {"kib": r["closure_kib"],
                                     "kib_without_required": r["not_required_kib"],
                                     "kib_beyond_base": r["beyond_base_kib"],
                                     "packages": r["packages"]}
    try:
        r = fp.appliance_runtime(sys.executable)
        out["ours"] = {"kib": r["closure_kib"], "kib_without_required": r["not_required_kib"],
                       "kib_beyond_base": r["beyond_base_kib"], "own_kib": r["own_kib"],
                       "what": "the files `appliance run` loads under %s (%s), with the "
                               "Debian packages that own them and their dependencies"
                               % (r["python"], r["python_version"])}
    except RuntimeError as e:
        out["ours"] = {"kib": None, "what": str(e)}
    at_rest = {}
    for rec in results["runs"]:
        if rec.get("zone") == "1m" and rec.get("rss_at_rest_kib"):
            at_rest.setdefault(rec["server"], []).append(rec["rss_at_rest_kib"])
    out["rss_at_rest_1m_kib"] = {k: sorted(v)[len(v) // 2] for k, v in at_rest.items()}
    return out


if __name__ == "__main__":
    sys.exit(main())
