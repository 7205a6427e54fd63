"""The engine against a real NSD: the same zones, the same query bytes, the same answers.

For every query, rcode, flags (AA, TC, RD, ...), the question, the answer, authority and
additional RRsets and the OPT record must equal NSD's. Differences by design are named in
difftool.NAMED_DIFFERENCES and excluded from the generated queries.
"""

from tests import difftool
from tests.conftest import DIFF_ZONES

QUERIES = 6000


def run_diff(engine, nsd, queries, rate=None):
    theirs = nsd.query_many(queries, rate=rate)
    failures = []
    identical = 0
    for q, t in zip(queries, theirs, strict=True):
        o = engine.answer(q)
        if o == t:
            identical += 1
            continue
        d = difftool.compare(q, o, t)
        if d:
            failures.append("%s: %s" % (difftool.describe(q), " | ".join(d)))
    return failures, identical


def test_generated_queries_match_nsd(engine, nsd):
    queries = difftool.generate(DIFF_ZONES, QUERIES)
    assert len(queries) >= 5000
    failures, identical = run_diff(engine, nsd, queries)
    print("%d queries, %d byte-identical, %d differ" % (len(queries), identical, len(failures)))
    assert not failures, "\n".join(failures[:40]) + "\n... %d differences" % len(failures)
