"""bench/report.py: the results JSON becomes tables and charts, also when figures are missing."""

import copy
import json
import random

import pytest

from bench import report as rep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SERVERS = {
    "ours-direct": {"label": "appliance, direct stack (AF_PACKET)", "version": "0.1.0"},
    "ours-socket": {"label": "appliance, socket stack", "version": "0.1.0"},
    "nsd": {"label": "NSD", "version": "4.6.1"},
    "knot": {"label": "Knot", "version": "3.2.6"},
    "bind": {"label": "BIND", "version": "9.18.28"},
}
# Per server, per round: dnsperf qps, kxdpgun loss-free qps, CPU us per query. Rounds are out of
# order on purpose: the medians are the middle values (ours-direct: 300,000 and 4.0 us).
FIGURES = {
    "ours-direct": [(180000, 310000, 4.2), (175000, 290000, 3.8), (178000, 300000, 4.0)],
    "ours-socket": [(140000, 150000, 7.0), (138000, 140000, 7.5), (139000, 145000, 7.2)],
    "nsd": [(135000, 105000, 10.0), (130000, 95000, 10.5), (133000, 100000, 9.8)],
    "knot": [(132000, 120000, 8.4), (131000, 115000, 8.6), (129000, 118000, 8.5)],
    "bind": [(60000, 50000, 17.0), (62000, 52000, 17.5), (61000, 51000, 16.8)],
}


def run(zone, server, rnd, qps, lossfree, cpu_q, scale=1.0):
    return {
        "zone": zone, "server": server, "round": rnd,
        "dnsperf": {"qps": qps * scale, "sent": 1000, "completed": 1000, "lost": 0,
                    "loss_pct": 0.0, "latency_avg_ms": 0.5 + rnd / 10,
                    "latency_p99_ms": 2.0 + rnd / 10},
        "kxdpgun": {"loss_free_qps": lossfree * scale,
                    "trials": [{"rate": 50000, "sent": 1, "received": 1, "loss_pct": 0.0}]},
        "fixed": {"rate": 50000, "generator": "kxdpgun", "answered": 500000, "loss_pct": 0.0,
                  "cpu_s": cpu_q * 0.5, "softirq_s": 1.0, "cpu_us_per_query": cpu_q,
                  "softirq_us_per_query": 2.0, "cpu_pct": cpu_q * 5},
        "rss_kib": 20000 + rnd,
    }


def full_results():
    runs = []
    for zone, scale in (("realistic", 1.0), ("1m", 0.9)):
        for rnd in range(3):
            for server, rounds in FIGURES.items():
                runs.append(run(zone, server, rnd, *rounds[rnd], scale=scale))
    return {
        "date": "2026-11-27", "host": "benchhost",
        "machine": {"cpu": "Test CPU 3000", "cores": 2, "kernel": "6.1.0", "python": "3.11.7"},
        "settings": {"rounds": 3, "seconds": 10, "fixed_rate": 50000, "server_cpu": 1,
                     "client_cpu": 0, "dnsperf": {"clients": 8, "outstanding": 200},
                     "kxdpgun": {"available": True, "why": None, "trial_seconds": 3}},
        "servers": copy.deepcopy(SERVERS),
        "zones": {"realistic": {"origin": "realistic.test.", "records": 1234,
                                "mix": {"positive": 0.7, "nodata": 0.1, "nxdomain": 0.1,
                                        "wildcard": 0.05, "referral": 0.05}},
                  "1m": {"origin": "bench.test.", "records": 1000000, "mix": {}}},
        "ceiling": {z: [{"round": i, "loss_free_qps": q}
                        for i, q in enumerate((310000.0, 320000.0, 300000.0))]
                    for z in ("realistic", "1m")},
        "runs": runs,
        "footprint": {
            "image_bytes": {"realistic": 123456, "1m": 150000000},
            "packages": {p: {"kib": 4000 + i, "kib_without_required": 800 + i,
                             "packages": [p, "libfoo1"]}
                         for i, p in enumerate(("nsd", "knot", "bind"))},
            "ours": {"kib": 30000, "what": "the sealed image and pvboot"},
            "rss_at_rest_1m_kib": {"ours-direct": 160000, "nsd": 300000, "knot": 280000,
                                   "bind": 500000},
        },
    }


