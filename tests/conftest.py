"""Fixtures shared across test files: the example zone set, an engine over it, a real NSD."""

import os
import random

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EX = os.path.join(ROOT, "zones", "examples")
DIFF = os.path.join(HERE, "zones", "diff")

# The differential zone set: the examples plus edge cases kept for the NSD comparison.
DIFF_ZONES = {
    "example.com.": os.path.join(EX, "example.com.zone"),
    "example.net.": os.path.join(EX, "example.net.zone"),
    "sub.example.com.": os.path.join(EX, "sub.example.com.zone"),
    "example.": os.path.join(EX, "example.zone"),
}
if os.path.isdir(DIFF):
    for _f in sorted(os.listdir(DIFF)):
        if _f.endswith(".zone"):
            DIFF_ZONES[_f[:-len("zone")]] = os.path.join(DIFF, _f)

IDENTITY = "appliance-test"


def free_nsd_port() -> int:
    return 15300 + random.Random(os.getpid()).randrange(0, 90)


@pytest.fixture(scope="session")
def nsd():
    """A real NSD serving DIFF_ZONES on loopback (rrl off), as the reference."""
    from tests.nsdpeer import NSDPeer
    NSDPeer.ensure_installed()
    with NSDPeer(DIFF_ZONES, port=free_nsd_port(), identity=IDENTITY, version=None) as peer:
        yield peer


@pytest.fixture(scope="session")
def diff_table():
    from appliance.builder import ZoneSource, load_zones, table_for
    from appliance.compiler import BuildOptions
    loaded, _ = load_zones([ZoneSource(p, o) for o, p in DIFF_ZONES.items()])
    table, _ = table_for(loaded, BuildOptions(identity=IDENTITY))
    return table


@pytest.fixture(scope="session")
def engine(diff_table):
    from appliance.engine import Engine
    return Engine(diff_table)


@pytest.fixture(scope="session")
def diff_image(tmp_path_factory):
    """The differential zone set as a sealed image file."""
    from appliance.builder import ZoneSource, build
    from appliance.compiler import BuildOptions
    path = str(tmp_path_factory.mktemp("diffimg") / "diff.img")
    build([ZoneSource(p, o) for o, p in DIFF_ZONES.items()], path,
          BuildOptions(identity=IDENTITY))
    return path


def build_vm(out_dir, target, *extra):
    """`appliance build` of DIFF_ZONES as a VM image directory; returns the CLI's output."""
    import subprocess
    import sys
    args = [sys.executable, "-m", "appliance.cli", "build", "--identity", IDENTITY,
            "--target", target, "-o", str(out_dir), *extra]
    for origin, path in DIFF_ZONES.items():
        args += ["--zone", "%s=%s" % (origin, path)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


@pytest.fixture(scope="session")
def vm_qemu_dir(tmp_path_factory):
    """DIFF_ZONES as a QEMU VM image (counters on the console every 2 s)."""
    d = tmp_path_factory.mktemp("vm-qemu")
    build_vm(d, "qemu", "--report", "2")
    return str(d)
