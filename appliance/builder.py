"""Build a sealed image from zone files: load, validate, compile, write."""

import os
from dataclasses import dataclass

import zones
from zones import names
from zones.errors import ZoneError, ZoneProblem

from . import __version__, image
from .compiler import BuildOptions, Compiler, TableStats


@dataclass
class ZoneSource:
    path: str
    origin: str | None = None        # None: the file's $ORIGIN or its SOA owner


@dataclass
class BuildResult:
    path: str
    digest: str
    meta: dict
    stats: TableStats
    warnings: list


TYPE_NS, TYPE_DNAME = 2, 39


def load_zones(sources: list[ZoneSource]) -> tuple[list, list]:
    """Load every zone; raises zones.errors.ZoneError listing the problems of all of them."""
    loaded, warnings, problems = [], [], []
    for src in sources:
        try:
            z = zones.load(src.path, src.origin)
        except ZoneError as e:
            problems.extend(e.problems)
            continue
        loaded.append(z)
        warnings.extend(z.warnings)
        problems.extend(unsupported(z))
    seen = {}
    for z in loaded:
        k = names.key(z.origin)
        if k in seen:
            problems.append(ZoneProblem("zone %s is given twice (%s and %s)" % (
                names.to_text(z.origin), seen[k], z.files[0])))
        seen[k] = z.files[0]
    if problems:
        raise ZoneError(problems)
    return loaded, warnings


def unsupported(zone) -> list:
    """Valid zone data this appliance cannot serve as NSD would: refused rather than answered
    differently. DNAME needs per-query synthesis (RFC 6672), which the answer table does not do
    yet; NS at a wildcard is only a delegation for the literal "*" name (RFC 4592 4.2)."""
    out = []
    for (k, t), r in zone.rrsets.items():
        if t == TYPE_DNAME:
            out.append(ZoneProblem("DNAME at %s is not supported by this appliance (RFC 6672 "
                                   "synthesis is not implemented); use CNAME records"
                                   % names.to_text(r.name), r.where))
        elif t == TYPE_NS and k.startswith(b"\x01*") and k != names.key(zone.origin):
            out.append(ZoneProblem("NS at the wildcard %s is not supported (RFC 4592 4.2)"
                                   % names.to_text(r.name), r.where))
    return out


def table_for(loaded: list, options: BuildOptions | None = None) -> tuple[bytes, TableStats]:
    c = Compiler(loaded, options)
    table = c.build()
    return table, c.stats


def build(sources: list[ZoneSource], out: str, options: BuildOptions | None = None
          ) -> BuildResult:
    options = options or BuildOptions()
    loaded, warnings = load_zones(sources)
    table, stats = table_for(loaded, options)
    meta = {
        "builder": "appliance %s" % __version__,
        "zones": [{
            "origin": names.to_text(z.origin),
            "serial": z.serial,
            "records": z.record_count(),
            "rrsets": len(z.rrsets),
            "source_sha256": z.source_sha256,
            "files": [os.path.basename(f) for f in z.files],
        } for z in sorted(loaded, key=lambda z: names.to_text(z.origin))],
        "chaos": {"identity": options.identity, "version": options.version},
        "table": {"nodes": stats.nodes, "entries": stats.entries,
                  "variants": stats.variants, "bytes": stats.table_len,
                  "max_probe": stats.max_probe},
        "network": {"udp_size": 1232},
    }
    digest = image.write(out, table, meta)
    return BuildResult(out, digest, meta, stats, warnings)
