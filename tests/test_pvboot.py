"""pvboot's netdevs on real devices: AF_PACKET on a veth, TAP, kernel UDP sockets; yield.

Every namespace and interface made here is named pvb<pid>..., carries only 198.18.200.0/24
(and the namespaces' own loopback), and is removed at the end; child processes are stopped by
pid. A netdev is opened inside a namespace by entering it for the open only (in_netns): the
sockets and the tap stay in that namespace afterwards.
"""

import ctypes
import multiprocessing
import os
import random
import select
import signal
import socket
import struct
import subprocess
import time
import traceback
from contextlib import contextmanager

import pytest

from pvboot.netdev import (
    FRAME_CSUM_PARTIAL,
    Netdev,
    NetdevError,
    monotonic_ns,
    restore_signals,
    take_signal,
    yield_until,
)

TAG = "pvb%d" % (os.getpid() % 10000)      # pvb1234a0: within the 15 characters of an ifname
ETH_P_ALL = 0x0003
ETH_TEST = 0x88B5                           # IEEE 802 local experimental EtherType
CLONE_NEWNET = 0x40000000
NOBODY = 65534
PEER_MAC = bytes.fromhex("02000000b001")   # locally administered: the "other host"
BROADCAST = b"\xff" * 6

_libc = ctypes.CDLL(None, use_errno=True)


def sh(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def in_netns(ns):
    """Run the body in network namespace NS (this thread), then come back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def netns_add(ns, ipv6=False):
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    if not ipv6:
        # no router solicitations, MLD or DAD on the test links: only our frames flow
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1")


def netns_del(ns):
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module")
def veth():
    """Namespaces A and B joined by a veth: (nsA, ifA, nsB, ifB). ifA carries no address."""
    ns_a, ns_b, if_a, if_b = TAG + "a", TAG + "b", TAG + "a0", TAG + "b0"
    try:
        netns_add(ns_a)
        netns_add(ns_b)
        sh("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", if_b, "netns", ns_b)
        sh("ip", "-n", ns_b, "link", "set", if_b, "up")
        sh("ip", "-n", ns_b, "addr", "add", "198.18.200.2/24", "dev", if_b)
        yield ns_a, if_a, ns_b, if_b
    finally:
        netns_del(ns_a)
        netns_del(ns_b)


@pytest.fixture(scope="module")
def tapns():
    """A namespace for TAP devices (they live where they are created)."""
    ns = TAG + "t"
    try:
        netns_add(ns)
        yield ns
    finally:
        netns_del(ns)


@pytest.fixture(scope="module")
def lons():
    """A namespace whose loopback (127.0.0.1, ::1) the socket netdev tests use."""
    ns = TAG + "s"
    try:
        netns_add(ns, ipv6=True)
        yield ns
    finally:
        netns_del(ns)


@pytest.fixture
def opened():
    """Open netdevs through opened(ns, spec); all are closed (and signals restored) after."""
    devs = []

    def open_(ns, spec):
        with in_netns(ns):
            nd = Netdev(spec)
        devs.append(nd)
        return nd

    yield open_
    for nd in devs:
        nd.close()
    restore_signals()


def ns_socket(ns, family, kind, proto=0, bind=None):
    with in_netns(ns):
        s = socket.socket(family, kind, proto)
        if bind is not None:
            s.bind(bind)
    return s


def link_mac(ns, ifname):
    """The MAC the kernel gives IFNAME in NS."""
    out = sh("ip", "-n", ns, "-br", "link", "show", ifname).stdout.split()
    return bytes.fromhex(out[2].replace(":", ""))


def raw_socket(ns, ifname):
    """An AF_PACKET socket on IFNAME in NS: the other end of the wire."""
    s = ns_socket(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL), (ifname, 0))
    s.settimeout(2)
    return s


# -- frames -----------------------------------------------------------------------------------

def marked_frame(dst, seq, size=64):
    """An Ethernet frame of our experimental type, numbered SEQ, from PEER_MAC."""
    body = b"pvboot" + struct.pack("!I", seq)
    return dst + PEER_MAC + struct.pack("!H", ETH_TEST) + body.ljust(size - 14, b"\0")



def seq_of(frame):
    if len(frame) >= 24 and frame[12:14] == struct.pack("!H", ETH_TEST) and \
            frame[14:20] == b"pvboot":
        return struct.unpack("!I", frame[20:24])[0]
    return None


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp_frame(dst_mac, src_ip, dst_ip, sport, dport, payload):
    """Ethernet/IPv4/UDP (UDP checksum 0), for flows that fanout hashes apart."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", 0xFFFF - checksum(ip)) + ip[12:]
    return dst_mac + PEER_MAC + b"\x08\x00" + ip + udp


