"""The servers under test, each started the same way: inside the server namespace, pinned to
the server CPU, one worker, the same zone files, listening on 198.18.0.2 port 53.

    ours-direct  appliance run IMG --netdev afpacket:IFACE --ip 198.18.0.2/24
    ours-socket  appliance run IMG --listen 198.18.0.2:53
    nsd          server-count: 1, rrl-ratelimit: 0, rrl-whitelist-ratelimit: 0
    knot         udp-workers: 1, tcp-workers: 1, background-workers: 1
    bind         named -n 1, recursion no
    reflector    bench/reflector.c over AF_PACKET: the harness ceiling, not a DNS server

Each launcher returns a Running server that knows its processes (for CPU and RSS) and the
CPU it is pinned to. Knot pins its own threads and ignores taskset (DESIGN.md section 8): the
CPU its UDP worker really runs on is read back, and the load generator takes the other one.
"""

import os
import re
import subprocess
import time

from bench.netbench import APPLIANCE, SERVER_IP, Bench, children, cpu_seconds, wait_answering

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = ("ours-direct", "ours-socket", "nsd", "knot", "bind")
LABELS = {
    "ours-direct": "appliance, direct stack (AF_PACKET)",
    "ours-socket": "appliance, socket stack",
    "nsd": "NSD",
    "knot": "Knot DNS",
    "bind": "BIND 9",
    "reflector": "reflector (harness ceiling)",
}
PACKAGES = {"nsd": "nsd", "knot": "knot", "bind": "bind9"}


class Running:
    """A server we started: its processes, its CPU, how to stop it (by pid)."""

    def __init__(self, name, proc, cpu, mac=None):
        self.name = name
        self.proc = proc
        self.cpu = cpu
        self.mac = mac          # the MAC frames to the server must carry (kxdpgun -R)

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def rss_kib(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def cpu_s(self) -> float:
        return cpu_seconds(self.pids())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            for pid in self.pids():
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            self.proc.wait()


def version(name: str) -> str:
    if name.startswith("ours"):
        from appliance import __version__
        return __version__
    cmd = {"nsd": ["nsd", "-v"], "knot": ["knotd", "-V"], "bind": ["named", "-v"]}[name]
    p = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"\d+\.\d+(\.\d+)?", p.stdout + p.stderr)
    return m.group(0) if m else "?"


def start(name: str, b: Bench, zones: dict, image: str, work: str, cpu: int) -> Running:
    """Start ``name`` serving ``zones`` ({origin: file}, or the image for ours)."""
    starters = {"ours-direct": _ours_direct, "ours-socket": _ours_socket, "nsd": _nsd,
                "knot": _knot, "bind": _bind}
    r = starters[name](b, zones, image, work, cpu)
    wait_answering(b, list(zones)[0], timeout=600)
    return r


def _taskset(cpu):
    return ["taskset", "-c", str(cpu)]


def _ours_direct(b, zones, image, work, cpu):
    b.set_kernel_address(False)
    p = b.topo.popen(b.srv, *_taskset(cpu), APPLIANCE, "run", image, "--netdev",
                     "afpacket:" + b.srv_if, "--ip", SERVER_IP + "/24")
    line = p.stdout.readline()
    if "serving" not in line:
        raise RuntimeError("appliance did not start: %s%s" % (line, p.stderr.read()))
    mac = line.split("MAC ")[1].split(",")[0]
    return Running("ours-direct", p, cpu, mac)


def _ours_socket(b, zones, image, work, cpu):
    b.set_kernel_address(True)
    p = b.topo.popen(b.srv, *_taskset(cpu), APPLIANCE, "run", image, "--listen",
                     SERVER_IP + ":53")
    line = p.stdout.readline()
    if "serving" not in line:
        raise RuntimeError("appliance did not start: %s%s" % (line, p.stderr.read()))
    return Running("ours-socket", p, cpu, b.srv_mac())


