"""The benchmark's inputs: the realistic zone, the query files and the footprint figures.

Each generated query's kind (positive, nodata, nxdomain, wildcard, referral) is checked against
the answer our engine actually gives, so the stated mix is the mix the servers see.
"""

import ipaddress
import os
import shutil
import struct
import subprocess
import sys

import pytest
from dnslib import QTYPE, DNSRecord

import zones
from appliance.builder import ZoneSource, load_zones, table_for
from appliance.engine import Engine
from bench import footprint, genzone, queries
from zones import names

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZDIR = os.path.join(ROOT, "bench", "zones")
REALISTIC = os.path.join(ZDIR, "realistic.test.zone")
ORIGIN = "realistic.test."
NETS = (ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:2::/48"))
TOLERANCE = 0.02


# -- the realistic zone -------------------------------------------------------------------------

def test_realistic_zone_is_reproducible(tmp_path):
    out = tmp_path / "r.zone"
    subprocess.run([sys.executable, os.path.join(ZDIR, "make_realistic.py"), "-o", str(out)],
                   check=True, capture_output=True)
    with open(REALISTIC, "rb") as f:
        assert out.read_bytes() == f.read(), "regenerate: python bench/zones/make_realistic.py"


def test_realistic_zone_passes_our_check_zone():
    p = subprocess.run([os.path.join(ROOT, ".venv", "bin", "appliance"), "check-zone",
                        REALISTIC], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", p.stdout + p.stderr
    assert "zone realistic.test is ok" in p.stdout


@pytest.mark.parametrize("cmd", [
    ["nsd-checkzone", "realistic.test", REALISTIC],
    ["named-checkzone", "-i", "local", "-k", "fail", "-n", "fail", "realistic.test", REALISTIC],
    ["kzonecheck", "-o", "realistic.test", REALISTIC],
], ids=["nsd", "bind", "knot"])
def test_realistic_zone_passes_the_peers_checks(cmd):
    if not shutil.which(cmd[0]):
        pytest.skip("%s is not installed" % cmd[0])
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_realistic_zone_content():
    z = zones.load(REALISTIC, ORIGIN)
    types: dict[str, int] = {}
    for (_, t), r in z.rrsets.items():
        name = {1: "A", 2: "NS", 5: "CNAME", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
                39: "DNAME", 43: "DS", 257: "CAA"}.get(t, str(t))
        types[name] = types.get(name, 0) + len(r.rdatas)
        if t in (1, 28):
            for rd in r.rdatas:
                ip = ipaddress.ip_address(rd)
                assert any(ip in n for n in NETS), (names.to_text(r.name), ip)
    assert "DNAME" not in types
    assert types["A"] >= 300 and types["CNAME"] == 40 and types["SRV"] >= 10
    assert types["NS"] == 3 + 12 and types["DS"] == 1 and types["CAA"] == 3
    zx = queries.ZoneIndex(z)
    assert zx.shape()["cuts"] == 6 and zx.shape()["wildcards"] == 1
    assert zx.shape()["empty_non_terminals"] >= 2


# -- queries ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def realistic():
    zx = queries.ZoneIndex.load(REALISTIC, ORIGIN)
    loaded, _ = load_zones([ZoneSource(REALISTIC, ORIGIN)])
    table, _ = table_for(loaded)
    return zx, Engine(table)


def wire(name: str, qtype: str, qid: int = 1) -> bytes:
    return (struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + names.from_text(name)
            + struct.pack("!HH", queries.TYPE_CODES[qtype], 1))


def ask(engine: Engine, name: str, qtype: str) -> DNSRecord:
    return DNSRecord.parse(engine.answer(wire(name, qtype)))


def closest_encloser(zx: queries.ZoneIndex, name: bytes) -> bytes:
    while names.key(name) not in zx.index:
        name = names.parent(name)
    return name


def mismatch(zx, engine, name: str, qtype: str, kind: str) -> str | None:
    """Why the engine's answer is not of ``kind``, or None if it is."""
    r = ask(engine, name, qtype)
    h, code = r.header, queries.TYPE_CODES[qtype]
    owners = {str(a.rname).lower() for a in r.rr}
    soa = any(a.rtype == QTYPE.SOA for a in r.auth)
    exists = names.key(names.from_text(name)) in zx.index
    if kind == "positive":
        ok = (h.rcode == 0 and h.aa and r.rr and str(r.rr[0].rname).lower() == name
              and r.rr[0].rtype in (code, QTYPE.CNAME) and exists)
    elif kind == "nodata":
        ok = h.rcode == 0 and h.aa and not r.rr and soa
    elif kind == "nxdomain":
        ok = h.rcode == 3 and h.aa and not r.rr and soa
    elif kind == "wildcard":
        source = b"\x01*" + closest_encloser(zx, names.from_text(name))
        literal = ask(engine, names.to_text(source), qtype)
        ok = (h.rcode == 0 and h.aa and owners == {name} and not exists
              and {(a.rtype, str(a.rdata)) for a in r.rr}
              == {(a.rtype, str(a.rdata)) for a in literal.rr} and literal.rr)
    elif kind == "referral":
        cuts = {str(a.rname).lower() for a in r.auth if a.rtype == QTYPE.NS}
        cut = cuts.pop() if len(cuts) == 1 else "?"
        ok = (h.rcode == 0 and not h.aa and not r.rr and not cuts
              and (name == cut or name.endswith("." + cut)))
    else:
        return "unknown kind"
    return None if ok else str(r)


def test_query_mix_is_as_stated_and_confirmed_by_the_engine(realistic):
    zx, engine = realistic
    qs = queries.make_queries(zx, 20000)
    got = queries.summary(qs, queries.SEED)
    want = queries.expected_mix(zx)
    for kind, share in queries.MIX.items():
        assert abs(got["categories"][kind] / 20000 - share) <= TOLERANCE, kind
        n = got["categories"][kind]
        for t, w in want["by_category"][kind].items():
            assert abs(got["by_category"][kind][t] / n - w) <= TOLERANCE, (kind, t)
    for t, w in want["qtypes"].items():
        assert abs(got["qtypes"][t] / 20000 - w) <= TOLERANCE, t
    bad = [(q, why) for q in qs if (why := mismatch(zx, engine, *q))]
    assert not bad, "%d wrong, first: %s" % (len(bad), bad[0])


def test_classify_agrees_with_engine_on_edge_cases(realistic):
    zx, engine = realistic
    cases = [("realistic.test.", "NS", "positive"), ("www.realistic.test.", "MX", "nodata"),
             ("apps.realistic.test.", "A", "nodata"), ("_tcp.realistic.test.", "TXT", "nodata"),
             ("x.console.apps.realistic.test.", "A", "nxdomain"),
             ("a.b.apps.realistic.test.", "TXT", "wildcard"),
             ("ns1.eu.realistic.test.", "A", "referral"), ("partners.realistic.test.", "NS",
                                                          "referral"),
             ("x.www2.realistic.test.", "A", "nxdomain"), ("www2.realistic.test.", "A",
                                                          "positive")]
    for name, t, kind in cases:
        assert zx.classify(names.key(names.from_text(name)), t) == kind, name
        assert mismatch(zx, engine, name, t, kind) is None, name
    assert zx.classify(names.from_text("q.apps.realistic.test."), "MX") == "wildcard-nodata"


def test_queries_for_a_genzone_zone_are_confirmed_by_the_engine(tmp_path):
    path = str(tmp_path / "g.zone")
    genzone.write_zone(path, 3000)
    zx = queries.ZoneIndex.load(path, "bench.test.")
    loaded, _ = load_zones([ZoneSource(path, "bench.test.")])
    engine = Engine(table_for(loaded)[0])
    qs = queries.make_queries(zx, 2000, seed=7)
    assert queries.summary(qs, 7)["categories"] == queries.targets(2000)
    bad = [(q, why) for q in qs if (why := mismatch(zx, engine, *q))]
    assert not bad, "%d wrong, first: %s" % (len(bad), bad[0])


def test_query_file_and_cli(tmp_path):
    a, b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
    res = queries.write_queries(a, REALISTIC, ORIGIN, 500)
    assert res["count"] == 500 and sum(res["categories"].values()) == 500
    p = subprocess.run([sys.executable, "-m", "bench.queries", REALISTIC, ORIGIN, "500",
                        "-o", b], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(a, "rb") as fa, open(b, "rb") as fb:
        text = fa.read()
        assert text == fb.read()
    lines = text.decode("ascii").splitlines()
    assert len(lines) == 500
    for line in lines:
        name, t = line.split(" ")
        assert name.endswith(".realistic.test.") or name == ORIGIN
        assert t in queries.QTYPES


# -- footprint ----------------------------------------------------------------------------------

def _installed(pkg: str) -> bool:
    return subprocess.run(["dpkg", "-s", pkg], capture_output=True).returncode == 0


def test_nsd_closure():
    if not _installed("nsd"):
        pytest.skip("nsd is not installed")
    kib, pkgs = footprint.debian_closure_kib(["nsd"])
    assert "nsd" in pkgs and "libc6" in pkgs and "libssl3" in pkgs
    assert 5_000 < kib < 500_000
    own = footprint.dpkg().pkgs["nsd"].kib
    assert kib > own
    lean, lean_pkgs = footprint.debian_closure_kib(["nsd"], exclude_required=True)
    assert lean < kib and "nsd" in lean_pkgs and set(lean_pkgs) < set(pkgs)
    r = footprint.closure_report(["nsd"])
    assert r["closure_kib"] == kib and r["not_required_kib"] == lean
    assert own <= r["beyond_base_kib"] <= r["not_required_kib"] and not r["unmet"]
    with pytest.raises(ValueError):
        footprint.debian_closure_kib(["no-such-package-here"])


def test_our_runtime_footprint():
    r = footprint.appliance_runtime(sys.executable)
    assert "appliance/engine.cpython-311-x86_64-linux-gnu.so" in r["our_files"]
    assert not any(f.startswith("zones/") for f in r["our_files"])
    assert 0 < r["own_kib"] <= r["closure_kib"] and "libc6" in r["packages"]


def test_image_and_memory(tmp_path):
    f = tmp_path / "img"
    f.write_bytes(b"x" * 1000)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"y" * 24)
    assert footprint.image_bytes(str(f)) == 1000
    assert footprint.image_bytes(str(tmp_path)) == 1024
    me = os.getpid()
    assert footprint.rss_at_rest_kib([me]) > 1000
    assert 0 < footprint.pss_at_rest_kib([me]) <= footprint.rss_at_rest_kib([me])
    with pytest.raises(ProcessLookupError):
        footprint.rss_at_rest_kib([2 ** 22 + 1])