def udp_checksum_ok(frame):
    ip, udp = frame[14:34], frame[34:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    return checksum(pseudo + udp) == 0xFFFF


def drain(nd, want, timeout=3.0, flags=False):
    """Receive until WANT frames of ours are in (or TIMEOUT): {seq: frame}."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        select.select([nd.fd], [], [], 0.05)
        for item in (nd.recv_flags() if flags else nd.recv()):
            frame = item[0] if flags else item
            seq = seq_of(frame)
            if seq is not None:
                assert seq not in got, "frame %d received twice" % seq
                got[seq] = item
    return got


def sniff(sock, want, timeout=2.0):
    """Frames of ours a raw socket sees, until WANT are in: {seq: frame}."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.05)
        if r:
            frame = sock.recv(4096)
            seq = seq_of(frame)
            if seq is not None:
                got[seq] = frame
    return got


# -- child processes --------------------------------------------------------------------------

def _child_main(conn, ns, uid, fn, args):
    try:
        if ns:
            with open(f"/run/netns/{ns}") as f:
                _setns(f.fileno())
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        conn.send(("ok", fn(conn, *args)))
    except BaseException:
        conn.send(("err", traceback.format_exc()))
    finally:
        conn.close()
        os._exit(0)


class Child:
    """FN(conn, *ARGS) in a forked process, in namespace NS, optionally as user UID."""

    def __init__(self, fn, *args, ns=None, uid=None):
        ctx = multiprocessing.get_context("fork")
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_child_main, args=(theirs, ns, uid, fn, args))
        self.proc.start()
        theirs.close()

    def recv(self, timeout=10.0):
        assert self.conn.poll(timeout), "child sent nothing in %.0f s" % timeout
        kind, value = self.conn.recv()
        if kind == "err":
            raise AssertionError("child failed:\n" + value)
        return value

    def result(self, timeout=10.0):
        value = self.recv(timeout)
        self.proc.join(5)
        return value

    def stop(self):
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join(5)


@pytest.fixture
def children():
    made = []

    def spawn(fn, *args, **kw):
        c = Child(fn, *args, **kw)
        made.append(c)
        return c

    yield spawn
    for c in made:
        c.stop()


def _open_error(conn, spec):
    try:
        with Netdev(spec):
            return None
    except NetdevError as e:
        return e.result, str(e)


def _open_error_twice(conn, spec):
    with Netdev(spec):
        return _open_error(conn, spec)


def _hold(conn, spec):
    with Netdev(spec):
        conn.send(("msg", "open"))
        conn.recv()


# -- open errors ------------------------------------------------------------------------------

def assert_error(exc_or_pair, result, text):
    name, message = (exc_or_pair.result, str(exc_or_pair)) \
        if isinstance(exc_or_pair, NetdevError) else exc_or_pair
    assert name == result, message
    assert message == text
    assert "\n" not in message and len(message) < 160


@pytest.mark.parametrize("spec,result,text", [
    ("afpacket:pvbnosuch0", "PVBOOT_ENODEV", "afpacket:pvbnosuch0: no such interface"),
    ("afpacket:", "PVBOOT_EINVAL", "afpacket:: bad interface name (1 to 15 characters)"),
    ("afpacket:x,fanout=70000", "PVBOOT_EINVAL",
     "afpacket:x,fanout=70000: fanout=N needs a group id from 0 to 65535"),
    ("afpacket:x,speed=9", "PVBOOT_EINVAL",
     "afpacket:x,speed=9: unknown option (expected fanout=N)"),
    ("tap:", "PVBOOT_EINVAL",
     "tap:: bad interface name (1 to 15 characters, no '/', ':', ',' or spaces)"),
    ("tap:a/b", "PVBOOT_EINVAL",
     "tap:a/b: bad interface name (1 to 15 characters, no '/', ':', ',' or spaces)"),
    ("socket:1.2.3:53", "PVBOOT_EINVAL",
     "socket:1.2.3:53: bad address (expected socket:A.B.C.D:PORT or socket:[V6]:PORT)"),
    ("socket:127.0.0.1:65536", "PVBOOT_EINVAL",
     "socket:127.0.0.1:65536: bad address (expected socket:A.B.C.D:PORT or socket:[V6]:PORT)"),
    ("socket:198.18.200.77:5353", "PVBOOT_EADDR",
     "socket:198.18.200.77:5353: address not available (not on this host)"),
    ("xen:0", "PVBOOT_EINVAL", "xen:0: unknown netdev (expected tap:NAME, "
     "afpacket:IFACE[,fanout=N] or socket:ADDR:PORT)"),
    ("tap:x\ny", "PVBOOT_EINVAL",
     "tap:x?y: bad interface name (1 to 15 characters, no '/', ':', ',' or spaces)"),
])
def test_spec_errors(veth, spec, result, text):
    with pytest.raises(NetdevError) as exc, in_netns(veth[0]):
        Netdev(spec)
    assert_error(exc.value, result, text)
    assert isinstance(exc.value, OSError)