def smoke_results():
    """Smoke mode: two servers ran, one round; kxdpgun missing; a third server never started."""
    why = "kxdpgun: AF_XDP socket refused on veth0 (EOPNOTSUPP)"
    runs = []
    for server in ("ours-direct", "nsd"):
        r = run("realistic", server, 0, *FIGURES[server][0])
        r["kxdpgun"] = {"loss_free_qps": None, "trials": []}
        r["dnsperf"]["latency_p99_ms"] = None
        r["fixed"]["generator"] = "dnsperf"
        runs.append(r)
    runs[1]["rss_kib"] = None
    runs[1]["fixed"] = None
    return {
        "date": "2026-11-27", "host": "benchhost",
        "machine": {"cpu": None, "cores": 2, "kernel": "6.1.0", "python": "3.11.7"},
        "settings": {"rounds": 1, "seconds": 2, "fixed_rate": 50000, "server_cpu": 1,
                     "client_cpu": 0, "dnsperf": {"clients": 8, "outstanding": 200},
                     "kxdpgun": {"available": False, "why": why, "trial_seconds": None}},
        "servers": {k: SERVERS[k] for k in ("ours-direct", "nsd", "knot")},
        "zones": {"realistic": {"origin": "realistic.test.", "records": 1234, "mix": None},
                  "1m": {"origin": "bench.test.", "records": None, "mix": None}},
        "ceiling": {"realistic": [{"round": 0, "loss_free_qps": None}]},
        "runs": runs,
        "footprint": {"image_bytes": {"realistic": 123456, "1m": None}, "packages": {},
                      "ours": None, "rss_at_rest_1m_kib": None},
    }


