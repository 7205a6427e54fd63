"""`appliance bench --smoke`: the harness end to end in a small way (two servers, 2 s each,
one round): the JSON, the table and the charts are produced and every server answered."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_bench_smoke(tmp_path):
    p = subprocess.run([sys.executable, "-m", "appliance.cli", "bench", "--smoke", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    files = sorted(os.listdir(tmp_path))
    (js,) = [f for f in files if f.endswith(".json")]
    results = json.loads((tmp_path / js).read_text())
    runs = results["runs"]
    assert {r["server"] for r in runs} == {"ours-direct", "nsd"}
    for r in runs:
        assert "error" not in r, r["error"]
        what = (r["server"], r["dnsperf"], r["fixed"], r["latency"])
        assert r["dnsperf"]["completed"] > 1000 and r["dnsperf"]["loss_pct"] < 1.0, what
        assert r["fixed"]["answered"] > 1000 and r["fixed"]["cpu_us_per_query"] > 0, what
        assert r["latency"]["latency_p99_ms"] is not None, what
    md = [f for f in files if f.endswith(".md")]
    assert md and "appliance, direct stack" in (tmp_path / md[0]).read_text()
    pngs = [f for f in files if f.endswith(".png")]
    assert len(pngs) == 2
    for f in pngs:
        assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the topology is gone
    assert not [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                            text=True).stdout.split() if ns.startswith("ab")]


@pytest.mark.slow
def test_boot_bench_measures_both_images(tmp_path):
    """`appliance bench --boot --boots 1`: our VM image and the NSD appliance both boot under
    QEMU TCG and answer; boot times and sizes are reported side by side."""
    p = subprocess.run([sys.executable, "-m", "appliance.cli", "bench", "--boot", "--boots", "1",
                        "--out", str(tmp_path), "--no-readme"],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    (js,) = [f for f in os.listdir(tmp_path) if f.endswith("-boot.json")]
    res = json.loads((tmp_path / js).read_text())
    for k in ("ours", "nsd"):
        im = res["images"][k]
        assert im["boot_median_s"] > 0 and im["initrd_bytes"] > 0, im
        assert im["total_bytes"] == im["kernel_bytes"] + im["initrd_bytes"]
    assert res["images"]["ours"]["kernel_bytes"] == res["images"]["nsd"]["kernel_bytes"]
    md = (tmp_path / js.replace(".json", ".md")).read_text()
    assert "time to first answer" in md and "200 kB" in md and "hundreds of MB" in md
