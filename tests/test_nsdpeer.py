"""Self-test of the NSD oracle fixture (tests/nsdpeer.py)."""

import struct
import time

import pytest

from tests.nsdpeer import NSDPeer, NSDPeerError, soa_query

PORT = 15310

ZONE = """\
$ORIGIN peer.test.
$TTL 3600
@       IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
        IN NS  ns1
ns1     IN A   192.0.2.1
www     IN A   192.0.2.80
"""


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    d = tmp_path_factory.mktemp("nsdpeer")
    path = d / "peer.test.zone"
    path.write_text(ZONE)
    with NSDPeer({"peer.test.": str(path)}, port=PORT) as p:
        yield p
    assert p.tmpdir is None


def _header(resp):
    qid, flags, qd, an, ns, ar = struct.unpack("!6H", resp[:12])
    return qid, flags, qd, an, ns, ar


@pytest.mark.parametrize("family", [4, 6])
def test_soa_answer_is_authoritative(peer, family):
    q = soa_query("peer.test.", qid=0x1234)
    resp = peer.query(q, family=family)
    assert resp is not None
    qid, flags, qd, an, ns, ar = _header(resp)
    assert qid == 0x1234
    assert flags & 0x8000  # QR
    assert flags & 0x0400  # AA
    assert flags & 0x000F == 0  # NOERROR
    assert (qd, an) == (1, 1)
    assert resp[12 : 12 + len(q) - 12] == q[12:]  # question echoed verbatim
    rr = resp[len(q) :]
    assert rr[:2] == b"\xc0\x0c"  # owner: pointer to the question name
    assert struct.unpack("!HHI", rr[2:10]) == (6, 1, 3600)


def test_query_many_keeps_order_with_duplicate_ids(peer):
    wires = []
    for i in range(300):
        name = "www.peer.test." if i % 2 else "nope%d.peer.test." % i
        wires.append(soa_query(name, qid=7)[:-4] + struct.pack("!2H", 1, 1))  # all ID 7, type A
    wires.append(b"\x00\x07")  # too short: NSD drops it
    res = peer.query_many(wires, timeout=0.5)
    assert len(res) == len(wires)
    assert res[-1] is None
    for i, r in enumerate(res[:-1]):
        assert r is not None
        assert r[12:].startswith(wires[i][12:])
        rcode = r[3] & 0x0F
        assert rcode == (0 if i % 2 else 3), i


def test_bad_zone_is_reported(tmp_path):
    bad = tmp_path / "bad.zone"
    bad.write_text("$ORIGIN bad.test.\n@ IN SOA ns1 hm 1 2 3 4\n@ IN NS\n")
    p = NSDPeer({"bad.test.": str(bad)}, port=PORT + 1)
    with pytest.raises(NSDPeerError, match="nsd-checkzone"):
        p.start()
    assert p.proc is None and p.tmpdir is None  # nothing left running, temp dir removed


def test_query_many_5000_fast(peer):
    wires = [soa_query("peer.test.", qid=i & 0xFFFF) for i in range(5000)]
    t = time.monotonic()
    res = peer.query_many(wires)
    assert time.monotonic() - t < 20
    assert all(r is not None and r[:2] == w[:2] for r, w in zip(res, wires, strict=True))


def test_query_many_rate_keeps_formerr_under_nsd_error_ratelimit(peer):
    # NSD answers at most ~100 FORMERR/NOTIMP per second; pacing gets them all.
    bad = struct.pack("!6H", 9, 0, 2, 0, 0, 0) + soa_query("peer.test.")[12:] * 2  # QDCOUNT=2
    res = peer.query_many([bad] * 120, rate=80)
    assert all(r is not None and r[3] & 0x0F == 1 for r in res)  # FORMERR
