"""The direct stack: our Ethernet/ARP/IPv4/UDP over AF_PACKET and TAP, reached from other
network namespaces by real dig/kdig/ping clients, checked against NSD and under hostile traffic.

Every test builds its namespaces and links (198.18.0.0/15 only) and removes them.
"""

import os
import subprocess
import sys
import time

import pytest
from scapy.all import ARP, Ether

from tests import difftool, hostile
from tests.conftest import DIFF_ZONES, ROOT
from tests.netns import Server, Topology
from tests.nstool import read_messages, write_messages

PY = sys.executable
SRV_IP, CLI_IP = "198.18.0.2", "198.18.0.1"

KINDS = [
    (["www.example.com", "A"], ["NOERROR", "198.18.0.80", "aa"]),
    (["nope.example.com", "A"], ["NXDOMAIN", "SOA"]),
    (["www.example.com", "TXT"], ["NOERROR", "web front end"]),
    (["mail.example.com", "TXT"], ["NOERROR", "SOA"]),
    (["alias.example.com", "A"], ["CNAME", "198.18.0.80"]),
    (["x.wild.example.com", "MX"], ["x.wild.example.com.", "MX"]),
    (["www.deleg.example.com", "A"], ["NOERROR", "ns1.deleg.example.com."]),
    (["www.example.org", "A"], ["REFUSED"]),
]


class Site:
    """A server namespace and a client namespace, linked by afpacket (veth) or a TAP."""

    def __init__(self, kind, image, tag, extra=()):
        self.kind = kind
        self.topo = Topology(tag)
        self.srv_ns = self.topo.netns("s")
        if kind == "afpacket":
            self.cli_ns = self.topo.netns("c")
            self.srv_if, self.cli_if = self.topo.veth(self.srv_ns, "vs", self.cli_ns, "vc")
            for ns, ifname in ((self.srv_ns, self.srv_if), (self.cli_ns, self.cli_if)):
                self.topo.run(ns, "ip", "link", "set", ifname, "mtu", "2000")
            self.topo.addr(self.cli_ns, self.cli_if, CLI_IP + "/24")
            spec = "afpacket:" + self.srv_if
        else:
            # the TAP's kernel side lives where the server runs: the client is that namespace
            self.cli_ns = self.srv_ns
            self.cli_if = self.srv_if = self.topo.name("tp")
            spec = "tap:" + self.srv_if
        self.server = Server(self.topo, self.srv_ns, image, "--netdev", spec,
                             "--ip", SRV_IP + "/24", *extra)
        if kind == "tap":
            self.topo.run(self.cli_ns, "ip", "link", "set", self.cli_if, "mtu", "2000")
            self.topo.addr(self.cli_ns, self.cli_if, CLI_IP + "/24")
        self.mac = self.server.banner.split("MAC ")[1].split(",")[0]
        self.cli_mac = self.topo.mac(self.cli_ns, self.cli_if)

    def close(self):
        self.topo.close()

    def dig(self, *args, tool="dig"):
        retry = "+tries=1" if tool == "dig" else "+retry=0"
        p = self.topo.run(self.cli_ns, tool, "@" + SRV_IP, retry, "+time=2", *args,
                          check=False)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    def query_many(self, queries, tmp_path, rate=None):
        qf, rf = str(tmp_path / "q.bin"), str(tmp_path / "r.bin")
        write_messages(qf, queries)
        args = [PY, "-m", "tests.nstool", "query", SRV_IP, "53", qf, rf, "--root", ROOT]
        if rate:
            args += ["--rate", str(rate)]
        self.topo.run(self.cli_ns, *args, cwd=ROOT, timeout=600)
        return read_messages(rf)

    def send_frames(self, frames, tmp_path, gap=0.0):
        f = str(tmp_path / "frames.bin")
        write_messages(f, frames)
        self.topo.run(self.cli_ns, PY, "-m", "tests.nstool", "send", self.cli_if, f,
                      "--gap", str(gap), cwd=ROOT)


@pytest.fixture(scope="module", params=["afpacket", "tap"])
def site(request, diff_image):
    s = Site(request.param, diff_image, request.param[0])
    yield s
    s.close()


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("args,expect", KINDS, ids=[" ".join(a) for a, _ in KINDS])
def test_dig_kinds(site, tool, args, expect):
    out = site.dig(*args, tool=tool)
    for e in expect:
        assert e in out, (e, out)


