"""Footprints: what each server needs installed, our image's size, memory at rest.

**Debian package closures** (``debian_closure_kib``, ``closure_report``). The closure of a set of
packages is those packages, plus every package their ``Depends`` and ``Pre-Depends`` name,
recursively. An alternative (``a | b``) resolves to the first one installed, a virtual package
to the first installed package that ``Provides`` it (sorted by name). Version constraints are
not checked (dpkg already did). ``Recommends`` and ``Suggests`` are not counted (the peers are
installed with ``--no-install-recommends``). Sizes are dpkg's ``Installed-Size`` (KiB, the
maintainer's estimate of the unpacked files, from ``dpkg-query``), of installed packages only.

Packages every Debian system has are included in the closure (libc6, ...), so three numbers:
``closure_kib`` (everything), ``not_required_kib`` (without the packages marked
``Priority: required`` or ``Essential: yes``), and ``beyond_base_kib`` (without the closure of
those, i.e. roughly what a ``debootstrap --variant=minbase`` system already holds: libc6 is
``optional`` in bookworm but every required package depends on it).

**Ours** (``appliance_runtime``). ``appliance run`` needs a Python 3.11 and the run-time parts of
our package: appliance (cli, image, the engine and udpserver extensions), netstack, pvboot.
A fresh interpreter (``-S``: no site, no .pth hooks) imports what ``appliance run`` imports
(``appliance.runtime.RUNTIME_MODULES``, as in appliance/cli.py ``cmd_run``) and reports every
module file and every shared object mapped. Files dpkg owns count through their packages'
closure; the others ("loose" files: our own, and a pyenv interpreter's) by their size on
disk. dnslib is used at build time only; it is checked not to be imported. With Debian's
``/usr/bin/python3.11`` the only loose files are ours, so that row compares with the peers'
rows.

**Image** (``image_bytes``) and **memory at rest** (``rss_at_rest_kib``, ``pss_at_rest_kib``)
are measured by the harness on running servers. RSS summed over a server's processes counts
pages they share (NSD's forked server shares the zone with its parent) once per process; PSS
divides each shared page among its sharers, so its sum counts each page once.

``python -m bench.footprint [--json]`` prints the package table.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = {"NSD": ["nsd"], "Knot": ["knot"], "BIND": ["bind9"]}
DEBIAN_PYTHON = "/usr/bin/python3.11"
OUR_PACKAGES = ("appliance", "zones", "netstack", "pvboot")
FIELDS = ("Package", "Architecture", "db:Status-Status", "Installed-Size", "Priority",
          "Essential", "Depends", "Pre-Depends", "Provides")


@dataclass
class Pkg:
    name: str
    kib: int
    priority: str
    essential: bool
    depends: list[list[str]] = field(default_factory=list)   # groups of alternatives

    @property
    def base(self) -> bool:
        return self.priority == "required" or self.essential


def _names(text: str) -> list[list[str]]:
    """``a (>= 1), b:any | c`` -> [["a"], ["b", "c"]]."""
    groups = []
    for group in text.split(","):
        alts = [a.strip().split()[0].split(":")[0] for a in group.split("|") if a.strip()]
        if alts:
            groups.append(alts)
    return groups


class Dpkg:
    """The installed packages, as dpkg-query reports them (read once)."""

    def __init__(self):
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
        fmt = "\\t".join("${%s}" % f for f in FIELDS) + "\\n"
        out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True,
                             check=True).stdout
        self.pkgs: dict[str, Pkg] = {}
        self.providers: dict[str, list[str]] = {}
        for line in out.splitlines():
            name, a, status, size, prio, ess, dep, pre, prov = line.split("\t")
            if status != "installed" or a not in (arch, "all"):
                continue
            self.pkgs[name] = Pkg(name, int(size or 0), prio, ess == "yes",
                                  _names(pre) + _names(dep))
            for (virtual,) in _names(prov):
                self.providers.setdefault(virtual, []).append(name)
        for v in self.providers.values():
            v.sort()

    def resolve(self, alts: list[str]) -> str | None:
        """The installed package that satisfies one dependency group, if any."""
        for a in alts:
            if a in self.pkgs:
                return a
            for p in self.providers.get(a, ()):
                return p
        return None

    def closure(self, roots) -> tuple[list[str], list[list[str]]]:
        """The closure of ``roots`` (sorted) and the dependency groups nothing installed meets."""
        missing = [r for r in roots if r not in self.pkgs]
        if missing:
            raise ValueError("not installed: %s" % " ".join(missing))
        seen, todo, unmet = set(roots), list(roots), []
        while todo:
            for group in self.pkgs[todo.pop()].depends:
                p = self.resolve(group)
                if p is None:
                    unmet.append(group)
                elif p not in seen:
                    seen.add(p)
                    todo.append(p)
        return sorted(seen), unmet

    def base(self) -> set[str]:
        """The closure of every installed package marked required or essential."""
        return set(self.closure([p.name for p in self.pkgs.values() if p.base])[0])

    def kib(self, names) -> int:
        return sum(self.pkgs[n].kib for n in names)


_DPKG: Dpkg | None = None


def dpkg() -> Dpkg:
    global _DPKG
    if _DPKG is None:
        _DPKG = Dpkg()
    return _DPKG


def debian_closure_kib(packages, exclude_required: bool = False) -> tuple[int, list[str]]:
    """Installed-Size (KiB) of ``packages`` and their Depends/Pre-Depends closure, and the
    packages counted (sorted). ``exclude_required`` leaves out those marked required/essential."""
    d = dpkg()
    names, _ = d.closure(list(packages))
    if exclude_required:
        names = [n for n in names if not d.pkgs[n].base]
    return d.kib(names), names


def closure_report(packages, loose_kib: int = 0) -> dict:
    """The three closure sizes of ``packages`` (KiB), plus ``loose_kib`` of files no package
    owns, added to each."""
    d = dpkg()
    names, unmet = d.closure(list(packages))
    base = d.base()
    return {
        "roots": sorted(packages),
        "own_kib": d.kib(packages) + loose_kib,
        "closure_kib": d.kib(names) + loose_kib,
        "not_required_kib": d.kib(n for n in names if not d.pkgs[n].base) + loose_kib,
        "beyond_base_kib": d.kib(n for n in names if n not in base) + loose_kib,
        "packages": names,
        "unmet": unmet,
    }


# -- ours -------------------------------------------------------------------------------------

def runtime_files(python: str = DEBIAN_PYTHON) -> dict:
    """What ``python`` loads to run the appliance (appliance/runtime.py, the same census the
    VM image is built from), with the interpreter itself: {"version", "files"}."""
    from appliance import runtime
    info = runtime.runtime_files(python)      # refuses dnslib or the zone reader at run time
    info["files"].append(os.path.realpath(info["executable"]))
    return info


def owners(paths) -> dict[str, str]:
    """{path: package} for the paths dpkg owns (also across the /lib -> /usr/lib merge)."""
    cands = {}
    for p in paths:
        cands[p] = p
        if p.startswith("/usr/lib/") or p.startswith("/usr/bin/"):
            cands[p[4:]] = p
    out = subprocess.run(["dpkg-query", "-S", *cands], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        pkgs, _, path = line.partition(": ")
        if path in cands and "diversion" not in pkgs:
            found[cands[path]] = pkgs.split(",")[0].split(":")[0]
    return found


def _kib(paths) -> int:
    return (sum(os.path.getsize(p) for p in paths) + 1023) // 1024


def stripped_kib(paths) -> int | None:
    """The size of ``paths`` with shared objects stripped (``strip -o`` into a temporary
    directory), as Debian ships its binaries; None without binutils' strip."""
    if not shutil.which("strip"):
        return None
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for p in paths:
            if ".so" in os.path.basename(p):
                out = os.path.join(tmp, "s.so")
                subprocess.run(["strip", "-o", out, p], check=True, capture_output=True)
                total += os.path.getsize(out)
            else:
                total += os.path.getsize(p)
    return (total + 1023) // 1024


