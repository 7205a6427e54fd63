"""The linters pass: ruff over the Python, cython-lint over the Cython (STYLE.md 10)."""

import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def test_ruff():
    p = subprocess.run([os.path.join(BIN, "ruff"), "check", "."], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_cython_lint():
    files = sorted(glob.glob(os.path.join(ROOT, "*", "*.pyx"))
                   + glob.glob(os.path.join(ROOT, "*", "*.pxd")))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    p = subprocess.run([os.path.join(BIN, "cython-lint"), *files], cwd=ROOT,
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
