"""Load-test plumbing: a server namespace and a client namespace on one veth, and the CPU
time of processes and of a CPU's softirqs. Servers are in bench/servers.py, load generators in
bench/loadgen.py, the run itself in bench/harness.py.

The topology and every process it starts are removed at the end (also on Ctrl-C), as in the
tests (tests/netns.py, whose Topology this reuses). Addresses are in 198.18.0.0/15 only.
"""

import os
import shutil
import tempfile
import time

from tests.netns import ROOT, Topology

SERVER_IP, CLIENT_IP = "198.18.0.2", "198.18.0.1"
SERVER_CPU = 1
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

    def srv_mac(self) -> str:
        return self.topo.mac(self.srv, self.srv_if)


# -- processes and time ------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (a server's workers)."""
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
    """Until the server answers ``name`` SOA from the client side (zones may take long)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = b.topo.run(b.cli, "dig", "@" + SERVER_IP, name, "SOA", "+tries=1", "+time=1",
                       check=False)
        if "status: NOERROR" in p.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError("the server did not answer %s SOA within %d s" % (name, timeout))



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


def workdir():
    return tempfile.mkdtemp(prefix="appliance-bench-")


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