def test_afpacket_refuses_an_interface_with_a_kernel_address(veth):
    ns = veth[0]
    dummy = TAG + "d0"          # a veth with both ends here (no dummy driver everywhere)
    sh("ip", "-n", ns, "link", "add", dummy, "type", "veth", "peer", TAG + "d1")
    try:
        sh("ip", "-n", ns, "addr", "add", "198.18.200.9/32", "dev", dummy)
        with pytest.raises(NetdevError) as exc, in_netns(ns):
            Netdev(f"afpacket:{dummy},fanout=3")
        assert_error(exc.value, "PVBOOT_EADDR",
                     f"afpacket:{dummy}: the interface has the kernel address 198.18.200.9; "
                     f"our stack must own the address: remove it (ip addr flush dev {dummy})")
        sh("ip", "-n", ns, "addr", "flush", "dev", dummy)
        with in_netns(ns), Netdev(f"afpacket:{dummy}") as nd:
            assert nd.info["kind"] == "afpacket"
    finally:
        sh("ip", "-n", ns, "link", "del", dummy)


def test_socket_address_in_use_and_table_full(lons, opened):
    first = opened(lons, "socket:127.0.0.1:0")
    port = first.info["name"].rsplit(":", 1)[1]
    with pytest.raises(NetdevError) as exc, in_netns(lons):
        Netdev(f"socket:127.0.0.1:{port}")
    assert_error(exc.value, "PVBOOT_EADDR", f"socket:127.0.0.1:{port}: address in use")
    for _ in range(7):
        opened(lons, "socket:127.0.0.1:0")
    with pytest.raises(NetdevError) as exc, in_netns(lons):
        Netdev("socket:127.0.0.1:0")
    assert_error(exc.value, "PVBOOT_EINVAL",
                 "socket:127.0.0.1:0: too many netdevs (at most 8)")


def test_tap_busy_in_one_process_and_in_two(tapns, children):
    spec = f"tap:{TAG}t9"
    same = children(_open_error_twice, spec, ns=tapns).result()
    assert_error(same, "PVBOOT_EBUSY", f"{spec}: the device is in use by another process")
    holder = children(_hold, spec, ns=tapns)
    assert holder.recv() == "open"
    other = children(_open_error, spec, ns=tapns).result()
    assert_error(other, "PVBOOT_EBUSY", f"{spec}: the device is in use by another process")
    holder.conn.send("done")
    holder.result()


def test_permission_errors_as_nobody(veth, children):
    ns, ifname = veth[0], veth[1]
    expect = [
        (f"afpacket:{ifname}", "PVBOOT_EPERM",
         f"afpacket:{ifname}: permission denied (needs root or CAP_NET_RAW)"),
        (f"tap:{TAG}t8", "PVBOOT_EPERM",
         f"tap:{TAG}t8: permission denied (needs root or CAP_NET_ADMIN)"),
        ("socket:127.0.0.1:53", "PVBOOT_EPERM", "socket:127.0.0.1:53: permission denied "
         "(ports below 1024 need root or CAP_NET_BIND_SERVICE)"),
    ]
    for spec, result, text in expect:
        got = children(_open_error, spec, ns=ns, uid=NOBODY).result()
        assert_error(got, result, text)


# -- afpacket ---------------------------------------------------------------------------------

