"""The zone model: what the reader produces and the compiler consumes.

A :class:`Zone` holds RRsets keyed by (lower-cased wire owner, type). RDATA is kept as
uncompressed wire bytes, names inside it in the case they were written; the compiler knows
where names sit inside the RDATA of the types it compresses or follows (NS, CNAME, MX, ...).
Nothing here knows about answers or the wire format of messages.
"""

from dataclasses import dataclass, field

from . import names

CLASS_IN = 1

# Types the zone model itself needs to recognise.
TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_MX = 15
TYPE_AAAA = 28
TYPE_DS = 43
TYPE_DNAME = 39


@dataclass(frozen=True)
class Where:
    """A place in the zone's source text."""

    file: str
    line: int

    def __str__(self) -> str:
        return "%s:%d" % (self.file, self.line)


@dataclass
class RRset:
    """All records of one owner, type and class. ``rdatas`` keep zone-file order, no duplicates."""

    name: bytes          # owner, wire format, case as first written
    rtype: int
    rclass: int
    ttl: int             # the lowest TTL of its records (RFC 2181 5.2)
    rdatas: list[bytes]  # uncompressed wire RDATA, one per record
    where: Where         # where the first record of the set was written


@dataclass
class Zone:
    """One zone: its origin, its RRsets and what the reader noticed on the way."""

    origin: bytes                                   # wire format
    rrsets: dict[tuple[bytes, int], RRset] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every file read, includes in order
    source_sha256: str = ""                         # over the bytes of every file read, in order
    warnings: list = field(default_factory=list)    # zones.errors.ZoneWarning

    @property
    def soa(self) -> RRset:
        return self.rrsets[(names.key(self.origin), TYPE_SOA)]

    @property
    def serial(self) -> int:
        rdata = self.soa.rdatas[0]
        i = _skip_name(rdata, 0)
        i = _skip_name(rdata, i)
        return int.from_bytes(rdata[i:i + 4], "big")

    def get_rrset(self, name: bytes, rtype: int):
        return self.rrsets.get((names.key(name), rtype))

    def owners(self) -> dict[bytes, list[RRset]]:
        """RRsets grouped by lower-cased owner, in the order the owners first appear."""
        out: dict[bytes, list[RRset]] = {}
        for (k, _t), rrset in self.rrsets.items():
            out.setdefault(k, []).append(rrset)
        return out

    def record_count(self) -> int:
        return sum(len(r.rdatas) for r in self.rrsets.values())


def _skip_name(wire: bytes, i: int) -> int:
    while wire[i]:
        i += 1 + wire[i]
    return i + 1


def rdata_name(rdata: bytes, offset: int = 0) -> bytes:
    """The uncompressed wire name that starts at ``offset`` in ``rdata``."""
    return rdata[offset:_skip_name(rdata, offset)]
