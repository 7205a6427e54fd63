"""The sealed image: reproducible builds, verified opening, refusal of a changed byte."""

import os
import shutil
import subprocess
import sys

import pytest

from appliance import image
from appliance.builder import ZoneSource, build
from appliance.compiler import BuildOptions
from appliance.engine import Engine
from tests.dnsq import ask

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "zones", "examples")
APPLIANCE = [sys.executable, "-m", "appliance.cli"]


def example_sources():
    return [ZoneSource(os.path.join(EXAMPLES, f)) for f in
            ("example.com.zone", "example.net.zone", "sub.example.com.zone", "example.zone")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("img")
    path = str(d / "a.img")
    res = build(example_sources(), path, BuildOptions(identity="x"))
    return path, res


def test_build_is_reproducible(built, tmp_path):
    path, res = built
    # same inputs, other directory, other order on the command line: the same bytes
    copies = tmp_path / "zones"
    shutil.copytree(EXAMPLES, copies)
    other = str(tmp_path / "b.img")
    srcs = [ZoneSource(str(copies / os.path.basename(s.path)))
            for s in reversed(example_sources())]
    res2 = build(srcs, other, BuildOptions(identity="x"))
    assert open(path, "rb").read() == open(other, "rb").read()
    assert res.digest == res2.digest


def test_open_verifies_and_serves(built):
    path, res = built
    img = image.open_image(path)
    try:
        assert img.digest == res.digest
        assert {z["origin"] for z in img.meta["zones"]} == {
            "example.com.", "example.net.", "sub.example.com.", "example."}
        e = Engine(img.table)
        assert ask(e, "www.example.com", "A").header.aa == 1
    finally:
        del e
        img.close()


@pytest.mark.parametrize("where", ["header", "meta", "table", "end", "digest"])
def test_any_changed_byte_is_refused(built, tmp_path, where):
    path, _ = built
    data = bytearray(open(path, "rb").read())
    table_off = int.from_bytes(data[24:32], "little")
    pos = {"header": 12, "meta": 40, "table": table_off + 100, "end": len(data) - 40,
           "digest": len(data) - 1}[where]
    data[pos] ^= 0x01
    bad = tmp_path / "bad.img"
    bad.write_bytes(bytes(data))
    with pytest.raises(image.ImageError):
        image.open_image(str(bad))
    # and the CLI says so in one line, exit 1, no traceback
    for cmd in (["inspect", str(bad)], ["run", str(bad), "--listen", "127.0.0.1:15999"]):
        p = subprocess.run(APPLIANCE + cmd, capture_output=True, text=True, timeout=30)
        assert p.returncode == 1, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
        assert "bad.img" in p.stderr


def test_truncated_and_foreign_files_are_refused(built, tmp_path):
    path, _ = built
    data = open(path, "rb").read()
    for name, content in (("short.img", data[:100]), ("empty.img", b""),
                          ("text.img", b"hello world\n" * 100)):
        f = tmp_path / name
        f.write_bytes(content)
        with pytest.raises(image.ImageError):
            image.open_image(str(f))
    with pytest.raises(image.ImageError):
        image.open_image(str(tmp_path / "missing.img"))


def test_inspect_prints_zones_serials_sizes_hash(built):
    path, res = built
    p = subprocess.run(APPLIANCE + ["inspect", path], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert res.digest in out
    assert "example.com. serial 2026112701" in out
    assert "sub.example.com. serial 7" in out
    assert "records" in out and "table" in out
