"""The engine's per-query C path, one benchmark per answer kind, timed around ``Engine.bench``.

Each timed call answers QUERIES distinct queries ROUNDS times in a C loop (100,000 answers),
over the table of a generated 10,000-record zone. Before timing, every query's response is
checked to be the kind it claims (rcode, AA, section counts, owners); after timing, the engine's
counters must show every one of the timed answers with that rcode, so a broken engine cannot
win by answering fast and wrong.
"""

import random

import pytest
from dnslib import QTYPE, DNSRecord

from appliance.builder import ZoneSource, load_zones, table_for
from appliance.engine import Engine
from bench import genzone, results
from tests.dnsq import header_fields, query

pytestmark = pytest.mark.bench

ZONE_RECORDS = 10_000
ORIGIN = "bench.test."
QUERIES = 1000
ROUNDS = 100
ANSWERS = QUERIES * ROUNDS
SEED = 7


@pytest.fixture(scope="module")
def zone(tmp_path_factory):
    """The generated zone's shape and its answer table, built once for the module."""
    path = str(tmp_path_factory.mktemp("engine") / "bench.zone")
    shape = genzone.write_zone(path, ZONE_RECORDS, ORIGIN)
    loaded, _ = load_zones([ZoneSource(path)])
    table, _ = table_for(loaded)
    return shape, table


def _mixed_case(name: str, rng: random.Random) -> str:
    """Each letter upper case by a coin toss (0x20, draft-vixie-dnsext-dns0x20); never all lower."""
    mixed = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
    return mixed if mixed != name else name[0].upper() + name[1:]


def names_for(kind: str, shape: genzone.ZoneShape) -> list[tuple[str, dict]]:
    """QUERIES distinct (name, query options) of one kind, the same on every run."""
    rng = random.Random(SEED)
    hosts = rng.sample(range(shape.hosts), QUERIES)
    out = []
    for i, h in enumerate(hosts):
        host = "host%d.%s" % (h, ORIGIN)
        if kind == "exact":
            out.append((host, {}))
        elif kind == "exact_edns":
            out.append((host, {"edns": 1232}))
        elif kind == "exact_mixed_case":
            out.append((_mixed_case(host, rng), {}))
        elif kind == "wildcard":
            w = shape.wildcards[i % len(shape.wildcards)]
            out.append(("q%d.%s.%s" % (i, w, ORIGIN), {}))
        elif kind == "nxdomain":
            out.append(("missing%d.%s" % (i, ORIGIN), {}))
        elif kind == "referral":
            d = shape.delegations[i % len(shape.delegations)]
            out.append(("www%d.%s.%s" % (i, d, ORIGIN), {}))
        else:
            raise ValueError(kind)
    return out


def question_end(q: bytes) -> int:
    """Where the (uncompressed) question of a query ends."""
    pos = 12
    while q[pos]:
        pos += 1 + q[pos]
    return pos + 5


def check(kind: str, name: str, opts: dict, wire: bytes | None, q: bytes):
    """That one response is the kind it is benchmarked as."""
    assert wire is not None, name
    h = header_fields(wire)
    r = DNSRecord.parse(wire)
    qname = name.rstrip(".").lower()
    owners = {str(rr.rname).rstrip(".").lower() for rr in r.rr}
    question = q[12:question_end(q)]
    assert wire[12:12 + len(question)] == question, "question not echoed verbatim: %s" % name
    assert h["qd"] == 1 and h["tc"] == 0 and h["ra"] == 0, (name, h)
    if kind == "nxdomain":
        assert (h["rcode"], h["aa"], h["an"], h["ns"]) == (3, 1, 0, 1), (name, h)
        assert r.auth[0].rtype == QTYPE.SOA
        return
    assert h["rcode"] == 0, (name, h)
    if kind == "referral":
        assert (h["aa"], h["an"]) == (0, 0), (name, h)
        cut = qname.split(".", 1)[1]
        assert {(str(rr.rname).rstrip(".").lower(), rr.rtype) for rr in r.auth} == \
            {(cut, QTYPE.NS)}, name
        assert h["ar"] >= 1, "a referral without glue: %s" % name
        return
    assert h["aa"] == 1 and h["an"] >= 1, (name, h)
    assert owners == {qname} and {rr.rtype for rr in r.rr} == {QTYPE.A}, (name, r.rr)
    labels = qname.split(".")
    if kind == "wildcard":
        assert labels[1].startswith("wild"), name
        address = genzone.wildcard_address(int(labels[1][len("wild"):]))
        assert [str(rr.rdata) for rr in r.rr] == [address], name
    else:
        assert labels[0].startswith("host") and len(labels) == 3, name
        assert (name != name.lower()) == (kind == "exact_mixed_case"), name
    opt = [rr for rr in r.ar if rr.rtype == QTYPE.OPT]
    if kind == "exact_edns":
        assert len(opt) == 1 and opt[0].rclass == 1232, name
    else:
        assert not opt, name


KINDS = ("exact", "wildcard", "nxdomain", "referral", "exact_edns", "exact_mixed_case")
RCODE_COUNTER = {"nxdomain": "rcode_nxdomain"}


@pytest.mark.parametrize("kind", KINDS)
def test_engine(benchmark, zone, kind):
    shape, table = zone
    engine = Engine(table)
    asked = names_for(kind, shape)
    queries = [query(name, "A", qid=i, **opts) for i, (name, opts) in enumerate(asked)]
    assert len(set(queries)) == QUERIES
    for (name, opts), q in zip(asked, queries, strict=True):
        check(kind, name, opts, engine.answer(q), q)

    before = engine.counters()
    c_ns = []

    def run():
        answered, ns = engine.bench(queries, ROUNDS)
        c_ns.append(ns)
        return answered

    benchmark.group = "engine"
    answered = benchmark(run)
    after = engine.counters()
    timed = ANSWERS * len(c_ns)
    assert answered == ANSWERS
    counter = RCODE_COUNTER.get(kind, "rcode_noerror")
    assert after[counter] - before[counter] == timed, "the timed answers were not all %s" % kind
    assert after["queries"] - before["queries"] == timed
    if kind == "exact_edns":
        assert after["edns"] - before["edns"] == timed

    if benchmark.stats is None:           # --benchmark-disable: nothing was measured
        return
    median = benchmark.stats.stats.median
    c_ns.sort()
    info = {
        "answers_per_call": ANSWERS,
        "answers_per_s": round(ANSWERS / median),
        "ns_per_answer": round(median * 1e9 / ANSWERS, 1),
        "c_loop_ns_per_answer": round(c_ns[len(c_ns) // 2] / ANSWERS, 1),
        "calls": len(c_ns),
        "zone_records": ZONE_RECORDS,
        "distinct_queries": QUERIES,
    }
    benchmark.extra_info.update(info)
    results.update("engine", kind, info)
