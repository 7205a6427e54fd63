"""Build a sealed image from zone files: load, validate, compile, write."""

import os
from dataclasses import dataclass

import zones
from zones import names

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


def load_zones(sources: list[ZoneSource]) -> tuple[list, list]:
    """Load every zone; raises zones.errors.ZoneError listing the problems of all of them."""
    from zones.errors import ZoneError

    loaded, warnings, problems = [], [], []
    for src in sources:
        try:
            z = zones.load(src.path, src.origin)
        except ZoneError as e:
            problems.extend(e.problems)
            continue
        loaded.append(z)
        warnings.extend(z.warnings)
    seen = {}
    for z in loaded:
        k = names.key(z.origin)
        if k in seen:
            from zones.errors import ZoneProblem
            problems.append(ZoneProblem("zone %s is given twice (%s and %s)" % (
                names.to_text(z.origin), seen[k], z.files[0])))
        seen[k] = z.files[0]
    if problems:
        raise ZoneError(problems)
    return loaded, warnings


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
