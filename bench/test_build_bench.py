"""Building an image from generated zones of 10k, 100k and 1M records: time, sizes, peak memory.

Each build is ``appliance build ZONE -o IMG`` in a child process, as an operator runs it; the
child's own peak RSS comes from ``wait4``'s rusage, so one build's number is never another's.
Generating the zone is not timed. The image must then open (hash verified) and answer; on it,
exact hits over up to 100,000 distinct names show what a table too large for the caches costs.
"""

import os
import random
import statistics
import sys
import time

import pytest

from appliance.engine import Engine
from appliance.image import open_image
from bench import genzone, results
from tests.dnsq import header_fields, query

pytestmark = pytest.mark.bench

APPLIANCE = os.path.join(os.path.dirname(sys.executable), "appliance")
ORIGIN = "bench.test."
# An operator's patience for one build; past it the benchmark fails rather than hangs.
BUILD_TIMEOUT = 30 * 60
SPREAD = 100_000
SPREAD_REPEAT = 5
SPREAD_SEED = 11
SIZES = [
    pytest.param(10_000, 3, id="10k"),
    pytest.param(100_000, 1, id="100k"),
    pytest.param(1_000_000, 1, id="1M", marks=pytest.mark.huge),
]


def build_once(zone: str, img: str) -> dict:
    """Run one build; its wall time, CPU time and peak RSS."""
    t0 = time.perf_counter()
    pid = os.posix_spawn(APPLIANCE, [APPLIANCE, "build", zone, "-o", img], os.environ)
    deadline = t0 + BUILD_TIMEOUT
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            break
        if time.perf_counter() > deadline:
            os.kill(pid, 9)
            os.wait4(pid, 0)
            pytest.fail("build of %s took more than %d s" % (zone, BUILD_TIMEOUT))
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    assert os.waitstatus_to_exitcode(status) == 0, "appliance build failed on %s" % zone
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_kib": usage.ru_maxrss}


def exact_spread_ns(engine: Engine, shape: genzone.ZoneShape) -> float:
    """Median ns per exact-hit answer over up to SPREAD distinct hosts in random order: unlike
    the engine benchmarks' 1000 names, these do not stay in the CPU caches of a large table."""
    rng = random.Random(SPREAD_SEED)
    n = min(SPREAD, shape.hosts)
    queries = [query("host%d.%s" % (h, ORIGIN)) for h in rng.sample(range(shape.hosts), n)]
    rounds = -(-SPREAD // n)
    engine.bench(queries, 1)                # fault the mapped image in
    per_answer = []
    for _ in range(SPREAD_REPEAT):
        answered, ns = engine.bench(queries, rounds)
        assert answered == n * rounds
        per_answer.append(ns / answered)
    return statistics.median(per_answer)


@pytest.mark.parametrize("records,rounds", SIZES)
def test_build(benchmark, tmp_path, records, rounds):
    zone = str(tmp_path / "bench.zone")
    img = str(tmp_path / "bench.img")
    t0 = time.perf_counter()
    shape = genzone.write_zone(zone, records, ORIGIN)
    generate_s = time.perf_counter() - t0
    runs = []

    benchmark.group = "build"
    benchmark.pedantic(lambda: runs.append(build_once(zone, img)), rounds=rounds, iterations=1)

    image = open_image(img)
    try:
        meta = image.meta
        assert meta["zones"][0]["records"] == records
        engine = Engine(image.table)
        h = header_fields(engine.answer(query("host%d.%s" % (shape.hosts - 1, ORIGIN))))
        assert (h["rcode"], h["aa"], h["an"] >= 1) == (0, 1, True), h
        size, table = image.size, meta["table"]
        spread_ns = exact_spread_ns(engine, shape)
    finally:
        del engine
        image.close()

    if benchmark.stats is None:
        return
    runs.sort(key=lambda r: r["wall_s"])
    mid = runs[len(runs) // 2]
    info = {
        "records": records,
        "build_s": round(mid["wall_s"], 2),
        "build_cpu_s": round(mid["cpu_s"], 2),
        "peak_rss_mib": round(max(r["peak_rss_kib"] for r in runs) / 1024, 1),
        "image_bytes": size,
        "table_bytes": table["bytes"],
        "names": table["nodes"],
        "answers": table["entries"],
        "variants": table["variants"],
        "max_probe": table["max_probe"],
        "exact_spread_ns_per_answer": round(spread_ns, 1),
        "zone_bytes": os.path.getsize(zone),
        "generate_s": round(generate_s, 2),
        "builds": len(runs),
    }
    benchmark.extra_info.update(info)
    results.update("build", "%dk" % (records // 1000) if records < 10**6 else
                   "%dM" % (records // 10**6), info)