def test_afpacket_receive_send_and_not_our_own(veth, opened):
    ns_a, if_a, ns_b, if_b = veth
    nd = opened(ns_a, f"afpacket:{if_a}")
    info = nd.info
    assert info["kind"] == "afpacket" and info["name"] == if_a and info["mtu"] == 1500
    assert info["mac"] == link_mac(ns_a, if_a)
    peer = raw_socket(ns_b, if_b)

    sent = {i: marked_frame(info["mac"], i, 60 + i * 20) for i in range(20)}
    for frame in sent.values():
        peer.send(frame)
    assert drain(nd, len(sent)) == sent

    ours = {1000 + i: marked_frame(BROADCAST, 1000 + i, 100) for i in range(10)}
    for frame in ours.values():
        assert nd.send(frame, flush=False) == 0
    assert nd.flush() == 0
    assert sniff(peer, len(ours)) == ours
    # neither our transmissions nor another socket's on the same interface come back to us
    other = raw_socket(ns_a, if_a)
    other.send(marked_frame(BROADCAST, 2000))
    assert sniff(peer, 1) == {2000: marked_frame(BROADCAST, 2000)}
    assert drain(nd, 1, timeout=0.3) == {}
    stats = nd.stats
    assert stats["tx_frames"] == 10 and stats["tx_dropped"] == 0
    assert stats["rx_frames"] == 20 and stats["rx_dropped"] == 0


def test_afpacket_batch_of_1000_without_loss(veth, opened):
    ns_a, if_a, ns_b, if_b = veth
    nd = opened(ns_a, f"afpacket:{if_a}")
    peer = raw_socket(ns_b, if_b)
    frames = [marked_frame(nd.info["mac"], i, 128) for i in range(1000)]
    t0 = time.monotonic()
    for frame in frames:
        peer.send(frame)
    got = drain(nd, len(frames))
    assert time.monotonic() - t0 < 3
    assert len(got) == 1000 and all(got[i] == frames[i] for i in range(1000))
    assert nd.stats["rx_dropped"] == 0 and nd.stats["rx_truncated"] == 0


def test_afpacket_partial_batches_keep_their_place(veth, opened):
    """Batches smaller than a ring block: the cursor stays inside the block between calls."""
    ns_a, if_a, ns_b, if_b = veth
    nd = opened(ns_a, f"afpacket:{if_a}")
    peer = raw_socket(ns_b, if_b)
    for i in range(50):
        peer.send(marked_frame(nd.info["mac"], i))
    select.select([nd.fd], [], [], 1)
    time.sleep(0.01)
    seen = []
    while len(seen) < 50:
        batch = nd.recv(max=7)
        assert batch, "frames went missing after %d" % len(seen)
        assert len(batch) <= 7
        seen += [seq_of(f) for f in batch]
    assert seen == list(range(50))
    assert nd.recv() == []


def test_afpacket_marks_offloaded_checksums(veth, opened):
    """A kernel socket behind a veth leaves the UDP checksum to offload: the frame says so."""
    ns_a, if_a, ns_b, if_b = veth
    nd = opened(ns_a, f"afpacket:{if_a}")
    mac = nd.info["mac"].hex(":")
    sh("ip", "-n", ns_b, "neigh", "replace", "198.18.200.1", "lladdr", mac, "dev", if_b,
       "nud", "permanent")
    u = ns_socket(ns_b, socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"query", ("198.18.200.1", 5353))
    u.close()
    deadline = time.monotonic() + 2
    frames = []
    while not frames and time.monotonic() < deadline:
        select.select([nd.fd], [], [], 0.05)
        frames = [(f, fl) for f, fl in nd.recv_flags() if f[12:14] == b"\x08\x00"]
    assert len(frames) == 1
    frame, flags = frames[0]
    assert frame.endswith(b"query")
    # either the checksum is final, or the frame carries the flag that says it is not
    assert udp_checksum_ok(frame) or flags & FRAME_CSUM_PARTIAL
    assert nd.stats["rx_csum_partial"] == (1 if flags & FRAME_CSUM_PARTIAL else 0)


def test_afpacket_survives_the_link_going_down(veth, opened):
    """ENETDOWN on the socket wakes one yield (counted, cleared), then quiet; up: frames flow."""
    ns_a, if_a, ns_b, if_b = veth
    nd = opened(ns_a, f"afpacket:{if_a}")
    peer = raw_socket(ns_b, if_b)
    sh("ip", "-n", ns_a, "link", "set", if_a, "down")
    try:
        assert yield_until(monotonic_ns() + 1_000_000_000) == ("PVBOOT_OK", 1 << nd.info["index"])
        assert nd.recv() == [] and nd.stats["errors"] == 1
        assert yield_until(monotonic_ns() + 20_000_000) == ("PVBOOT_AGAIN", 0)
    finally:
        sh("ip", "-n", ns_a, "link", "set", if_a, "up")
    got = {}
    for attempt in range(40):            # until the veth has its carrier back
        peer.send(marked_frame(nd.info["mac"], attempt))
        got = drain(nd, 1, timeout=0.05)
        if got:
            break
    assert got and set(got) <= set(range(40))