def appliance_runtime(python: str = DEBIAN_PYTHON) -> dict:
    """Our run-time footprint under ``python``: closure_report of the packages owning the files
    it loads, with the loose files (ours, and a non-Debian interpreter's) added by size."""
    info = runtime_files(python)
    owned = owners(info["files"])
    loose = [f for f in info["files"] if f not in owned]
    ours = [f for f in loose if os.path.relpath(f, ROOT).split(os.sep)[0] in OUR_PACKAGES]
    report = closure_report(sorted(set(owned.values())), _kib(loose))
    report.update(python=python, python_version=info["version"], own_kib=_kib(ours),
                  own_stripped_kib=stripped_kib(ours),
                  our_files=[os.path.relpath(f, ROOT) for f in ours],
                  other_loose_kib=_kib(set(loose) - set(ours)))
    return report


# -- image and memory ---------------------------------------------------------------------------

def image_bytes(path: str) -> int:
    """The size of a sealed image file, or of every file in a ``--target`` directory."""
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def _status_kib(pid: int, path: str, key: str) -> int:
    try:
        with open("/proc/%d/%s" % (pid, path)) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except FileNotFoundError:
        raise ProcessLookupError("no process %d" % pid) from None
    return 0            # a kernel thread has no memory of its own


def rss_at_rest_kib(pids) -> int:
    """The sum of VmRSS (KiB) over ``pids``."""
    return sum(_status_kib(p, "status", "VmRSS:") for p in pids)


