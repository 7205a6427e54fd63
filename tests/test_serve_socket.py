"""The socket stack: `appliance run IMG --listen` answered by real dig and kdig clients."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.dnsq import query
from tests.udpclient import UDPClient

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "zones", "examples")
APPLIANCE = [sys.executable, "-m", "appliance.cli"]


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Served:
    """`appliance run` as a child process, stopped by pid."""

    def __init__(self, img, listen):
        self.proc = subprocess.Popen(APPLIANCE + ["run", img, "--listen", listen],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.banner = self.proc.stdout.readline()
        if "serving" not in self.banner:
            self.proc.kill()
            raise RuntimeError("server did not start: %s %s" % (self.banner,
                                                                 self.proc.stderr.read()))
        self.memory = self.proc.stdout.readline()      # the launcher's memory and the seal

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err


@pytest.fixture(scope="module")
def img(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("srv") / "ex.img")
    files = [os.path.join(EXAMPLES, f) for f in
             ("example.com.zone", "example.net.zone", "sub.example.com.zone")]
    subprocess.run(APPLIANCE + ["build", *files, "-o", path, "--identity", "t1"], check=True,
                   capture_output=True)
    return path


@pytest.fixture(scope="module")
def server(img):
    port = free_port()
    s = Served(img, "127.0.0.1:%d" % port)
    s.port = port
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


def dig(port, *args, host="127.0.0.1", tool="dig"):
    retry = "+tries=1" if tool == "dig" else "+retry=0"
    cmd = [tool, "@" + host, "-p", str(port), retry, "+time=2", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("args,expect", [
    (["www.example.com", "A"], ["NOERROR", "198.18.0.80", "aa"]),
    (["nope.example.com", "A"], ["NXDOMAIN", "SOA"]),
    (["www.example.com", "TXT"], ["NOERROR", "web front end"]),
    (["mail.example.com", "TXT"], ["NOERROR", "SOA"]),
    (["alias.example.com", "A"], ["CNAME", "198.18.0.80"]),
    (["x.wild.example.com", "MX"], ["x.wild.example.com.", "MX"]),
    (["www.deleg.example.com", "A"], ["NOERROR", "ns1.deleg.example.com."]),
    (["www.example.org", "A"], ["REFUSED"]),
])
def test_dig_kinds(server, tool, args, expect):
    out = dig(server.port, *args, tool=tool)
    for e in expect:
        assert e in out, (e, out)


def test_dig_edns_and_tcp_fallback_not_needed(server):
    out = dig(server.port, "big.example.com", "TXT", "+bufsize=1232", "+ignore")
    assert "ANSWER: 30" not in out or "tc" not in out.split("flags:")[1].split(";")[0]


def test_truncated_without_edns(server):
    out = dig(server.port, "big.example.com", "TXT", "+noedns", "+ignore")
    assert " tc" in out.split("flags:")[1].split(";")[0]


def test_ipv6_listen(img):
    port = free_port(socket.AF_INET6, "::1")
    s = Served(img, "[::1]:%d" % port)
    try:
        assert "198.18.0.80" in dig(port, "www.example.com", "A", host="::1")
    finally:
        rc, out, _ = s.stop(signal.SIGINT)
    assert rc == 0 and "counters:" in out


def test_sigusr1_prints_counters_and_sigterm_stops_cleanly(img):
    port = free_port()
    s = Served(img, "127.0.0.1:%d" % port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    for i in range(5):
        sock.sendto(query("www.example.com", "A", qid=i), ("127.0.0.1", port))
        sock.recvfrom(2048)
    sock.sendto(b"\x00\x01", ("127.0.0.1", port))        # too short: dropped, counted
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGUSR1)
    line = s.proc.stdout.readline()
    assert line.startswith("counters:") and "queries=6" in line and "drop_short=1" in line
    # still serving after the dump
    sock.sendto(query("www.example.com", "A"), ("127.0.0.1", port))
    assert sock.recvfrom(2048)[0][:2] == b"\x12\x34"
    rc, out, err = s.stop(signal.SIGTERM)
    assert rc == 0, err
    assert "stopped by signal %d" % signal.SIGTERM in out
    assert "queries=7" in out and "rcode_noerror=6" in out
    sock.close()


def test_listen_errors_are_one_line(img):
    for bad in ("nonsense", "127.0.0.1:99999", "999.1.1.1:53"):
        p = subprocess.run(APPLIANCE + ["run", img, "--listen", bad], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode != 0 and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_served_answers_match_nsd(nsd, tmp_path):
    """The differential suite through the socket stack: the served bytes are NSD's."""
    from tests import difftool
    from tests.conftest import DIFF_ZONES, IDENTITY
    img = str(tmp_path / "diff.img")
    args = ["build", "-o", img, "--identity", IDENTITY]
    for origin, path in DIFF_ZONES.items():
        args += ["--zone", "%s=%s" % (origin, path)]
    subprocess.run(APPLIANCE + args, check=True, capture_output=True)
    port = free_port()
    s = Served(img, "127.0.0.1:%d" % port)
    try:
        queries = difftool.generate(DIFF_ZONES, 3000, seed=7)
        theirs = nsd.query_many(queries)
        ours = UDPClient("127.0.0.1", port).query_many(queries)
    finally:
        s.stop()
    diffs = [(difftool.describe(q), difftool.compare(q, o, t))
             for q, o, t in zip(queries, ours, theirs, strict=True)]
    diffs = [d for d in diffs if d[1]]
    assert not diffs, diffs[:20]
