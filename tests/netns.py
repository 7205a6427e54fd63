"""Test network topologies: namespaces, veth pairs and processes, all removed afterwards.

Only 198.18.0.0/15 addresses are used (RFC 2544's benchmarking range). Everything a Topology
makes carries its own short prefix, and processes are stopped by pid.
"""

import os
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


class Topology:
    """A set of network namespaces and links for one test (a context manager)."""

    def __init__(self, tag: str):
        # interface names are limited to 15 characters: keep the prefix short
        self.prefix = "a%s%d" % (tag, os.getpid() % 1000)
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def name(self, short: str) -> str:
        return self.prefix + short

    def netns(self, short: str) -> str:
        ns = self.name(short)
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        self.run(ns, "ip", "link", "set", "lo", "up")
        # no IPv6 chatter (router solicitations, DAD) on test links
        self.run(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.run(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        return ns

    def veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str):
        a, b = self.name(if_a), self.name(if_b)
        sh("ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer", b, "netns", ns_b)
        self.run(ns_a, "ip", "link", "set", a, "up")
        self.run(ns_b, "ip", "link", "set", b, "up")
        return a, b

    def addr(self, ns: str, ifname: str, cidr: str):
        self.run(ns, "ip", "addr", "add", cidr, "dev", ifname)

    def route(self, ns: str, *args):
        self.run(ns, "ip", "route", "add", *args)

    def mac(self, ns: str, ifname: str) -> str:
        out = self.run(ns, "cat", "/sys/class/net/%s/address" % ifname).stdout
        return out.strip()

    def run(self, ns: str, *cmd, check=True, timeout=120, **kw):
        return sh("ip", "netns", "exec", ns, *cmd, check=check, timeout=timeout, **kw)

    def popen(self, ns: str, *cmd, **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], text=True, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in reversed(self.namespaces):
            # deleting a namespace deletes the veth ends inside it (and so their peers)
            sh("ip", "netns", "delete", ns, check=False)
        self.namespaces.clear()


class Server:
    """`appliance run` inside a namespace, read line by line, stopped by pid."""

    def __init__(self, topo: Topology, ns: str, *args):
        self.proc = topo.popen(ns, os.path.join(VENV_BIN, "appliance"), "run", *args)
        self.lines: list[str] = []
        line = self.proc.stdout.readline()
        deadline = time.monotonic() + 20
        while line and "serving" not in line and time.monotonic() < deadline:
            self.lines.append(line)
            line = self.proc.stdout.readline()
        if "serving" not in line:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise RuntimeError("server did not start: %s%s" % ("".join(self.lines) + line, err))
        self.banner = line
        self.memory = self.proc.stdout.readline()      # the launcher's memory and the seal

    def counters(self) -> dict:
        """Ask for the counters (SIGUSR1) and parse the line they come back on."""
        self.proc.send_signal(signal.SIGUSR1)
        line = self.proc.stdout.readline()
        while line and not line.startswith("counters:"):
            self.lines.append(line)
            line = self.proc.stdout.readline()
        return parse_counters(line)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out, err


def parse_counters(line: str) -> dict:
    out = {}
    for item in line.split()[1:]:
        k, _, v = item.partition("=")
        if v.isdigit():
            out[k] = int(v)
    return out
