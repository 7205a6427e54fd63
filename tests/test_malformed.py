"""Malformed and unusual queries: each gets the response NSD gives (or a drop where NSD drops).

Every case goes to a real NSD and to the engine; the responses must agree on everything the
difftool compares (rcode, flags, question, sections, OPT). NSD answers at most ~100 FORMERR and
NOTIMP responses a second, so the cases are sent at 80 a second.
"""

import pytest

from tests import difftool, malformed

CASES = malformed.cases()


def test_enough_kinds():
    assert len(CASES) >= 25


@pytest.fixture(scope="module")
def nsd_answers(nsd):
    return nsd.query_many([w for _, w in CASES], rate=80, timeout=1.5)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[d for d, _ in CASES])
def test_same_as_nsd(engine, nsd_answers, i):
    desc, wire = CASES[i]
    ours = engine.answer(wire)
    theirs = nsd_answers[i]
    diffs = difftool.compare(wire, ours, theirs)
    assert not diffs, "%s:\n  ours %s\n  NSD  %s\n  %s" % (
        desc, ours and ours.hex(), theirs and theirs.hex(), "\n  ".join(diffs))


def test_drops_are_counted(engine):
    before = engine.counters()
    assert engine.answer(b"\x00\x01") is None
    assert engine.answer(malformed.header(flags=0x8100) + malformed.question()) is None
    after = engine.counters()
    assert after["drop_short"] == before["drop_short"] + 1
    assert after["drop_response"] == before["drop_response"] + 1