def _fanout_member(conn, spec):
    got = set()
    with Netdev(spec) as nd:
        conn.send(("msg", "ready"))
        stopping = False
        while True:
            r, _, _ = select.select([nd.fd, conn], [], [], 0.1 if stopping else 5)
            if conn in r:
                conn.recv()
                stopping = True
            frames = nd.recv()
            for f in frames:
                got.add(struct.unpack("!H", f[34:36])[0] - 10000)   # the UDP source port
            if stopping and not frames and nd.fd not in r:
                return sorted(got), nd.stats["rx_dropped"]


def test_afpacket_fanout_splits_every_frame_exactly_once(veth, children):
    ns_a, if_a, ns_b, if_b = veth
    group = random.randrange(1, 65536)
    members = [children(_fanout_member, f"afpacket:{if_a},fanout={group}", ns=ns_a)
               for _ in range(2)]
    for m in members:
        assert m.recv() == "ready"
    peer = raw_socket(ns_b, if_b)
    dst = link_mac(ns_a, if_a)
    for i in range(1000):
        peer.send(udp_frame(dst, "198.18.200.2", "198.18.200.1", 10000 + i, 53, b"q%d" % i))
    time.sleep(0.2)
    for m in members:
        m.conn.send("stop")
    (seen_a, drops_a), (seen_b, drops_b) = (m.result() for m in members)
    assert seen_a and seen_b, "one member got nothing"
    assert not set(seen_a) & set(seen_b)
    assert sorted(seen_a + seen_b) == list(range(1000))
    assert drops_a == drops_b == 0


# -- tap --------------------------------------------------------------------------------------

def test_tap_frames_both_ways_and_the_kernel_answers_arp(tapns, opened):
    ifname = TAG + "t0"
    nd = opened(tapns, f"tap:{ifname}")
    info = nd.info
    assert info["kind"] == "tap" and info["name"] == ifname and info["mtu"] == 1500
    assert "UP" in sh("ip", "-n", tapns, "link", "show", ifname).stdout
    kernel = raw_socket(tapns, ifname)

    # the kernel side transmits: we read
    out = {i: marked_frame(BROADCAST, i, 60 + i) for i in range(10)}
    for frame in out.values():
        kernel.send(frame)
    assert drain(nd, len(out)) == out
    # we write: the kernel side receives
    back = {100 + i: marked_frame(info["mac"], 100 + i, 200) for i in range(10)}
    for frame in back.values():
        assert nd.send(frame) == 0
    assert sniff(kernel, len(back)) == back

    # a real exchange: ask the kernel's address by ARP, get its MAC back
    sh("ip", "-n", tapns, "addr", "add", "198.18.200.1/24", "dev", ifname)
    arp = (BROADCAST + PEER_MAC + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
           + PEER_MAC + socket.inet_aton("198.18.200.2") + b"\0" * 6
           + socket.inet_aton("198.18.200.1")).ljust(60, b"\0")
    nd.send(arp)
    reply = None
    deadline = time.monotonic() + 2
    while reply is None and time.monotonic() < deadline:
        select.select([nd.fd], [], [], 0.05)
        for f in nd.recv():
            if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02":
                reply = f
    assert reply is not None, "no ARP reply"
    assert reply[:6] == PEER_MAC and reply[22:28] == info["mac"]
    assert reply[28:32] == socket.inet_aton("198.18.200.1")


# -- socket -----------------------------------------------------------------------------------

