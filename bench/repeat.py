"""Run the benchmarks N times pinned to one CPU and record the median of each number.

``python -m bench.repeat --runs 5 --cpu 1 [-- PYTEST_ARGS...]`` from the repository root. Each
run writes its own JSON (``BENCH_RESULTS``); the medians replace the matching entries of
``bench/results/engine-and-build.json``, with ``runs`` and the per-run values of the headline
number (answers/s, build seconds) kept beside them.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from bench import results

HEADLINE = {"engine": "answers_per_s", "build": "build_s"}


def median_entry(values: list[dict]) -> dict:
    """Field by field: the median of numbers, the common value of the rest."""
    out = {}
    for field in values[0]:
        vs = [v[field] for v in values if field in v]
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vs):
            m = statistics.median(vs)
            out[field] = round(m) if all(isinstance(x, int) for x in vs) else round(m, 1)
        else:
            out[field] = vs[-1]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.repeat", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cpu", default="1", help="CPU list for taskset (default 1)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER,
                   help="after --: more pytest arguments, e.g. -m 'not huge' or a file")
    args = p.parse_args(argv)
    extra = [a for a in args.pytest_args if a != "--"] or [os.path.join(results.HERE)]
    taskset = shutil.which("taskset")
    if taskset is None:
        print("taskset not found: the runs are not pinned", file=sys.stderr)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp:
        for i in range(args.runs):
            out = os.path.join(tmp, "run%d.json" % i)
            cmd = ([taskset, "-c", args.cpu] if taskset else []) + [
                sys.executable, "-m", "pytest", "-q", "--benchmark-only",
                "-p", "no:cacheprovider", *extra]
            print("run %d/%d: %s" % (i + 1, args.runs, " ".join(cmd)), flush=True)
            rc = subprocess.call(cmd, cwd=results.ROOT, env=dict(os.environ, BENCH_RESULTS=out))
            if rc != 0:
                print("run %d failed (exit %d): nothing recorded" % (i + 1, rc), file=sys.stderr)
                return rc
            runs.append(results.load(out))

    data = results.load(results.DEFAULT)
    for section, headline in HEADLINE.items():
        for key in sorted({k for r in runs for k in r.get(section, {})}):
            values = [r[section][key] for r in runs if key in r.get(section, {})]
            entry = median_entry(values)
            entry["runs"] = len(values)
            entry[headline + "_runs"] = [v[headline] for v in values]
            data.setdefault(section, {})[key] = entry
    data["machine"] = runs[-1]["machine"]
    results.save(data, results.DEFAULT)
    for section, headline in HEADLINE.items():
        for key, entry in sorted(data.get(section, {}).items()):
            print("%-6s %-18s %s %s (median of %d)" % (
                section, key, headline, entry[headline], entry["runs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
