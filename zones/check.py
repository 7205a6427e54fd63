"""``appliance check-zone FILE... [--origin ORIGIN]``: report on zone files like nsd-checkzone.

For each file: problems and warnings go to stderr as ``file:line: message`` and
``file:line: warning: message``; then, on stdout as nsd-checkzone does, ``zone ORIGIN is ok``
or ``zone ORIGIN file FILE has N errors`` (NSD's wording, kept for scripts that read it).
Exit status: 0 if every file is ok, 1 if any has problems, 2 for bad usage or an internal fault.
"""

import argparse
import sys

from . import load, names
from .errors import ZoneError


def _zone_name(origin: bytes | None, fallback: str | None) -> str:
    if origin is None:
        return fallback or "?"
    text = names.to_text(origin)
    return text if text == "." else text[:-1]


def _line(item, path: str) -> str:
    return str(item) if item.where is not None else "%s: %s" % (path, item)


def check_file(path: str, origin: str | None, out=None, err=None) -> bool:
    """Report on one zone file; true if it is ok."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        zone = load(path, origin)
    except ZoneError as e:
        for item in e.warnings + e.problems:
            print(_line(item, path), file=err)
        print("zone %s file %s has %d errors" % (_zone_name(e.origin, origin), path,
                                                 len(e.problems)), file=out)
        return False
    for warning in zone.warnings:
        print(_line(warning, path), file=err)
    print("zone %s is ok" % _zone_name(zone.origin, origin), file=out)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="appliance check-zone",
        description="Check zone files the way nsd-checkzone does; exit 0 if all are ok.")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--origin", help="the zone's origin (default: its SOA owner, then the"
                                         " first $ORIGIN)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    status = 0
    for path in args.files:
        try:
            if not check_file(path, args.origin):
                status = max(status, 1)
        except Exception as e:  # a fault of ours, not of the zone: one line, never a traceback
            print("%s: internal error: %s: %s" % (path, type(e).__name__, e), file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
