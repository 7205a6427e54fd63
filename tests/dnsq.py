"""Helpers shared by the tests: build an engine from zone text, make queries, read answers."""

import struct

from dnslib import EDNS0, QTYPE, RR, DNSHeader, DNSQuestion, DNSRecord

import zones
from appliance.builder import table_for
from appliance.compiler import BuildOptions
from appliance.engine import Engine


def engine_for(zone_texts: dict, identity=None, version=None) -> Engine:
    """An engine over zones given as {origin: master-file text}."""
    loaded = [zones.load_text(text, origin, filename="%s.zone" % origin.rstrip("."))
              for origin, text in zone_texts.items()]
    table, _ = table_for(loaded, BuildOptions(identity=identity, version=version))
    return Engine(table)


def query(name: str, qtype="A", *, edns=None, do=False, rd=True, qid=0x1234, qclass=1,
          ednsver=0) -> bytes:
    """A query in wire form; ``edns`` is the advertised UDP size (None: no OPT record)."""
    t = getattr(QTYPE, qtype) if isinstance(qtype, str) else qtype
    r = DNSRecord(DNSHeader(id=qid, rd=int(rd)), q=DNSQuestion(name, t, qclass))
    if edns is not None:
        r.add_ar(EDNS0(udp_len=edns, flags="do" if do else "", version=ednsver))
    return bytes(r.pack())


def ask(engine: Engine, name: str, qtype="A", **kw) -> DNSRecord | None:
    wire = engine.answer(query(name, qtype, **kw))
    return None if wire is None else DNSRecord.parse(wire)


def rcode(r: DNSRecord) -> int:
    """The full rcode, extended bits from the OPT record included (RFC 6891 6.1.3)."""
    code = r.header.rcode
    for rr in r.ar:
        if rr.rtype == QTYPE.OPT:
            code |= (rr.ttl >> 24) << 4
    return code


def rrsets(section) -> set:
    """A section as a set of (owner lower, type, ttl, sorted rdata texts) per RRset."""
    groups: dict = {}
    for rr in section:
        if rr.rtype == QTYPE.OPT:
            continue
        k = (str(rr.rname).lower(), rr.rtype, rr.rclass)
        groups.setdefault(k, []).append((rr.ttl, _rdata_text(rr)))
    out = set()
    for (owner, t, c), items in groups.items():
        ttls = {ttl for ttl, _ in items}
        out.add((owner, t, c, min(ttls), tuple(sorted(d for _, d in items))))
    return out


def _rdata_text(rr: RR) -> str:
    return str(rr.rdata).lower()


def opt_record(r: DNSRecord):
    for rr in r.ar:
        if rr.rtype == QTYPE.OPT:
            return rr
    return None


def header_fields(wire: bytes) -> dict:
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    return {"id": qid, "qr": flags >> 15, "opcode": (flags >> 11) & 15, "aa": (flags >> 10) & 1,
            "tc": (flags >> 9) & 1, "rd": (flags >> 8) & 1, "ra": (flags >> 7) & 1,
            "z": (flags >> 6) & 1, "ad": (flags >> 5) & 1, "cd": (flags >> 4) & 1,
            "rcode": flags & 15, "qd": qd, "an": an, "ns": ns, "ar": ar}