def _nsd(b, zones, image, work, cpu):
    b.set_kernel_address(True)
    conf = os.path.join(work, "nsd.conf")
    lines = ["server:", "  server-count: 1", "  ip-address: %s" % SERVER_IP, "  port: 53",
             '  username: ""', '  chroot: ""', "  zonesdir: %s" % work,
             "  pidfile: %s/nsd.pid" % work, "  xfrdfile: %s/xfrd.state" % work,
             "  zonelistfile: %s/zone.list" % work, '  database: ""', "  xfrdir: %s" % work,
             "  logfile: %s/nsd.log" % work, "  rrl-ratelimit: 0",
             "  rrl-whitelist-ratelimit: 0", "  verbosity: 0", "  hide-version: yes",
             "remote-control:", "  control-enable: no"]
    for origin, path in zones.items():
        lines += ["zone:", "  name: %s" % origin, "  zonefile: %s" % os.path.abspath(path)]
    _write(conf, lines)
    p = b.topo.popen(b.srv, *_taskset(cpu), "nsd", "-d", "-c", conf,
                     stdout=subprocess.DEVNULL)
    return Running("nsd", p, cpu, b.srv_mac())


def _knot(b, zones, image, work, cpu):
    b.set_kernel_address(True)
    conf = os.path.join(work, "knot.conf")
    lines = ["server:", "  rundir: %s" % work, "  pidfile: %s/knot.pid" % work,
             "  listen: %s@53" % SERVER_IP, "  udp-workers: 1", "  tcp-workers: 1",
             "  background-workers: 1", "  version: \"\"",
             "database:", "  storage: %s" % work,
             "log:", "  - target: stderr", "    any: error",
             "control:", "  listen: %s/knot.sock" % work,
             "template:", "  - id: default", "    storage: %s" % work,
             "    zonefile-sync: -1", "    journal-content: none", "    semantic-checks: off",
             "zone:"]
    for origin, path in zones.items():
        lines += ["  - domain: %s" % origin, "    file: %s" % os.path.abspath(path)]
    _write(conf, lines)
    p = b.topo.popen(b.srv, *_taskset(cpu), "knotd", "-c", conf, stdout=subprocess.DEVNULL)
    r = Running("knot", p, cpu, b.srv_mac())
    r.cpu = _pinned_cpu(p.pid, cpu)
    return r


def _bind(b, zones, image, work, cpu):
    b.set_kernel_address(True)
    conf = os.path.join(work, "named.conf")
    lines = ["options {", '  directory "%s";' % work, "  listen-on port 53 { %s; };" % SERVER_IP,
             "  listen-on-v6 { none; };", "  recursion no;", '  pid-file "%s/named.pid";' % work,
             "  notify no;", "  allow-transfer { none; };", "  dnssec-validation no;",
             "  max-udp-size 1232;", "  edns-udp-size 1232;", "  minimal-responses no;",
             '  version none;', "};", "controls { };"]
    for origin, path in zones.items():
        lines += ['zone "%s" {' % origin.rstrip("."), "  type primary;",
                  '  file "%s";' % os.path.abspath(path), "};"]
    _write(conf, lines)
    p = b.topo.popen(b.srv, *_taskset(cpu), "named", "-g", "-n", "1", "-c", conf,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Running("bind", p, cpu, b.srv_mac())


def start_reflector(b: Bench, binary: str, cpu: int) -> Running:
    b.set_kernel_address(False)
    p = b.topo.popen(b.srv, *_taskset(cpu), binary, b.srv_if)
    line = p.stdout.readline()
    if "reflecting" not in line:
        raise RuntimeError("reflector did not start: %s%s" % (line, p.stderr.read()))
    return Running("reflector", p, cpu, b.srv_mac())


def build_reflector(work: str) -> str:
    """Compile bench/reflector.c against pvboot's netdevs (the same rings ours uses)."""
    out = os.path.join(work, "reflector")
    pv = os.path.join(ROOT, "pvboot")
    srcs = [os.path.join(pv, f) for f in ("netdev_core.c", "netdev_link.c", "netdev_tap.c",
                                          "netdev_afpacket.c", "netdev_socket.c", "yield.c",
                                          "clock.c")]
    subprocess.run(["gcc", "-O2", "-Wall", "-I", pv, "-o", out,
                    os.path.join(ROOT, "bench", "reflector.c"), *srcs], check=True,
                   capture_output=True)
    return out


def _pinned_cpu(pid: int, default: int) -> int:
    """The CPU Knot's threads are allowed on, once they are up (it sets its own affinity)."""
    time.sleep(0.5)
    cpus = set()
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("Cpus_allowed_list:"):
                        cpus.add(line.split()[1])
    except OSError:
        return default
    single = [c for c in cpus if c.isdigit()]
    return int(single[0]) if len(single) == 1 and len(cpus) <= 2 else default


def _write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
