"""Load generators, run in the client namespace pinned to the client CPU.

dnsperf (closed loop: it keeps a window of queries outstanding and reports the rate the server
sustains, capped by its own core near 100-200k/s here) and Knot's kxdpgun (AF_XDP, open loop:
sends at a set rate whatever comes back, up to ~300k/s from one core here), which finds each
server's highest rate with under 1% loss.
"""

import re
import shutil
import statistics
import time

from bench.netbench import SERVER_IP, Bench

# dnsperf settings, tried on this machine: -c 8 -q 200 keeps the fastest server busy without
# overflowing the receive buffers of Knot and BIND (DESIGN.md section 8); -t 2 s timeout.
DNSPERF_CLIENTS = 8
DNSPERF_OUTSTANDING = 200
LOSS_FREE = 1.0                 # percent: "loss-free" means under 1% lost
TRIAL_SECONDS = 3
XDP_BUSY_TRIES = 20             # kxdpgun runs again while the last one's socket is busy


def dnsperf(b: Bench, queries: str, seconds: float, cpu: int, rate: int | None = None,
            verbose: bool = False) -> dict:
    cmd = ["taskset", "-c", str(cpu), "dnsperf", "-s", SERVER_IP, "-d", queries,
           "-l", str(seconds), "-c", str(DNSPERF_CLIENTS), "-q", str(DNSPERF_OUTSTANDING),
           "-t", "2"]
    if rate:
        cmd += ["-Q", str(rate)]
    if verbose:
        cmd += ["-v"]
    p = b.topo.run(b.cli, *cmd, timeout=seconds + 120)
    out = _dnsperf_summary(p.stdout)
    if verbose:
        lat = sorted(float(m) for m in re.findall(r"^> \S+ .* ([\d.]+)$", p.stdout, re.M))
        if lat:
            out["latency_avg_ms"] = 1000 * statistics.fmean(lat)
            out["latency_p99_ms"] = 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return out


def _dnsperf_summary(text: str) -> dict:
    def num(rx):
        m = re.search(rx, text)
        return float(m.group(1)) if m else None
    sent = num(r"Queries sent:\s+(\d+)")
    lost = num(r"Queries lost:\s+(\d+)")
    avg = num(r"Average Latency \(s\):\s+([\d.]+)")
    return {"qps": num(r"Queries per second:\s+([\d.]+)"), "sent": sent,
            "completed": num(r"Queries completed:\s+(\d+)"), "lost": lost,
            "loss_pct": 100.0 * lost / sent if sent else None,
            "latency_avg_ms": 1000 * avg if avg is not None else None,
            "latency_p99_ms": None}


# -- kxdpgun ----------------------------------------------------------------------------------

def kxdpgun_available() -> tuple[bool, str | None]:
    if shutil.which("kxdpgun") is None:
        return False, "kxdpgun is not installed (Debian package knot-dnsutils)"
    return True, None


def kxdpgun(b: Bench, queries: str, rate: int, seconds: float, cpu: int, mac: str) -> dict:
    """One open-loop trial at ``rate`` queries/s; what was sent and what came back."""
    cmd = ["kxdpgun", "-t", str(int(seconds)), "-Q", str(rate), "-i", queries,
           "-I", b.cli_if, "-R", mac, "-F", str(cpu), SERVER_IP]
    for _ in range(XDP_BUSY_TRIES):
        p = b.topo.run(b.cli, *cmd, check=False, timeout=seconds + 60)
        # the previous run's AF_XDP socket is released by the kernel a little later: kxdpgun
        # then says "requested resource is busy" (and exits 0, having sent nothing)
        if "resource is busy" not in p.stdout + p.stderr:
            break
        time.sleep(0.5)
    if p.returncode != 0 or "error:" in p.stdout + p.stderr:
        raise RuntimeError("kxdpgun failed: %s" % (p.stderr.strip() or p.stdout.strip()))
    sent = _grab(r"total queries:\s+(\d+)", p.stdout)
    got = _grab(r"total replies:\s+(\d+)", p.stdout)
    sent_pps = _grab(r"total queries:\s+\d+ \((\d+) pps\)", p.stdout)
    return {"rate": rate, "sent": sent, "received": got, "sent_pps": sent_pps,
            "loss_pct": 100.0 * (sent - got) / sent if sent else None}


def _grab(rx, text):
    m = re.search(rx, text)
    return int(m.group(1)) if m else 0


def loss_free_rate(b: Bench, queries: str, cpu: int, mac: str, start=50000, top=1600000,
                   steps=5, seconds=TRIAL_SECONDS, progress=None) -> dict:
    """The highest rate with under 1% loss: double from ``start`` until loss, then bisect
    ``steps`` times (5: within 3% of the true rate). If kxdpgun cannot send as fast as asked,
    the answer is what it sent."""
    trials = []

    def trial(rate):
        t = kxdpgun(b, queries, rate, seconds, cpu, mac)
        trials.append(t)
        if progress:
            progress("kxdpgun %d/s: %.2f%% lost" % (rate, t["loss_pct"] or 0))
        return t

    good, bad = 0, None
    rate = start
    while rate <= top:
        t = trial(rate)
        if t["loss_pct"] is None or t["loss_pct"] >= LOSS_FREE:
            bad = rate
            break
        good = t["received"] / seconds
        if t["sent_pps"] and t["sent_pps"] < 0.9 * rate:
            return {"loss_free_qps": good, "generator_bound": True, "trials": trials}
        rate *= 2
    if bad is not None:
        lo, hi = rate // 2 if good else 0, bad
        for _ in range(steps):
            mid = (lo + hi) // 2
            if mid <= 0:
                break
            t = trial(mid)
            if t["loss_pct"] is not None and t["loss_pct"] < LOSS_FREE:
                lo, good = mid, t["received"] / seconds
            else:
                hi = mid
    return {"loss_free_qps": good or None, "generator_bound": False, "trials": trials}
