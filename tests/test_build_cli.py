"""`appliance build`: what it accepts, what it refuses, and how it says so."""

import os
import subprocess
import sys

import pytest

from tests.conftest import EX

APPLIANCE = [sys.executable, "-m", "appliance.cli"]
GOOD = """$ORIGIN t.test.
$TTL 300
@ SOA ns h 1 2 3 4 60
@ NS ns
ns A 198.18.0.1
"""


def run(*args, cwd=None):
    return subprocess.run(APPLIANCE + list(args), capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def no_traceback(p):
    assert "Traceback" not in p.stderr + p.stdout


def test_build_and_inspect(tmp_path):
    img = tmp_path / "x.img"
    p = run("build", os.path.join(EX, "example.com.zone"), "-o", str(img))
    assert p.returncode == 0, p.stderr
    assert "example.com. (serial 2026112701" in p.stdout and "sha256" in p.stdout
    assert img.exists()


def test_zone_option_sets_the_origin(tmp_path):
    f = tmp_path / "plain.zone"
    f.write_text("$TTL 300\n@ SOA ns h 1 2 3 4 60\n@ NS ns\nns A 198.18.0.1\n")
    p = run("build", "--zone", "plain.test=%s" % f, "-o", str(tmp_path / "p.img"))
    assert p.returncode == 0, p.stderr
    assert "plain.test." in p.stdout


def test_bad_zone_is_refused_with_file_and_line(tmp_path):
    f = tmp_path / "bad.zone"
    f.write_text(GOOD + "www A 999.1.1.1\nwww CNAME other\nx.*.y A 198.18.0.2\n")
    p = run("build", str(f), "-o", str(tmp_path / "b.img"))
    assert p.returncode == 1
    no_traceback(p)
    lines = p.stderr.strip().splitlines()
    assert any(ln.startswith("%s:6:" % f) for ln in lines), p.stderr
    assert any(ln.startswith("%s:8:" % f) for ln in lines), p.stderr
    assert lines[-1].startswith("appliance: build refused")
    assert not (tmp_path / "b.img").exists()


def test_dname_and_wildcard_ns_are_refused(tmp_path):
    f = tmp_path / "d.zone"
    f.write_text(GOOD + "old DNAME new.t.test.\n*.w NS ns\n")
    p = run("build", str(f), "-o", str(tmp_path / "d.img"))
    assert p.returncode == 1
    no_traceback(p)
    assert "%s:6: DNAME at old.t.test. is not supported" % f in p.stderr
    assert "%s:7: NS at the wildcard" % f in p.stderr


def test_same_zone_twice_is_refused(tmp_path):
    f = tmp_path / "t.zone"
    f.write_text(GOOD)
    p = run("build", str(f), str(f), "-o", str(tmp_path / "t.img"))
    assert p.returncode == 1 and "given twice" in p.stderr
    no_traceback(p)


def test_warnings_do_not_stop_the_build(tmp_path):
    f = tmp_path / "w.zone"
    f.write_text(GOOD + "www 300 A 198.18.0.5\nwww 600 A 198.18.0.6\nwww A 198.18.0.5\n")
    p = run("build", str(f), "-o", str(tmp_path / "w.img"))
    assert p.returncode == 0, p.stderr
    assert "warning" in p.stderr and "%s:7" % f in p.stderr


@pytest.mark.parametrize("args", [
    ["build", "/nonexistent/zone", "-o", "/tmp/never.img"],
    ["build", "-o", "/tmp/never.img"],
    ["build", "--zone", "noequals", "-o", "/tmp/never.img"],
    ["inspect", "/nonexistent.img"],
    ["check-zone", "/nonexistent/zone"],
])
def test_usage_errors_are_one_line(args):
    p = run(*args)
    assert p.returncode != 0
    no_traceback(p)
    assert len(p.stderr.strip().splitlines()) <= 2, p.stderr


def test_build_into_unwritable_place_is_one_line(tmp_path):
    p = run("build", os.path.join(EX, "example.net.zone"), "-o", "/proc/nope/x.img")
    assert p.returncode == 1
    no_traceback(p)
    assert p.stderr.strip() == ("appliance: /proc/nope/x.img: cannot write: "
                                "No such file or directory")


def test_check_zone_on_examples():
    p = run("check-zone", *[os.path.join(EX, f) for f in sorted(os.listdir(EX))])
    assert p.returncode == 0, p.stderr
    assert p.stdout.count(" is ok") == len(os.listdir(EX))


def test_a_closed_pipe_is_a_quiet_stop(tmp_path):
    """`appliance inspect IMG | head -1`: no internal error when the reader has gone."""
    img = tmp_path / "x.img"
    assert run("build", os.path.join(EX, "example.com.zone"), "-o", str(img)).returncode == 0
    r, w = os.pipe()
    os.close(r)                                  # the reader has gone before the first write
    try:
        p = subprocess.run(APPLIANCE + ["inspect", str(img)], stdout=w, stderr=subprocess.PIPE,
                           text=True, timeout=60)
    finally:
        os.close(w)
    assert p.returncode == 1 and p.stderr == "", p.stderr
