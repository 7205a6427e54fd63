"""Property-based fuzzing of the engine: no input crashes it, every response parses.

Four hypothesis strategies (raw bytes, well-formed queries with random fields, byte-level
mutations of valid queries, and malformed cases from tests/malformed.py mutated) run 25,000
examples each, 100,000 in all, against the differential zone set.
"""

import struct

from dnslib import DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import malformed
from tests.wirecheck import check_message

EXAMPLES = 25_000
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

LABELS = [b"www", b"example", b"com", b"net", b"wild", b"deleg", b"sub", b"*", b"a", b"b",
          b"ns1", b"chain1", b"dangling", b"big", b"x", b"WwW", b"EXAMPLE", b"id", b"server",
          b"version", b"bind", b"\x00", b"\xff" * 5, b"q" * 63]


def check(engine, query: bytes):
    resp = engine.answer(query)
    if resp is None:
        return
    assert len(resp) >= 12
    assert resp[:2] == query[:2]                 # the ID is echoed
    assert resp[2] & 0x80                        # QR
    assert len(resp) <= 1232
    if len(query) >= 12 and not (query[10] or query[11]):
        assert len(resp) <= 512                  # no OPT record, no EDNS: 512 at most
    check_message(resp)                          # every response is well-formed
    try:
        DNSRecord.parse(resp)                    # and dnslib reads it,
    except Exception as e:  # noqa: BLE001
        # unless the question echoes a label that is not UTF-8, which dnslib refuses
        assert "Invalid label" in str(e), e
        try:
            DNSRecord.parse(query)
        except Exception as e2:  # noqa: BLE001
            assert "Invalid label" in str(e2), e2
        else:
            raise AssertionError("dnslib reads the query but not our response") from e


names_st = st.lists(st.sampled_from(LABELS), min_size=0, max_size=8).map(
    lambda ls: b"".join(bytes([len(x)]) + x for x in ls) + b"\x00")


@st.composite
def queries(draw):
    flags = draw(st.integers(0, 0xFFFF)) & ~0x8000 if draw(st.booleans()) else 0x0100
    counts = draw(st.tuples(*[st.sampled_from([0, 1, 1, 1, 2, 65535])] * 4))
    qd, an, ns, ar = counts
    body = draw(names_st) + struct.pack("!HH", draw(st.sampled_from(
        [1, 2, 5, 6, 15, 16, 28, 33, 43, 48, 251, 252, 255, 0, 65535])), draw(st.sampled_from(
            [1, 1, 1, 3, 4, 255, 254])))
    if ar and draw(st.booleans()):
        body += malformed.opt(size=draw(st.integers(0, 65535)),
                              version=draw(st.sampled_from([0, 0, 1])),
                              flags=draw(st.sampled_from([0, 0x8000])),
                              rdata=draw(st.binary(max_size=12)))
    body += draw(st.binary(max_size=8))
    return struct.pack("!HHHHHH", draw(st.integers(0, 0xFFFF)), flags, qd, an, ns, ar) + body


SEEDS = [w for _, w in malformed.cases() if w] + [
    malformed.header() + malformed.question(),
    malformed.header(ar=1) + malformed.question() + malformed.opt(),
]


@st.composite
def mutations(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if not data:
            data = bytearray(draw(st.binary(min_size=1, max_size=4)))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0, 0xC0, 0x3F, 0x40, 0xFF, 1, 12]))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[i]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes(engine, data):
    check(engine, data)


@FUZZ
@given(queries())
def test_structured_queries(engine, q):
    check(engine, q)


@FUZZ
@given(mutations())
def test_mutated_queries(engine, q):
    check(engine, q)


@FUZZ
@given(st.sampled_from(SEEDS), st.binary(min_size=1, max_size=40), st.integers(0, 200))
def test_spliced_queries(engine, seed, junk, at):
    check(engine, seed[:at] + junk + seed[at:])
