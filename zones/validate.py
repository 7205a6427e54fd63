"""Checks of a whole zone once every record is read: what NSD refuses, and missing glue.

Each problem points at the record that caused it: for a second SOA, CNAME or DNAME record, that
record itself; for CNAME beside other data, whichever of the two RRsets was written later.
Data below a zone cut that is not glue is occluded (RFC 1034 4.2.1); it is kept, not refused.
"""

from . import names
from .errors import (
    BadWildcard,
    CNAMEAndOtherData,
    MissingGlue,
    MultipleCNAME,
    MultipleDNAME,
    MultipleSOA,
    NoNS,
    NoSOA,
    OutsideZone,
    SOANotAtOrigin,
)
from .model import TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_DNAME, TYPE_NS, TYPE_SOA, RRset, Zone
from .rrtypes import type_name

# RFC 4035 2.5: a CNAME may have the RRSIG and NSEC records that sign and deny around it.
CNAME_COMPANIONS = frozenset((TYPE_CNAME, 46, 47))


def inside(key: bytes, origin_key: bytes) -> bool:
    """Whether a lower-cased wire name is ``origin_key`` or below it (label-aligned)."""
    if not key.endswith(origin_key):
        return False
    cut = len(key) - len(origin_key)
    i = 0
    while i < cut:
        i += 1 + key[i]
    return i == cut


def validate(zone: Zone, record_where: dict) -> tuple[list, list]:
    """The problems and warnings of a zone; ``record_where`` is the reader's per-record places."""
    problems: list = []
    warnings: list = []
    rrsets = zone.rrsets
    okey = names.key(zone.origin)
    origin_text = names.to_text(zone.origin)

    soa = rrsets.get((okey, TYPE_SOA))
    if soa is None:
        problems.append(NoSOA("zone %s has no SOA record at its origin" % origin_text))
    else:
        for where in record_where[(okey, TYPE_SOA)][1:]:
            problems.append(MultipleSOA("a second SOA record for %s" % origin_text, where))
    if (okey, TYPE_NS) not in rrsets:
        problems.append(NoNS("zone %s has no NS records at its apex" % origin_text,
                             soa.where if soa else None))

    reported = set()
    cnames = {}
    delegations = []
    for (k, rtype), rrset in rrsets.items():
        if not inside(k, okey):
            if k not in reported:
                reported.add(k)
                problems.append(OutsideZone("%s is outside the zone %s" % (
                    names.to_text(rrset.name), origin_text), rrset.where))
            continue
        if b"*" in k and k not in reported and b"*" in names.labels(k)[1:]:
            reported.add(k)
            problems.append(BadWildcard("%s has '*' in a label other than the leftmost" %
                                        names.to_text(rrset.name), rrset.where))
        if rtype == TYPE_SOA and k != okey:
            problems.append(SOANotAtOrigin("SOA record at %s, which is not the origin %s" % (
                names.to_text(rrset.name), origin_text), rrset.where))
        elif rtype == TYPE_CNAME:
            cnames[k] = rrset
            for where in record_where[(k, TYPE_CNAME)][1:]:
                problems.append(MultipleCNAME("a second CNAME record at %s" %
                                              names.to_text(rrset.name), where))
        elif rtype == TYPE_DNAME:
            for where in record_where[(k, TYPE_DNAME)][1:]:
                problems.append(MultipleDNAME("a second DNAME record at %s" %
                                              names.to_text(rrset.name), where))
        elif rtype == TYPE_NS and k != okey:
            delegations.append(rrset)

    if cnames:
        problems.extend(_cname_conflicts(rrsets, cnames))
    for rrset in delegations:
        warnings.extend(_missing_glue(rrsets, rrset, record_where))
    return problems, warnings


def _cname_conflicts(rrsets: dict, cnames: dict):
    """RFC 1034 3.6.2, RFC 2181 10.1: a name with a CNAME has no other data."""
    before = {}  # owner key -> other types written before its CNAME
    seen_cname = set()
    for (k, rtype), rrset in rrsets.items():
        cname = cnames.get(k)
        if cname is None:
            continue
        if rtype == TYPE_CNAME:
            seen_cname.add(k)
        elif rtype not in CNAME_COMPANIONS:
            if k in seen_cname:
                yield CNAMEAndOtherData("CNAME and other data (%s) at %s" % (
                    type_name(rtype), names.to_text(rrset.name)), rrset.where)
            else:
                before.setdefault(k, []).append(type_name(rtype))
    for k, types in before.items():
        cname = cnames[k]
        yield CNAMEAndOtherData("CNAME and other data (%s) at %s" % (
            " ".join(types), names.to_text(cname.name)), cname.where)


def _missing_glue(rrsets: dict, ns: RRset, record_where: dict):
    """A name server at or below the cut it serves needs an address here (RFC 9471)."""
    cut = names.key(ns.name)
    wheres = record_where[(cut, TYPE_NS)]
    for target, where in zip(ns.rdatas, wheres, strict=True):
        tkey = names.key(target)
        if inside(tkey, cut) and (tkey, TYPE_A) not in rrsets and (tkey, TYPE_AAAA) not in rrsets:
            yield MissingGlue("delegation %s NS %s has no glue: no A or AAAA record for %s" % (
                names.to_text(ns.name), names.to_text(target), names.to_text(target)), where)
