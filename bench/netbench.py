"""Load-test plumbing: a server namespace and a client namespace on one veth, servers pinned
to CPU 1 and the load generator to CPU 0, dnsperf runs, and the server's CPU time.

The topology and every process it starts are removed at the end (also on Ctrl-C), as in the
tests (tests/netns.py, whose Topology this reuses). Addresses are in 198.18.0.0/15 only.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from tests.netns import ROOT, Topology

SERVER_IP, CLIENT_IP = "198.18.0.2", "198.18.0.1"
SERVER_CPU, CLIENT_CPU = 1, 0
APPLIANCE = os.path.join(ROOT, ".venv", "bin", "appliance")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Bench:
    """The two namespaces and the veth between them."""

    def __init__(self, tag="b"):
        self.topo = Topology(tag)
        self.srv = self.topo.netns("s")
        self.cli = self.topo.netns("c")
        self.srv_if, self.cli_if = self.topo.veth(self.srv, "vs", self.cli, "vc")
        self.topo.addr(self.cli, self.cli_if, CLIENT_IP + "/24")
        self.kernel_addr = False

    def close(self):
        self.topo.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def set_kernel_address(self, on: bool):
        """Kernel-socket servers need the address on the interface; our direct stack must
        own it alone (pvboot refuses an AF_PACKET interface that has one)."""
        if on and not self.kernel_addr:
            self.topo.addr(self.srv, self.srv_if, SERVER_IP + "/24")
        elif not on and self.kernel_addr:
            self.topo.run(self.srv, "ip", "addr", "flush", "dev", self.srv_if)
        self.kernel_addr = on
        self.topo.run(self.cli, "ip", "neigh", "flush", "dev", self.cli_if)


# -- servers ----------------------------------------------------------------------------------

class Running:
    """A server process (and its children) we started; stopped by pid."""

    def __init__(self, name, proc, pids_fn=None):
        self.name = name
        self.proc = proc
        self._pids_fn = pids_fn

    def pids(self):
        return self._pids_fn() if self._pids_fn else [self.proc.pid]

    def stop(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()


def start_ours(b: Bench, image: str) -> Running:
    b.set_kernel_address(False)
    p = b.topo.popen(b.srv, "taskset", "-c", str(SERVER_CPU), APPLIANCE, "run", image,
                     "--netdev", "afpacket:" + b.srv_if, "--ip", SERVER_IP + "/24")
    line = p.stdout.readline()
    if "serving" not in line:
        raise RuntimeError("appliance did not start: " + line + p.stderr.read())
    return Running("appliance (direct stack)", p)


def start_nsd(b: Bench, zones: dict, workdir: str) -> Running:
    """NSD as the benchmarks must run it: one server process, rate limiting off."""
    b.set_kernel_address(True)
    conf = os.path.join(workdir, "nsd.conf")
    lines = ["server:", "  server-count: 1", "  ip-address: %s" % SERVER_IP, "  port: 53",
             '  username: ""', '  chroot: ""', "  zonesdir: %s" % workdir,
             "  pidfile: %s/nsd.pid" % workdir, "  xfrdfile: %s/xfrd.state" % workdir,
             "  zonelistfile: %s/zone.list" % workdir, '  database: ""',
             "  xfrdir: %s" % workdir, "  logfile: %s/nsd.log" % workdir,
             "  rrl-ratelimit: 0", "  rrl-whitelist-ratelimit: 0", "  verbosity: 0",
             "  hide-version: yes", "remote-control:", "  control-enable: no"]
    for origin, path in zones.items():
        lines += ["zone:", "  name: %s" % origin, "  zonefile: %s" % os.path.abspath(path)]
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = b.topo.popen(b.srv, "taskset", "-c", str(SERVER_CPU), "nsd", "-d", "-c", conf,
                     stdout=subprocess.DEVNULL, start_new_session=True)
    wait_answering(b, list(zones)[0])

    def pids():
        return [p.pid] + children(p.pid)
    return Running("NSD", p, pids)


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
                out += children(int(entry))
    return out


def wait_answering(b: Bench, name: str, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = b.topo.run(b.cli, "dig", "@" + SERVER_IP, name, "SOA", "+tries=1", "+time=1",
                       check=False)
        if "status: NOERROR" in p.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError("the server did not answer %s SOA" % name)


# -- measuring --------------------------------------------------------------------------------

def cpu_seconds(pids) -> float:
    """utime + stime of these processes (and their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def softirq_seconds(cpu: int) -> float:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu%d " % cpu):
                return int(line.split()[7]) / CLK_TCK
    raise RuntimeError("no cpu%d in /proc/stat" % cpu)


DNSPERF_FIELDS = {
    "sent": r"Queries sent:\s+(\d+)",
    "completed": r"Queries completed:\s+(\d+)",
    "lost": r"Queries lost:\s+(\d+)",
    "qps": r"Queries per second:\s+([\d.]+)",
    "latency_avg_s": r"Average Latency \(s\):\s+([\d.]+)",
    "latency_sd_s": r"Latency StdDev \(s\):\s+([\d.]+)",
}


def dnsperf(b: Bench, queries: str, seconds: float, rate: int | None = None,
            clients: int = 8, outstanding: int = 200) -> dict:
    """dnsperf pinned to the client CPU; closed loop, or open at ``rate`` queries/s.
    ``-q 200``: bigger bursts overflow some servers' receive buffers (DESIGN.md 8)."""
    cmd = ["taskset", "-c", str(CLIENT_CPU), "dnsperf", "-s", SERVER_IP, "-d", queries,
           "-l", str(seconds), "-c", str(clients), "-q", str(outstanding), "-t", "2"]
    if rate:
        cmd += ["-Q", str(rate)]
    p = b.topo.run(b.cli, *cmd, timeout=seconds + 60)
    out = {}
    for k, rx in DNSPERF_FIELDS.items():
        m = re.search(rx, p.stdout)
        out[k] = float(m.group(1)) if m else None
    out["loss_pct"] = 100.0 * out["lost"] / out["sent"] if out["sent"] else None
    return out


def measured_run(b: Bench, server: Running, queries: str, seconds: float,
                 rate: int | None) -> dict:
    """One dnsperf run with the server's CPU time and its CPU's softirq time around it."""
    c0, s0 = cpu_seconds(server.pids()), softirq_seconds(SERVER_CPU)
    res = dnsperf(b, queries, seconds, rate)
    c1, s1 = cpu_seconds(server.pids()), softirq_seconds(SERVER_CPU)
    res["server_cpu_s"] = c1 - c0
    res["softirq_cpu_s"] = s1 - s0
    done = res["completed"] or 0
    res["cpu_us_per_query"] = 1e6 * res["server_cpu_s"] / done if done else None
    res["softirq_us_per_query"] = 1e6 * res["softirq_cpu_s"] / done if done else None
    return res


def workdir():
    return tempfile.mkdtemp(prefix="appliance-bench-")


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
