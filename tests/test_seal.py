"""The launcher and the seal: memory reserved at boot, an isolated interpreter, and after set-up
no new code, no new memory, and only the system calls the serving loop needs."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.netns import Server, Topology, parse_counters
from tests.udpclient import UDPClient

APPLIANCE = os.path.join(ROOT, ".venv", "bin", "appliance")
LAUNCHER = os.path.join(ROOT, "pvboot", "appliance-launch")


def status(pid: int) -> dict:
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def wx_mappings(pid: int) -> list[str]:
    with open("/proc/%d/maps" % pid) as f:
        return [ln for ln in f if ln.split()[1][1:3] == "wx"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Local:
    """`appliance run --listen` on loopback, its banner read; stopped by pid."""

    def __init__(self, image, *extra):
        self.port = free_port()
        self.proc = subprocess.Popen([APPLIANCE, "run", image, "--listen",
                                      "127.0.0.1:%d" % self.port, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.banner = [self.proc.stdout.readline(), self.proc.stdout.readline()]
        if not self.banner[1].startswith("memory:"):
            self.proc.kill()
            raise RuntimeError("did not start: %s %s" % (self.banner, self.proc.stderr.read()))

    def counters(self):
        self.proc.send_signal(signal.SIGUSR1)
        line = self.proc.stdout.readline()
        assert line.startswith("counters:"), line
        return parse_counters(line)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out, err


@pytest.fixture(scope="module")
def image(diff_image):
    return diff_image


def query(name="www.example.com"):
    from tests.dnsq import query as q
    return q(name, "A")


def assert_sealed(pid, banner):
    st = status(pid)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
    assert not wx_mappings(pid)
    m = re.search(r"sealed, (\d+) system calls allowed", banner)
    assert m and 10 < int(m.group(1)) < 40, banner
    assert "MiB reserved" in banner and "1 request to the kernel" in banner, banner


def test_sealed_socket_stack_answers(image):
    s = Local(image)
    try:
        assert_sealed(s.proc.pid, s.banner[1])
        r = UDPClient("127.0.0.1", s.port).query(query())
        assert r and r[3] & 0x0F == 0 and len(r) > 40
        c = s.counters()
        assert c["queries"] == 1 and c["mem_kernel_requests"] == 1
    finally:
        rc, out, err = s.stop()
    assert rc == 0, err
    assert "stopped by signal 15" in out


def test_sealed_direct_stack_answers(image):
    with Topology("z") as t:
        srv, cli = t.netns("s"), t.netns("c")
        vs, vc = t.veth(srv, "vs", cli, "vc")
        t.addr(cli, vc, "198.18.0.1/24")
        server = Server(t, srv, image, "--netdev", "afpacket:" + vs, "--ip", "198.18.0.2/24")
        assert_sealed(server.proc.pid, server.memory)
        p = t.run(cli, "dig", "@198.18.0.2", "www.example.com", "A", "+tries=2", "+time=2")
        assert "198.18.0.80" in p.stdout
        assert server.counters()["dns_answered"] >= 1
        rc, out, err = server.stop()
        assert rc == 0, err


def test_seal_selftest():
    p = subprocess.run([LAUNCHER, "--seal-selftest"], capture_output=True, text=True,
                       timeout=60)
    out = {ln.split("  ")[0].strip(): ln for ln in p.stdout.splitlines()}
    for probe in ("execve", "open", "socket", "mprotect PROT_EXEC", "mmap PROT_EXEC",
                  "ptrace"):
        assert "killed" in out[probe] or "refused" in out[probe], p.stdout
    assert "killed" in out["execve"] and "killed" in out["open"]
    assert "refused" in out["mmap new memory"], p.stdout
    assert "works" in out["write (allowed)"], p.stdout
    assert p.stdout.strip().endswith("selftest: ok") and p.returncode == 0, p.stdout


def test_no_seal_says_so_loudly(image):
    s = Local(image, "--no-seal")
    try:
        assert status(s.proc.pid)["Seccomp"] == "0"
        assert "NOT sealed" in s.banner[1]
    finally:
        rc, out, err = s.stop()
    assert "WARNING: --no-seal" in err


def test_isolated_interpreter_and_no_dnslib(image):
    s = Local(image)
    try:
        with open("/proc/%d/maps" % s.proc.pid) as f:
            maps = f.read()
        assert "dnslib" not in maps and "site-packages" not in maps
        with open("/proc/%d/cmdline" % s.proc.pid) as f:
            assert "appliance-launch" in f.read()
    finally:
        s.stop()


@pytest.mark.parametrize("bad", ["lots", "0", "12Q"])
def test_bad_memory_sizes_are_one_line(image, bad):
    p = subprocess.run([APPLIANCE, "run", image, "--listen", "127.0.0.1:%d" % free_port(),
                        "--memory", bad], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "--memory" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_too_little_memory_for_the_image_is_one_line(image):
    p = subprocess.run([APPLIANCE, "run", image, "--listen", "127.0.0.1:%d" % free_port(),
                        "--memory", "8M"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) <= 2, p.stderr


# -- memory under load, and when it runs out ---------------------------------------------------

def rss_kib(pid):
    return int(status(pid)["VmRSS"].split()[0])


@pytest.mark.slow
def test_rss_flat_for_five_minutes_of_dnsperf(image, tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("www.example.com A\nnope.example.com A\nx.wild.example.com MX\n" * 100)
    s = Local(image)
    try:
        before = s.counters()
        perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d", str(q),
                                 "-l", "300", "-Q", "20000", "-c", "4"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = []
        t0 = time.monotonic()
        while perf.poll() is None:
            samples.append((time.monotonic() - t0, rss_kib(s.proc.pid)))
            time.sleep(2)
        out, _ = perf.communicate()
        after = s.counters()
    finally:
        rc, _, err = s.stop()
    assert rc == 0, err
    assert "Queries lost:         0" in out or re.search(r"Queries lost:\s+0 ", out), out
    steady = [r for t, r in samples if t >= 10]
    base = steady[0]
    assert all(abs(r - base) <= 0.02 * base for r in steady), (base, min(steady), max(steady))
    # the allocator asked the kernel once, at boot; never again
    assert before["mem_kernel_requests"] == after["mem_kernel_requests"] == 1
    assert after.get("mem_failures", 0) == 0
    assert after["queries"] - before["queries"] > 5_000_000


def test_memory_exhaustion_is_counted_and_answers_go_on(image, tmp_path):
    """A region with no room for parked responses: queries from neighbours that never answer
    ARP are dropped and counted (mem_exhausted); the others keep being answered."""
    with Topology("m") as t:
        srv, cli = t.netns("s"), t.netns("c")
        vs, vc = t.veth(srv, "vs", cli, "vc")
        t.addr(cli, vc, "198.18.0.1/24")
        args = ("--netdev", "afpacket:" + vs, "--ip", "198.18.0.2/24")
        probe = Server(t, srv, image, *args)
        used = int(re.search(r"(\d+) of \d+ 2 MiB extents", probe.memory).group(1))
        probe.stop()
        # just the extents start-up took: what is left in them holds a few hundred parked
        # responses at most, fewer than the stack would park (1,024)
        server = Server(t, srv, image, *args, "--memory", "%dM" % (used * 2))
        mac = server.banner.split("MAC ")[1].split(",")[0]
        cli_mac = t.mac(cli, vc)
        from scapy.all import DNS, DNSQR, IP, UDP, Ether, raw

        from tests.nstool import write_messages
        query = DNS(qd=DNSQR(qname="www.example.com"))
        frames = [raw(Ether(dst=mac, src=cli_mac)
                      / IP(src="198.18.0.%d" % (10 + i % 200), dst="198.18.0.2")
                      / UDP(sport=2000 + i, dport=53) / query) for i in range(3000)]
        f = str(tmp_path / "spoofed.bin")
        write_messages(f, frames)
        t.run(cli, sys.executable, "-m", "tests.nstool", "send", vc, f, cwd=ROOT)
        p = t.run(cli, "dig", "@198.18.0.2", "www.example.com", "A", "+tries=2", "+time=2")
        assert "198.18.0.80" in p.stdout
        c = server.counters()
        assert c.get("mem_exhausted", 0) > 0, c
        assert c.get("mem_failures", 0) > 0
        time.sleep(4)                       # parked responses time out and free their memory
        p = t.run(cli, "dig", "@198.18.0.2", "nope.example.com", "A", "+tries=2", "+time=2")
        assert "NXDOMAIN" in p.stdout
        rc, out, err = server.stop()
        assert rc == 0, err