@pytest.mark.parametrize("family,host", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_socket_datagrams_with_peers(lons, opened, family, host):
    spec_host = f"[{host}]" if family == socket.AF_INET6 else host
    nd = opened(lons, f"socket:{spec_host}:0")
    info = nd.info
    assert info["kind"] == "socket" and info["mac"] == bytes(6)
    port = int(info["name"].rsplit(":", 1)[1])
    assert info["name"] == f"{spec_host}:{port}"
    peer = ns_socket(lons, family, socket.SOCK_DGRAM, bind=(host, 0))
    peer.settimeout(2)
    me = peer.getsockname()[:2]

    for i in range(100):
        peer.sendto(b"q%d" % i, (host, port))
    got = []
    deadline = time.monotonic() + 2
    while len(got) < 100 and time.monotonic() < deadline:
        select.select([nd.fd], [], [], 0.05)
        batch = nd.recvfrom()
        assert len(batch) <= 64
        got += batch
    assert got == [(b"q%d" % i, me) for i in range(100)]

    assert nd.sendto(b"answer", me) == 0
    assert peer.recvfrom(100) == (b"answer", (host, port) if family == socket.AF_INET
                                  else (host, port, 0, 0))
    # one bad peer (the other family) is dropped alone; the rest of the batch goes out
    wrong = ("198.18.200.1", 9) if family == socket.AF_INET6 else ("2001:2::1", 9)
    nd.sendto(b"one", me, flush=False)
    nd.sendto(b"lost", wrong, flush=False)
    nd.sendto(b"two", me, flush=False)
    assert nd.flush() == 1
    assert [peer.recvfrom(100)[0] for _ in range(2)] == [b"one", b"two"]

    # a datagram larger than a frame is counted and skipped; the next one still arrives
    peer.sendto(b"x" * 3000, (host, port))
    peer.sendto(b"small", (host, port))
    select.select([nd.fd], [], [], 1)
    assert [d for d, _ in nd.recvfrom()] == [b"small"]
    stats = nd.stats
    assert stats["rx_truncated"] == 1 and stats["rx_frames"] == 101
    assert stats["tx_frames"] == 3 and stats["tx_dropped"] == 1


# -- yield ------------------------------------------------------------------------------------

def test_yield_times_out_at_the_deadline(lons, opened):
    opened(lons, "socket:127.0.0.1:0")
    late = []
    for wait_ms in (1, 5, 20, 50, 20):
        deadline = monotonic_ns() + wait_ms * 1_000_000
        assert yield_until(deadline) == ("PVBOOT_AGAIN", 0)
        late.append((monotonic_ns() - deadline) / 1e6)
    assert min(late) >= 0, late
    assert sorted(late)[len(late) // 2] < 3, late
    assert yield_until(0) == ("PVBOOT_AGAIN", 0)


def test_yield_reports_the_ready_netdev(lons, opened):
    quiet = opened(lons, "socket:127.0.0.1:0")
    busy = opened(lons, "socket:127.0.0.1:0")
    peer = ns_socket(lons, socket.AF_INET, socket.SOCK_DGRAM)
    peer.sendto(b"hello", ("127.0.0.1", int(busy.info["name"].rsplit(":", 1)[1])))
    t0 = monotonic_ns()
    result, ready = yield_until(t0 + 2_000_000_000)
    assert (result, ready) == ("PVBOOT_OK", 1 << busy.info["index"])
    assert monotonic_ns() - t0 < 100_000_000
    assert quiet.recv() == [] and busy.recv() == [b"hello"]


def _yield_with_signals(conn):
    """In a fresh process: signals sent during, and before, a wait."""
    out = {}
    with Netdev("socket:127.0.0.1:0"):
        signal.signal(signal.SIGUSR1, lambda *a: out.setdefault("python", True))
        yield_until(0)                               # installs pvboot's handlers
        conn.send(("msg", "waiting"))
        t0 = monotonic_ns()
        out["during"] = yield_until(t0 + 5_000_000_000)[0], (monotonic_ns() - t0) / 1e6
        out["take"] = take_signal(), take_signal()

        os.kill(os.getpid(), signal.SIGUSR1)         # while not waiting: held back
        os.kill(os.getpid(), signal.SIGTERM)
        out["not_run"] = take_signal()
        t0 = monotonic_ns()
        out["before"] = yield_until(t0 + 5_000_000_000)[0], (monotonic_ns() - t0) / 1e6
        out["order"] = take_signal(), take_signal(), take_signal()

        restore_signals()                           # Python's handler is back
        os.kill(os.getpid(), signal.SIGUSR1)
        out["python"] = out.get("python", False)
    return out


def test_yield_lets_signals_in_only_while_waiting(lons, children):
    child = children(_yield_with_signals, ns=lons)
    assert child.recv() == "waiting"
    time.sleep(0.05)
    os.kill(child.proc.pid, signal.SIGUSR1)
    out = child.result()
    assert out["during"][0] == "PVBOOT_AGAIN" and out["during"][1] < 1000, out
    assert out["take"] == (signal.SIGUSR1, 0)
    assert out["not_run"] == 0
    assert out["before"][0] == "PVBOOT_AGAIN" and out["before"][1] < 50, out
    assert out["order"] == (signal.SIGTERM, signal.SIGUSR1, 0)
    assert out["python"] is True