def pss_at_rest_kib(pids) -> int:
    """The sum of Pss (KiB) over ``pids``: shared pages counted once in all."""
    return sum(_status_kib(p, "smaps_rollup", "Pss:") for p in pids)


# -- the table ----------------------------------------------------------------------------------

def package_rows(pythons=(DEBIAN_PYTHON, sys.executable)) -> list[dict]:
    """The peers' closures, then ours under each interpreter in ``pythons``."""
    rows = [dict(closure_report(pkgs), server=name) for name, pkgs in PEERS.items()]
    for py in pythons:
        r = appliance_runtime(py)
        rows.append(dict(r, server="appliance (%s, Python %s)" % (py, r["python_version"])))
    return rows


def markdown(rows) -> str:
    def mib(k):
        return "%.1f" % (k / 1024)
    out = ["| server | Debian packages | closure (MiB) | without required/essential (MiB) "
           "| beyond minbase (MiB) | own (MiB) |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        own = mib(r["own_kib"])
        if r.get("own_stripped_kib"):
            own += " (%s stripped)" % mib(r["own_stripped_kib"])
        out.append("| %s | %d | %s | %s | %s | %s |" % (
            r["server"], len(r["packages"]), mib(r["closure_kib"]), mib(r["not_required_kib"]),
            mib(r["beyond_base_kib"]), own))
    out.append("")
    out.append("Closure: the packages and their Depends/Pre-Depends, recursively (dpkg's "
               "Installed-Size). Minbase: the closure of the packages marked required or "
               "essential. Ours: the Debian packages owning the files `appliance run` loads, "
               "plus the files no package owns (our package; with a non-Debian Python, also "
               "its interpreter and standard library) by their size; own: our package's files.")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.footprint",
                                description=__doc__.split("\n")[0])
    p.add_argument("--python", action="append", metavar="PATH",
                   help="an interpreter to measure our row with (repeatable; default: %s and "
                   "this one, %s)" % (DEBIAN_PYTHON, sys.executable))
    p.add_argument("--json", action="store_true", help="every figure and package, as JSON")
    args = p.parse_args(argv)
    rows = package_rows(args.python or (DEBIAN_PYTHON, sys.executable))
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    else:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