def table_after(text, heading, n=0):
    """The rows of the first markdown table after the ``n``-th line starting with ``heading``,
    as dicts keyed by the header cells."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(heading)]
    i = starts[n]
    while not lines[i].startswith("|"):
        i += 1
    rows = []
    while i < len(lines) and lines[i].startswith("|"):
        rows.append([c.strip() for c in lines[i].strip().strip("|").split(" | ")])
        i += 1
    header, body = rows[0], rows[2:]
    return {r[0]: dict(zip(header, r, strict=True)) for r in body}


def check_pngs(paths):
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        assert data.startswith(PNG_MAGIC), p
        assert len(data) > 5000, (p, len(data))


@pytest.fixture
def no_charts(monkeypatch):
    """For the tests of the tables only: skip drawing (the slow part)."""
    monkeypatch.setattr(rep, "charts_for_zone", lambda *a: [])


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return rep.report(full_results(), str(out), "2026-11-27-benchhost")


def test_full_files(full):
    assert full["markdown"].endswith("2026-11-27-benchhost.md")
    with open(full["markdown"]) as f:
        assert f.read() == full["table"]
    names = sorted(p.rsplit("/", 1)[1] for p in full["charts"])
    assert names == sorted(f"2026-11-27-benchhost-{k}-{z}.png"
                           for k in ("qps", "latency") for z in ("realistic", "1m"))
    check_pngs(full["charts"])
    for p in full["charts"]:
        assert f"]({p.rsplit('/', 1)[1]})" in full["table"]


def test_full_server_table(full):
    text = full["table"]
    rows = table_after(text, "### Per server", 0)
    assert list(rows) == ["appliance, direct stack (AF_PACKET) 0.1.0",
                          "appliance, socket stack 0.1.0", "NSD 4.6.1", "Knot 3.2.6",
                          "BIND 9.18.28"]
    ours = rows["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert ours["dnsperf qps (min-max)"] == "178,000 (175,000-180,000)"
    assert ours["kxdpgun loss-free qps (min-max)"] == "300,000 (290,000-310,000)"
    assert ours["CPU per query at 50,000/s (us)"] == "4.00"
    assert ours["softirq per query at 50,000/s (us)"] == "2.00"
    assert ours["server CPU at 50,000/s"] == "20.0%"
    assert ours["mean latency (ms)"] == "0.60"
    assert ours["p99 latency (ms)"] == "2.10"
    assert ours["dnsperf loss"] == "0.00%"
    assert ours["RSS"] == "19.5 MiB"
    assert MISSING_CELLS(rows) == []
    assert "Every figure is the median over the rounds" in text
    assert "`make bench`" in text
    assert "Test CPU 3000, 2 cores, Linux 6.1.0" in text
    assert "3 rounds of 10 s" in text
    assert "realistic zone (realistic.test., 1,234 records)" in text
    assert "1m zone (bench.test., 1,000,000 records)" in text


def MISSING_CELLS(rows):
    return [(k, c) for k, r in rows.items() for c, v in r.items() if v == "-"]


def test_full_ratios(full):
    text = full["table"]
    ratios = table_after(text, "### Ratios", 0)
    ours = ratios["appliance, direct stack (AF_PACKET) 0.1.0"]
    # By hand: loss-free medians 300,000 / 100,000; CPU per query 4.0 / 10.0; qps 178k / 133k.
    assert ours["loss-free / NSD"] == "x3.00"
    assert ours["CPU/query / NSD"] == "x0.40"
    assert ours["dnsperf qps / NSD"] == f"x{178000 / 133000:.2f}"
    assert ours["loss-free / BIND"] == f"x{300000 / 51000:.2f}"
    assert ours["loss-free / Knot"] == f"x{300000 / 118000:.2f}"
    # The ceiling is the median of 310k, 320k, 300k.
    assert ours["loss-free, % of ceiling"] == "97%"
    assert "310,000 (300,000-320,000) qps, median of 3 rounds" in text
    assert ratios["NSD 4.6.1"]["loss-free / NSD"] == "x1.00"
    assert len(ratios) == 5
    # The 1M zone has its own figures (scaled by 0.9): ratios stay, ceiling % changes.
    big = table_after(text, "### Ratios", 1)["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert big["loss-free / NSD"] == "x3.00"
    assert big["loss-free, % of ceiling"] == "87%"


def test_full_footprint(full):
    rows = table_after(full["table"], "## Footprint")
    ours = rows["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert ours["sealed image, realistic zone"] == "120.6 KiB"
    assert ours["sealed image, 1m zone"] == "143.1 MiB"
    assert ours["installed size (package closure)"] == "29.3 MiB"
    assert ours["memory at rest, 1M zone"] == "156.2 MiB"
    nsd = rows["NSD 4.6.1"]
    assert nsd["installed size (package closure)"] == "3.9 MiB"
    assert nsd["closure without required packages"] == "800.0 KiB"
    assert nsd["sealed image, realistic zone"] == "n/a"
    # The socket stack's memory at rest was not measured.
    assert rows["appliance, socket stack 0.1.0"]["memory at rest, 1M zone"] == "-"
    assert ("- memory at rest, 1M zone, appliance, socket stack 0.1.0: not measured."
            in full["table"])
    assert "NSD 4.6.1: 2 packages: nsd, libfoo1." in full["table"]


def test_smoke_with_nulls(tmp_path):
    results = smoke_results()
    why = results["settings"]["kxdpgun"]["why"]
    out = rep.report(results, str(tmp_path), "smoke")
    text = out["table"]
    check_pngs(out["charts"])
    assert sorted(c.rsplit("/", 1)[1] for c in out["charts"]) == [
        "smoke-latency-realistic.png", "smoke-qps-realistic.png"]    # none for the empty zone
    rows = table_after(text, "### Per server", 0)
    assert list(rows) == ["appliance, direct stack (AF_PACKET) 0.1.0", "NSD 4.6.1", "Knot 3.2.6"]
    ours, nsd, knot = rows.values()
    assert ours["dnsperf qps (min-max)"] == "180,000"      # one round: no range
    assert ours["kxdpgun loss-free qps (min-max)"] == "-"
    assert ours["p99 latency (ms)"] == "-"
    assert ours["CPU per query at 50,000/s (us)"] == "4.20"
    assert nsd["CPU per query at 50,000/s (us)"] == "-"
    assert nsd["RSS"] == "-"
    assert set(knot.values()) == {"Knot 3.2.6", "-"}
    # Each reason once, under the table.
    assert text.count(why) == 2     # the method line and the note for the zone with runs
    assert ("- kxdpgun loss-free qps (min-max), every server: kxdpgun not usable here: "
            + why + ".") in text
    assert "- p99 latency (ms), every server: the load generator gave no p99 latency." in text
    assert ("- CPU per query at 50,000/s (us), softirq per query at 50,000/s (us) and server CPU "
            "at 50,000/s, NSD 4.6.1: no fixed measurement recorded.") in text
    assert "- Knot 3.2.6: no runs recorded" in text
    ratios = table_after(text, "### Ratios", 0)
    assert list(ratios) == ["appliance, direct stack (AF_PACKET) 0.1.0", "NSD 4.6.1"]
    r = ratios["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert r["dnsperf qps / NSD"] == f"x{180000 / 135000:.2f}"
    assert r["loss-free / NSD"] == "-" and r["CPU/query / NSD"] == "-"
    assert r["dnsperf qps / Knot"] == "-"
    assert r["loss-free, % of ceiling"] == "-"
    assert "Harness ceiling" in text and "- (not measured)" in text
    assert text.split("## 1m zone (bench.test.)\n\n")[1].startswith(
        "No server has runs on this zone.\n\n## Footprint")
    assert "offered by dnsperf" in text


def test_partial_rounds_and_fixed_loss(tmp_path, no_charts):
    results = full_results()
    for r in results["runs"]:
        if r["server"] == "bind" and r["zone"] == "realistic":
            r["fixed"]["loss_pct"] = 3.5
            if r["round"] == 2:
                r["kxdpgun"] = {"loss_free_qps": None,
                                "trials": [{"rate": 50000, "loss_pct": 4.0},
                                           {"rate": 100000, "loss_pct": 30.0}]}
    results["runs"] = [r for r in results["runs"]
                       if not (r["server"] == "knot" and r["round"] == 1)]
    text = rep.report(results, str(tmp_path), "partial")["table"]
    bind = table_after(text, "### Per server", 0)["BIND 9.18.28"]
    assert bind["kxdpgun loss-free qps (min-max)"] == "51,000 (50,000-52,000)"
    assert "BIND 9.18.28: median of the 2 of 3 rounds that measured it" in text
    assert "BIND 9.18.28 lost 3.50% at 50,000/s" in text
    assert "Knot 3.2.6: 2 of 3 rounds." in text
    # With no usable round at all, the trials say why.
    for r in results["runs"]:
        if r["server"] == "bind" and r["zone"] == "realistic":
            r["kxdpgun"]["loss_free_qps"] = None
            r["kxdpgun"]["trials"] = [{"rate": 50000, "loss_pct": 4.0}]
    text = rep.report(results, str(tmp_path), "partial")["table"]
    assert "BIND 9.18.28: lost 1% or more at every trial rate (lowest 50,000/s)" in text


@pytest.mark.parametrize("results", [{}, {"runs": None, "servers": None}, {"runs": [{}]},
                                     {"runs": [{"zone": "z", "server": "s", "dnsperf": None}]}])
def test_degenerate_inputs(tmp_path, results):
    out = rep.report(results, str(tmp_path), "empty")
    assert out["table"].startswith("# ")
    check_pngs(out["charts"])


def test_charts_are_deterministic(tmp_path):
    results = smoke_results()
    a = rep.report(results, str(tmp_path / "a"), "x")
    b = rep.report(results, str(tmp_path / "b"), "x")
    for pa, pb in zip(a["charts"], b["charts"], strict=True):
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            data = fa.read()
            assert data == fb.read()
        assert b"Software" not in data and b"Creation" not in data
    assert a["table"] == b["table"]


def test_cli(tmp_path, capsys):
    src = tmp_path / "2026-11-27-benchhost.json"
    src.write_text(json.dumps(full_results()))
    assert rep.main([str(src), "--outdir", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "### Ratios" in printed
    assert (tmp_path / "out" / "2026-11-27-benchhost.md").is_file()
    assert (tmp_path / "out" / "2026-11-27-benchhost-qps-1m.png").is_file()
    # Without --outdir, beside the JSON.
    assert rep.main([str(src)]) == 0
    assert (tmp_path / "2026-11-27-benchhost-latency-realistic.png").is_file()


def test_harness_extras(tmp_path, no_charts):
    """Failed runs, a separate latency run, generator-bound rates, an interrupted smoke run."""
    results = full_results()
    results["interrupted"] = True
    results["settings"].update(smoke=True, latency_rate=10000)
    results["settings"].pop("client_cpu")
    for r in results["runs"]:
        if r["zone"] != "realistic":
            continue
        r["latency"] = {"qps": 10000, "latency_avg_ms": 0.25, "latency_p99_ms": 0.75}
        if r["server"] in ("ours-direct", "ours-socket"):
            r["kxdpgun"]["generator_bound"] = True
    results["runs"] = [r for r in results["runs"]
                       if not (r["server"] == "knot" and r["zone"] == "realistic")]
    results["runs"] += [{"zone": "realistic", "server": "knot", "round": i,
                         "error": "knotd exited with status 1\nmore detail"} for i in range(3)]
    results["runs"].append({"zone": "realistic", "server": "bind", "round": 3,
                            "error": "named: timed out"})
    results["ceiling"]["realistic"][1]["generator_bound"] = True
    text = rep.report(results, str(tmp_path), "extras")["table"]
    assert text.splitlines()[2] == "**Interrupted: these are partial results.**"
    assert "(smoke mode)" in text
    assert "load generators to the other CPU" in text
    rows = table_after(text, "### Per server", 0)
    ours = rows["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert ours["mean latency at 10,000/s (ms)"] == "0.25"
    assert ours["p99 latency at 10,000/s (ms)"] == "0.75"
    assert ours["kxdpgun loss-free qps (min-max)"] == "≥ 300,000 (290,000-310,000)"
    assert "kxdpgun could send no faster" in text
    assert set(rows["Knot 3.2.6"].values()) == {"Knot 3.2.6", "-"}
    assert "- Knot 3.2.6: failed: knotd exited with status 1." in text
    assert "- BIND 9.18.28: 1 of 4 rounds failed: named: timed out." in text
    # The 1m zone has no separate latency run: its columns are dnsperf's, titled as such.
    big = table_after(text, "### Per server", 1)["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert big["mean latency (ms)"] == "0.60"
    # A run of a zone with latency runs that lacks one shows "-", with the reason.
    results["runs"][0].pop("latency")
    other = rep.report(results, str(tmp_path), "extras2")["table"]
    assert table_after(other, "### Per server", 0)["appliance, direct stack (AF_PACKET) 0.1.0"][
        "mean latency at 10,000/s (ms)"] == "0.25"
    assert "median of the 2 of 3 rounds that measured it" in other
    ratios = table_after(text, "### Ratios", 0)
    r = ratios["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert r["loss-free / NSD"] == "≥ x3.00"
    assert r["loss-free / Knot"] == "-"
    assert ratios["NSD 4.6.1"]["loss-free / NSD"] == "x1.00"
    assert "≥ 310,000 (300,000-320,000) qps" in text
    assert r["loss-free, % of ceiling"] == "97%"


def test_both_generator_bound(tmp_path, no_charts):
    results = full_results()
    for r in results["runs"]:
        if r["server"] in ("ours-direct", "nsd"):
            r["kxdpgun"]["generator_bound"] = True
    text = rep.report(results, str(tmp_path), "bound")["table"]
    r = table_after(text, "### Ratios", 0)["appliance, direct stack (AF_PACKET) 0.1.0"]
    assert r["loss-free / NSD"] == "?"
    assert r["loss-free / Knot"] == "≥ x2.54"
    assert table_after(text, "### Ratios", 0)["Knot 3.2.6"]["loss-free / NSD"] == "≤ x1.18"
    assert r["loss-free, % of ceiling"] == "≥ 97%"
    assert "kxdpgun capped both loss-free rates" in text


def mangled(results, seed):
    """``results`` with fields nulled, dropped or of the wrong type, at random (fixed seed)."""
    rng = random.Random(seed)

    def walk(x):
        items = list(x.items()) if isinstance(x, dict) else list(enumerate(x))
        for k, v in items:
            r = rng.random()
            if r < 0.08:
                x[k] = None
            elif r < 0.10 and isinstance(x, dict):
                del x[k]
            elif r < 0.12:
                x[k] = rng.choice(["junk", 7, [1], {"a": 1}, True, float("nan")])
            elif isinstance(v, (dict, list)):
                walk(v)
    walk(results)
    return results


@pytest.mark.parametrize("seed", range(30))
def test_mangled_results_do_not_crash(tmp_path, no_charts, seed):
    out = rep.report(mangled(full_results(), seed), str(tmp_path), "m")
    assert out["table"].startswith("# ")


@pytest.mark.parametrize("seed", range(4))
def test_mangled_results_still_draw(tmp_path, seed):
    check_pngs(rep.report(mangled(smoke_results(), seed), str(tmp_path), "m")["charts"])
