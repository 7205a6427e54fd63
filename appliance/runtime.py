"""What `appliance run` needs at run time: its modules, and the files the interpreter loads.

The VM image ships exactly these (appliance/vmimage.py) and bench/footprint.py measures them.
The list is runpy (the launcher runs appliance.cli as __main__) and the imports of
cli.cmd_run's paths, plus what its command-line parsing imports lazily; the files are found by
importing them in a fresh isolated interpreter and reading sys.modules and /proc/self/maps.
dnslib and the zone reader are build-time only and must not appear. OpenSSL's _hashlib is left
out on purpose: hashlib falls back to the built-in _sha256, which is all the image check needs.
"""

import json
import os
import subprocess
import sys

RUNTIME_MODULES = ("runpy", "appliance.cli", "appliance.engine", "appliance.image",
                   "appliance.udpserver", "netstack.stack", "pvboot.netdev", "ipaddress",
                   "functools", "re", "argparse", "json", "hashlib", "socket")
LEFT_OUT = ("_hashlib", "_ssl")
BUILD_TIME_ONLY = ("dnslib", "zones")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PROBE = r"""
import sys
for m in sys.argv[2:]:
    sys.modules[m] = None
for m in sys.argv[1].split(","):
    __import__(m)
# what the run path imports lazily: argparse's messages (gettext -> locale), its help and usage
# formatting (shutil), as on a command line the VM image's launcher makes
from appliance import cli
parser = cli.make_parser()
parser.format_help()
parser.parse_args(["run", "/appliance.img", "--netdev", "afpacket:eth0", "--ip",
                   "198.18.9.15/24", "--gateway", "198.18.9.2", "--report", "60"])
files = {getattr(m, "__file__", None) for m in list(sys.modules.values()) if m is not None}
with open("/proc/self/maps") as f:
    for line in f:
        p = line.split(None, 5)[-1].strip()
        if p.startswith("/") and ".so" in p:
            files.add(p)
bad = sorted(m for m in sys.modules if m.split(".")[0] in %r)
import json  # noqa: E402
json.dump({"version": sys.version.split()[0], "executable": sys.executable,
           "build_time_modules": bad, "files": sorted(f for f in files if f)}, sys.stdout)
""" % (BUILD_TIME_ONLY,)


def runtime_files(python: str = sys.executable) -> dict:
    """{"version", "executable", "files"}: every file ``python`` loads to run the appliance."""
    env = {"PYTHONPATH": ROOT, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    p = subprocess.run([python, "-S", "-c", _PROBE, ",".join(RUNTIME_MODULES), *LEFT_OUT],
                       capture_output=True, text=True, env=env, cwd="/")
    if p.returncode != 0:
        raise RuntimeError("%s cannot import the appliance: %s" % (
            python, (p.stderr.strip().splitlines() or ["?"])[-1]))
    info = json.loads(p.stdout)
    if info["build_time_modules"]:
        raise RuntimeError("build-time modules imported at run time: %s"
                           % ", ".join(info["build_time_modules"]))
    info["files"] = [os.path.realpath(f) for f in info["files"]]
    return info