def test_differential_suite_through_the_direct_stack(site, nsd, tmp_path):
    queries = difftool.generate(DIFF_ZONES, 6000, seed=11)
    theirs = nsd.query_many(queries)
    ours = site.query_many(queries, tmp_path)
    diffs = []
    for q, o, t in zip(queries, ours, theirs, strict=True):
        d = difftool.compare(q, o, t)
        if d:
            diffs.append("%s: %s" % (difftool.describe(q), " | ".join(d)))
    assert not diffs, "\n".join(diffs[:20]) + "\n%d differ" % len(diffs)


def test_client_learns_our_mac(site):
    site.dig("www.example.com", "A")
    neigh = site.topo.run(site.cli_ns, "ip", "neigh", "show", SRV_IP).stdout
    assert site.mac in neigh.lower(), neigh


def test_ping_gets_echo_replies(site):
    p = site.topo.run(site.cli_ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", SRV_IP,
                      check=False)
    assert " 0% packet loss" in p.stdout, p.stdout


def test_other_udp_port_gets_port_unreachable(site):
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.settimeout(3); s.connect(('%s', 9999)); s.send(b'x'); "
            "exec('try:\\n s.recv(10)\\nexcept ConnectionRefusedError:\\n print(\"refused\")')"
            % SRV_IP)
    p = site.topo.run(site.cli_ns, PY, "-c", code, check=False)
    assert "refused" in p.stdout, p.stdout + p.stderr


def wire_frames(site):
    """The hostile frames a link can carry: the kernel sends nothing shorter than an
    Ethernet header (runts are covered by the in-memory tests, tests/test_netstack.py)."""
    return [c for c in hostile.frames(site.mac, site.cli_mac, SRV_IP, CLI_IP)
            if len(c[1]) >= 14]


def test_hostile_frames_are_counted_and_the_server_keeps_answering(site, tmp_path):
    cases = wire_frames(site)
    assert len({c for _, _, c in cases}) >= 20
    for name, frame, counter in cases:
        before = site.server.counters()
        site.send_frames([frame], tmp_path)
        deadline = time.monotonic() + 3
        while True:
            after = site.server.counters()
            if after.get(counter, 0) > before.get(counter, 0) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert after.get(counter, 0) == before.get(counter, 0) + 1, (name, counter, after)
    assert "198.18.0.80" in site.dig("www.example.com", "A")


# -- ARP: announcement at start, and the gateway for off-link clients -----------------------

def test_gratuitous_arp_at_start(diff_image, tmp_path):
    with Topology("g") as t:
        srv, cli = t.netns("s"), t.netns("c")
        vs, vc = t.veth(srv, "vs", cli, "vc")
        out = str(tmp_path / "arp.bin")
        sniff = t.popen(cli, PY, "-m", "tests.nstool", "sniff", vc, out, "--seconds", "10",
                        "--count", "1", cwd=ROOT)
        assert sniff.stdout.readline().strip() == "ready"
        server = Server(t, srv, diff_image, "--netdev", "afpacket:" + vs, "--ip",
                        SRV_IP + "/24")
        sniff.wait(15)
        (frame,) = read_messages(out)
        p = Ether(frame)
        mac = server.banner.split("MAC ")[1].split(",")[0]
        assert p.dst == "ff:ff:ff:ff:ff:ff" and p[ARP].op == 1
        assert p[ARP].psrc == p[ARP].pdst == SRV_IP and p[ARP].hwsrc == mac


