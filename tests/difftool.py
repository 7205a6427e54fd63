"""Differential testing against NSD: generate queries from zones, compare two responses.

Both servers get the same bytes; responses are compared field by field, so a failure says
exactly what differs. Shared by the socket, direct-stack and VM differential suites.
"""

import random
import struct

from dnslib import QTYPE, DNSRecord

import zones
from zones import names

TYPE_OPT = 41
EXTRA_TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "DS", "CNAME", "ANY", "SRV", "PTR",
               "DNSKEY", "CAA", 65280, 731, 99, 0]
EDNS_CHOICES = [None, None, None, 512, 1232, 4096, 600, 1000, 1400, 100]

# Differences from NSD that are by design; each is named in the report of a failing compare.
NAMED_DIFFERENCES = {}


def wire_query(name_wire: bytes, qtype: int, *, qid: int, rd: bool, edns, do=False,
               qclass=1, cd=False) -> bytes:
    flags = (0x0100 if rd else 0) | (0x0010 if cd else 0)
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns is not None else 0)
    msg += name_wire + struct.pack("!HH", qtype, qclass)
    if edns is not None:
        msg += b"\x00" + struct.pack("!HHIH", TYPE_OPT, edns, 0x8000 if do else 0, 0)
    return msg


def mixed_case(rng: random.Random, name: bytes) -> bytes:
    out = bytearray(name)
    i = 0
    while out[i]:
        n = out[i]
        for j in range(i + 1, i + 1 + n):
            c = out[j]
            if 97 <= c <= 122 and rng.random() < 0.5:
                out[j] = c - 32
        i += 1 + n
    return bytes(out)


def zone_names(zone) -> dict:
    """Interesting names of a zone with the types worth asking for each."""
    apex = names.key(zone.origin)
    out: dict[bytes, set] = {}
    owners = zone.owners()
    cuts = [k for k, sets in owners.items()
            if k != apex and any(r.rtype == 2 for r in sets)]
    for k, sets in owners.items():
        out.setdefault(k, set()).update(r.rtype for r in sets)
        for anc in list(names.suffixes(k))[1:]:
            if len(anc) < len(apex):
                break
            out.setdefault(anc, set())             # empty non-terminals
        if k.startswith(b"\x01*"):
            base = k[2:]
            for pre in (b"\x03foo", b"\x01a\x01b", b"\x04host", b"\x05ghost"):
                out.setdefault(pre + base, set()).update(r.rtype for r in sets)
            out.setdefault(b"\x03foo\x01*" + base, set())
    for c in cuts:
        out.setdefault(b"\x03www" + c, set())
        out.setdefault(b"\x01x\x01y" + c, set())
    for k in list(out)[:400]:
        out.setdefault(b"\x06nxname" + k, set())
    out.setdefault(b"\x08notthere" + apex, set())
    out.setdefault(b"\x01a\x01b\x01c" + apex, set())
    return out


def generate(zone_paths: dict, count: int, seed: int = 2026) -> list[bytes]:
    """At least ``count`` queries over the zones: every name, many types, with and without
    EDNS, in mixed case, plus names outside every zone."""
    rng = random.Random(seed)
    pool: list[tuple[bytes, int]] = []
    for origin, path in zone_paths.items():
        z = zones.load(path, origin)
        for k, types in zone_names(z).items():
            for t in sorted(types) + [_t(x) for x in EXTRA_TYPES]:
                pool.append((k, t))
    for out in (b"\x03www\x07example\x03org\x00", b"\x00", b"\x03com\x00",
                b"\x03www\x04test\x00", b"\x07invalid\x00"):
        for t in ("A", "NS", "SOA", "ANY"):
            pool.append((out, _t(t)))
    queries = []
    qid = 1
    while len(queries) < count:
        rng.shuffle(pool)
        for name, t in pool:
            edns = rng.choice(EDNS_CHOICES)
            name_w = mixed_case(rng, name) if rng.random() < 0.3 else name
            queries.append(wire_query(name_w, t, qid=qid & 0xFFFF, rd=rng.random() < 0.5,
                                      edns=edns, do=edns is not None and rng.random() < 0.3,
                                      cd=rng.random() < 0.1))
            qid += 1
    return queries


def _t(x):
    return x if isinstance(x, int) else getattr(QTYPE, x)


# -- comparing -----------------------------------------------------------------------------------
def _rrsets(section):
    groups = {}
    order = []
    for rr in section:
        if rr.rtype == TYPE_OPT:
            continue
        k = (str(rr.rname).lower(), rr.rtype, rr.rclass)
        if k not in groups:
            order.append(k)
            groups[k] = []
        groups[k].append((rr.ttl, str(rr.rdata).lower()))
    return [(k, tuple(sorted(groups[k]))) for k in order]


def _opt(r: DNSRecord):
    for rr in r.ar:
        if rr.rtype == TYPE_OPT:
            return (rr.rclass, rr.ttl, tuple((o.code, bytes(o.data)) for o in rr.rdata))
    return None


def compare(query: bytes, ours: bytes | None, theirs: bytes | None) -> list[str]:
    """The differences between our response and NSD's, as readable lines (empty: equal)."""
    if ours is None or theirs is None:
        if ours is None and theirs is None:
            return []
        return ["%s responded, %s did not" % (("NSD", "we") if ours is None else ("we", "NSD"))]
    diffs = []
    if ours[:2] != theirs[:2]:
        diffs.append("ID %r vs %r" % (ours[:2], theirs[:2]))
    of, tf = struct.unpack("!H", ours[2:4])[0], struct.unpack("!H", theirs[2:4])[0]
    if of != tf:
        diffs.append("flags/rcode %04x vs NSD %04x" % (of, tf))
    oq, tq = struct.unpack("!H", ours[4:6])[0], struct.unpack("!H", theirs[4:6])[0]
    if oq != tq:
        diffs.append("QDCOUNT %d vs NSD %d" % (oq, tq))
    try:
        o, t = DNSRecord.parse(ours), DNSRecord.parse(theirs)
    except Exception as e:  # noqa: BLE001 - a response dnslib cannot parse is a difference
        if ours == theirs:
            return diffs
        return diffs + ["unparseable response: %s" % e]
    if oq == 1 and tq == 1 and o.q != t.q:
        diffs.append("question %s vs NSD %s" % (o.q, t.q))
    for label, a, b in (("answer", o.rr, t.rr), ("authority", o.auth, t.auth),
                        ("additional", o.ar, t.ar)):
        ra, rb = _rrsets(a), _rrsets(b)
        if ra != rb:
            diffs.append("%s: ours %s NSD %s" % (label, _fmt(ra), _fmt(rb)))
    if _opt(o) != _opt(t):
        diffs.append("OPT %s vs NSD %s" % (_opt(o), _opt(t)))
    return diffs


def _fmt(sets):
    return "[" + "; ".join("%s %s x%d" % (k[0], QTYPE.get(k[1], k[1]), len(v))
                           for k, v in sets) + "]"


def describe(query: bytes) -> str:
    try:
        r = DNSRecord.parse(query)
        e = [rr for rr in r.ar if rr.rtype == TYPE_OPT]
        return "%s %s%s" % (r.q.qname, QTYPE.get(r.q.qtype, r.q.qtype),
                            " EDNS(%d)" % e[0].rclass if e else "")
    except Exception:  # noqa: BLE001
        return query.hex()
