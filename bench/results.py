"""The benchmarks' record: one small JSON file, each run replacing the entries it measured.

``BENCH_RESULTS`` in the environment points a run at another file (``bench/repeat.py`` gives
each repetition its own, then writes the medians here).
"""

import json
import os
import platform
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT = os.path.join(HERE, "results", "engine-and-build.json")


def path() -> str:
    return os.environ.get("BENCH_RESULTS") or DEFAULT


def load(file: str | None = None) -> dict:
    try:
        with open(file or path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save(data: dict, file: str | None = None):
    file = file or path()
    os.makedirs(os.path.dirname(file), exist_ok=True)
    tmp = file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, file)


def update(section: str, key: str, value: dict):
    """Replace one measurement (``section``/``key``) and the machine description."""
    data = load()
    data.setdefault(section, {})[key] = dict(value, runs=1,
                                             cpus_used=sorted(os.sched_getaffinity(0)))
    data["machine"] = machine()
    save(data)


def machine() -> dict:
    """Where the numbers come from: CPU model, CPUs, the CPUs we may run on, kernel, Python."""
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": _commit(),
    }


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True,
                               check=False).stdout.strip()
    except OSError:
        return "?"
    return head + ("+dirty" if dirty else "") if head else "?"