def test_off_link_client_is_answered_through_the_gateway(diff_image, tmp_path):
    with Topology("r") as t:
        srv, gw, far = t.netns("s"), t.netns("g"), t.netns("f")
        vs, vgs = t.veth(srv, "vs", gw, "gs")
        vgf, vf = t.veth(gw, "gf", far, "vf")
        t.addr(gw, vgs, "198.18.4.254/24")
        t.addr(gw, vgf, "198.18.5.254/24")
        t.run(gw, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        t.addr(far, vf, "198.18.5.1/24")
        t.route(far, "default", "via", "198.18.5.254")
        Server(t, srv, diff_image, "--netdev", "afpacket:" + vs, "--ip", "198.18.4.2/24",
               "--gateway", "198.18.4.254")
        gw_mac = t.mac(gw, vgs)
        out = str(tmp_path / "udp.bin")
        sniff = t.popen(gw, PY, "-m", "tests.nstool", "sniff", vgs, out, "--ethertype",
                        "0x0800", "--seconds", "10", "--count", "2", cwd=ROOT)
        assert sniff.stdout.readline().strip() == "ready"
        p = t.run(far, "dig", "@198.18.4.2", "www.example.com", "A", "+tries=2", "+time=2",
                  check=False)
        assert "198.18.0.80" in p.stdout, p.stdout
        sniff.wait(15)
        frames = [Ether(f) for f in read_messages(out)]
        answers = [f for f in frames if f.haslayer("UDP") and f["UDP"].sport == 53]
        assert answers and all(f.dst == gw_mac for f in answers)
        assert answers[0]["IP"].dst == "198.18.5.1"


# -- a minute of mixed traffic --------------------------------------------------------------

def rss_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
def test_sixty_second_mixed_flood(diff_image, tmp_path):
    """dnsperf's valid queries and a stream of hostile frames for 60 s: every valid query is
    answered, and the server's RSS stays within 5% of its value at 10 s."""
    qfile = tmp_path / "queries.txt"
    names = ["www.example.com A", "nope.example.com A", "x.wild.example.com MX",
             "www.deleg.example.com A", "alias.example.com A", "example.com SOA",
             "big.example.com TXT", "www.example.net AAAA"]
    qfile.write_text("\n".join(names * 50) + "\n")
    site = Site("afpacket", diff_image, "f")
    try:
        garbage = [f for _, f, _ in wire_frames(site)]
        gfile = str(tmp_path / "garbage.bin")
        write_messages(gfile, garbage)
        perf = site.topo.popen(site.cli_ns, "dnsperf", "-s", SRV_IP, "-d", str(qfile),
                               "-l", "60", "-Q", "5000", "-c", "4", "-t", "5")
        junk = site.topo.popen(site.cli_ns, PY, "-m", "tests.nstool", "send", site.cli_if,
                               gfile, "--gap", "0.001", "--for", "60", cwd=ROOT)
        pid = site.server.proc.pid
        samples = []
        start = time.monotonic()
        while perf.poll() is None:
            samples.append((time.monotonic() - start, rss_kib(pid)))
            time.sleep(1.0)
        sent_garbage = int(junk.communicate(timeout=30)[0].strip())
        out, err = perf.communicate()
        assert perf.returncode == 0, err
        lost = [ln for ln in out.splitlines() if "Queries lost" in ln]
        assert lost and lost[0].split()[2] == "0", out
        completed = [ln for ln in out.splitlines() if "Queries completed" in ln][0]
        assert int(completed.split()[2]) > 250000, out
        steady = [r for t, r in samples if t >= 10]
        base = steady[0]
        print("flood: %s; %d hostile frames; RSS %d..%d KiB from 10 s (%d samples)" % (
            completed.strip(), sent_garbage, min(steady), max(steady), len(steady)))
        assert all(abs(r - base) <= 0.05 * base for r in steady), samples
        c = site.server.counters()
        assert c.get("eth_not_for_us", 0) > 0 and c.get("ip_bad_checksum", 0) > 0
        assert sent_garbage > 10000
    finally:
        site.close()


def test_afpacket_refuses_an_interface_with_a_kernel_address(diff_image):
    with Topology("k") as t:
        srv, cli = t.netns("s"), t.netns("c")
        vs, _ = t.veth(srv, "vs", cli, "vc")
        t.addr(srv, vs, "198.18.6.2/24")
        p = t.run(srv, os.path.join(ROOT, ".venv", "bin", "appliance"), "run", diff_image,
                  "--netdev", "afpacket:" + vs, "--ip", "198.18.6.2/24", check=False)
        assert p.returncode == 1 and "Traceback" not in p.stderr
        assert "kernel address" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_netdev_errors_are_one_line(diff_image):
    appliance = os.path.join(ROOT, ".venv", "bin", "appliance")
    for args in (["--netdev", "afpacket:nosuchif0", "--ip", "198.18.0.2/24"],
                 ["--netdev", "bogus:x", "--ip", "198.18.0.2/24"],
                 ["--netdev", "afpacket:lo", "--ip", "nonsense"],
                 ["--netdev", "afpacket:lo"],
                 ["--netdev", "afpacket:lo", "--ip", "198.18.0.2/24", "--gateway", "10.0.0.1"],
                 ["--netdev", "afpacket:lo", "--ip", "198.18.0.2/24", "--mac", "01:02:03"]):
        r = subprocess.run([appliance, "run", diff_image, *args], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1, (args, r)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
