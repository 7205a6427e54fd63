"""The served namespace at build time: every zone merged into one name index, and the answer
logic of an authoritative server run over it (RFC 1034 section 4.3.2, as NSD implements it).

The compiler asks this module, for every name and type the zones can be queried with, which
RRsets go into which section; the answer table then stores the encoded result. Nothing here runs
per query: it is the memoisation step of the design.
"""

from dataclasses import dataclass, field

from zones import names
from zones.model import RRset, Zone, rdata_name

from .wire import ADDITIONAL_A, ADDITIONAL_AAAA, ANSWER, AUTHORITY, OPTIONAL_AUTHORITY, QNAME

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_MB, TYPE_PTR, TYPE_MX = 1, 2, 5, 6, 7, 12, 15
TYPE_AAAA, TYPE_SRV, TYPE_KX, TYPE_DS = 28, 33, 36, 43
TYPE_RRSIG, TYPE_NSEC, TYPE_DNSKEY, TYPE_ANY = 46, 47, 48, 255

RCODE_NOERROR, RCODE_NXDOMAIN = 0, 3

# Loops end when a CNAME would be added twice (NSD answer.c); chains are otherwise followed
# until the packet is full, as NSD does. The bound only caps build time: no UDP answer can carry
# more than about 87 CNAME records.
MAX_CNAME_LINKS = 100

# Types whose RDATA names bring address records into the additional section, with the offset
# of the name in the RDATA and whether glue (data below a zone cut) may be used (NSD query.c).
ADDITIONAL_FOR = {TYPE_NS: (0, True), TYPE_MB: (0, False), TYPE_MX: (2, False),
                  TYPE_KX: (2, False), TYPE_SRV: (6, False)}

# RFC 8482 4.1: ANY gets one RRset. NSD prefers the first of these in zone order, else the last
# RRset of another type, and DNSSEC types only when nothing else is there.
ANY_PREFERRED = {TYPE_A, TYPE_AAAA, TYPE_SOA, TYPE_MX, TYPE_PTR}
ANY_LAST_RESORT = {TYPE_DNSKEY, TYPE_RRSIG, TYPE_NSEC}
# Types whose answers leave the zone's NS set out of the authority section (NSD answer_needs_ns).
NO_AUTHORITY_NS = {TYPE_DS, TYPE_DNSKEY, TYPE_ANY}


@dataclass
class ZoneInfo:
    zone: Zone
    index: int
    apex: bytes                          # lower-cased wire name
    soa: RRset
    ns: RRset
    negative_ttl: int                    # RFC 2308 section 5: min(SOA TTL, SOA MINIMUM)
    parent: "ZoneInfo | None" = None     # the served zone immediately above, if any
    by_owner: dict = field(default_factory=dict)   # lower owner -> {type: RRset}, all data
    existing: set = field(default_factory=set)     # every name with data, and their ancestors

    def __post_init__(self):
        for (k, t), r in self.zone.rrsets.items():
            self.by_owner.setdefault(k, {})[t] = r
        for k in self.by_owner:
            for s in names.suffixes(k):
                if s in self.existing:
                    break
                self.existing.add(s)
                if s == self.apex:
                    break

    @property
    def apex_name(self) -> bytes:
        return self.zone.origin


@dataclass
class Node:
    """A name the server can be authoritative about: it has data, or is an empty non-terminal,
    or is a zone cut. Names below a cut (glue, occluded data) are not nodes."""

    key: bytes                           # lower-cased wire name
    name: bytes                          # wire name in the zone's case
    zone: ZoneInfo
    rrsets: dict[int, RRset] = field(default_factory=dict)
    is_cut: bool = False                 # NS here and not the apex: a delegation

    @property
    def is_apex(self) -> bool:
        return self.key == self.zone.apex

    @property
    def wildcard_key(self) -> bytes:
        return b"\x01*" + self.key


@dataclass
class Part:
    section: int
    owner: object                        # bytes, or QNAME for the query name
    rrset: RRset
    ttl: int


@dataclass
class Answer:
    """The outcome of one lookup, before encoding: sections as NSD fills them."""

    rcode: int = RCODE_NOERROR
    aa: bool = True
    parts: list[Part] = field(default_factory=list)
    cname_links: int = 0
    delegation: bool = False             # a referral is part of it (NSD's delegation_domain)
    seen: set = field(default_factory=set)  # types at the names visited: qtypes that matter
    class_any: bool = False              # QCLASS ANY: no AA, no SOA, no NS set (NSD query.c)

    def add(self, section: int, owner, rrset: RRset, ttl: int | None = None) -> bool:
        """Add an RRset once: a second add only moves it to an earlier section (NSD answer.c)."""
        okey = QNAME if owner is QNAME else names.key(owner)
        for p in self.parts:
            pkey = QNAME if p.owner is QNAME else names.key(p.owner)
            if p.rrset is rrset and pkey == okey:
                if section < p.section:
                    p.section = section
                    return True
                return False
        self.parts.append(Part(section, owner, rrset, rrset.ttl if ttl is None else ttl))
        return True

    def ordered(self) -> list[Part]:
        return sorted(self.parts, key=lambda p: p.section)   # stable: insertion order kept


class Namespace:
    """Every served zone in one index of nodes, with the lookups an authoritative server needs."""

    def __init__(self, zones: list[Zone]):
        self.zones: list[ZoneInfo] = []
        self.nodes: dict[bytes, Node] = {}
        self.glue: dict[bytes, tuple[bytes, bytes]] = {}    # name below a cut -> (name, cut)
        by_apex: dict[bytes, ZoneInfo] = {}
        for i, z in enumerate(sorted(zones, key=lambda z: _canonical(z.origin))):
            apex = names.key(z.origin)
            if apex in by_apex:
                raise ValueError("zone %s is given twice" % names.to_text(z.origin))
            soa = z.soa
            minimum = int.from_bytes(soa.rdatas[0][-4:], "big")
            info = ZoneInfo(z, i, apex, soa, z.get_rrset(z.origin, TYPE_NS),
                            min(soa.ttl, minimum))
            by_apex[apex] = info
            self.zones.append(info)
        for info in self.zones:
            for anc in list(names.suffixes(info.apex))[1:]:
                if anc in by_apex:
                    info.parent = by_apex[anc]
                    break
        self._by_apex = by_apex
        for info in self.zones:
            self._index_zone(info)
        self.max_labels = max((names.label_count(k) for k in (*self.nodes, *self.glue)),
                              default=0)

    # -- building the index ------------------------------------------------------------------
    def _zone_of(self, key: bytes) -> ZoneInfo | None:
        for s in names.suffixes(key):
            if s in self._by_apex:
                return self._by_apex[s]
        return None

    def _index_zone(self, info: ZoneInfo):
        z = info.zone
        owners = z.owners()
        cuts = {k for k, sets in owners.items()
                if k != info.apex and any(r.rtype == TYPE_NS for r in sets)}
        for k, sets in owners.items():
            if self._zone_of(k) is not info:
                continue        # a deeper zone we also serve is authoritative there
            cut = self._below_cut(k, info, cuts)
            if cut is not None:
                self._glue_name(k, sets[0].name, cut)
                continue
            node = self._node(k, sets[0].name, info)
            for r in sets:
                node.rrsets[r.rtype] = r
            node.is_cut = k in cuts
            # every ancestor up to the apex exists too (empty non-terminals, RFC 4592 2.2.2)
            name = sets[0].name
            while names.key(name) != info.apex:
                name = names.parent(name)
                pk = names.key(name)
                if pk in self.nodes:
                    break       # a node's ancestors were all made with it
                self._node(pk, name, info)

    @staticmethod
    def _below_cut(k: bytes, info: ZoneInfo, cuts: set) -> bytes | None:
        """The zone cut above a name, if the name is glue or occluded data."""
        for s in list(names.suffixes(k))[1:]:
            if s == info.apex:
                return None
            if s in cuts:
                return s
        return None

    def _glue_name(self, k: bytes, name: bytes, cut: bytes):
        """Names below a cut exist too: a query there gets the referral, but the name (and each
        ancestor up to the cut) seeds name compression, as it does in NSD's name tree."""
        while k != cut and k not in self.glue:
            self.glue[k] = (name, cut)
            k, name = names.parent(k), names.parent(name)

    def _node(self, k: bytes, name: bytes, info: ZoneInfo) -> Node:
        node = self.nodes.get(k)
        if node is None:
            node = self.nodes[k] = Node(k, name, info)
        return node

    # -- lookups -----------------------------------------------------------------------------
    def closest(self, key: bytes) -> tuple[Node | None, bool]:
        """The closest encloser of a name among the nodes, and whether it is the name itself."""
        for s in names.suffixes(key):
            node = self.nodes.get(s)
            if node is not None:
                return node, s == key
        return None, False

    def below(self, node: Node):
        """What a name below ``node`` (and not itself a node) gets: 'referral', the wildcard
        node that synthesises it (RFC 4592 section 3.3.1), or 'nxdomain'."""
        if node.is_cut:
            return "referral"
        wild = self.nodes.get(node.wildcard_key)
        if wild is not None and wild.zone is node.zone:
            return wild
        return "nxdomain"

    # -- the answer cases (one function each, as in NSD's query.c) ---------------------------
    def answer_exact(self, node: Node, qtype: int, synthesised: bool = False,
                     class_any: bool = False) -> Answer:
        """A query whose name is ``node``, or with ``synthesised`` any name the wildcard
        ``node`` stands for (the owner is then the query name, RFC 4592 3.4.3)."""
        a = Answer(class_any=class_any)
        self._lookup_node(a, node, True, qtype, QNAME if synthesised else node.name)
        return a

    def answer_below(self, node: Node, qtype: int, class_any: bool = False) -> Answer:
        """A query for a name strictly below ``node`` that is not itself a node."""
        a = Answer(class_any=class_any)
        self._lookup_node(a, node, False, qtype, QNAME)
        return a

    def _lookup_node(self, a: Answer, ce: Node, exact: bool, qtype: int, owner):
        """NSD's answer_lookup_zone: pick the zone, then delegation or authoritative data."""
        zone = ce.zone
        a.aa = not a.class_any
        if exact and qtype == TYPE_DS and ce.is_apex:
            # RFC 4035 3.1.4.1: DS lives in the parent; answer from it when we serve it
            if zone.parent is not None:
                parent_node = self._parent_view(ce, zone.parent)
                return self._authoritative(a, parent_node, True, qtype, owner, zone.parent)
            return self._nodata(a, zone)
        if ce.is_cut and not (exact and qtype == TYPE_DS):
            return self._delegation(a, ce)
        return self._authoritative(a, ce, exact, qtype, owner, zone)

    def _parent_view(self, apex_node: Node, parent: ZoneInfo) -> Node:
        """The cut in the parent zone at a child apex we also serve."""
        z = parent.zone
        view = Node(apex_node.key, apex_node.name, parent, is_cut=True)
        for (k, t), r in z.rrsets.items():
            if k == apex_node.key:
                view.rrsets[t] = r
        return view

    def _delegation(self, a: Answer, cut: Node):
        """RFC 1034 4.3.2 step 3b: a referral; authoritative only inside a CNAME chain."""
        a.aa = a.cname_links > 0
        a.delegation = True
        self._add(a, AUTHORITY, cut.name, cut.rrsets[TYPE_NS], cut.zone)

    def _authoritative(self, a: Answer, ce: Node, exact: bool, qtype: int, owner, zone):
        if exact:
            return self._domain(a, ce, qtype, owner, zone)
        wild = self.below(ce)
        if isinstance(wild, Node):
            # RFC 4592 3.3.1: synthesise from the source of synthesis at the closest encloser
            return self._domain(a, wild, qtype, owner, zone)
        return self._nxdomain(a, zone)

    def _domain(self, a: Answer, node: Node, qtype: int, owner, zone: ZoneInfo):
        """NSD's answer_domain: the data at a name that exists."""
        rrsets = node.rrsets
        a.seen.update(rrsets)
        if qtype == TYPE_ANY and rrsets:
            self._add(a, ANSWER, owner, _any_choice(rrsets), zone)
        elif qtype in rrsets:
            self._add(a, ANSWER, owner, rrsets[qtype], zone)
        elif TYPE_CNAME in rrsets:
            rrset = rrsets[TYPE_CNAME]
            if self._add(a, ANSWER, owner, rrset, zone) and a.cname_links < MAX_CNAME_LINKS:
                a.cname_links += 1
                self._follow(a, rdata_name(rrset.rdatas[0]), qtype)
            return
        else:
            return self._nodata(a, zone)
        if qtype not in NO_AUTHORITY_NS and zone.ns is not None and not a.class_any:
            self._add(a, OPTIONAL_AUTHORITY, zone.apex_name, zone.ns, zone)

    def _follow(self, a: Answer, target: bytes, qtype: int):
        """Continue at a CNAME's target, in whichever served zone holds it (RFC 1034 4.3.2)."""
        ce, exact = self.closest(names.key(target))
        if ce is None:
            return          # outside every zone we serve: the client resolves the rest
        self._lookup_node(a, ce, exact, qtype, target)

    def _nodata(self, a: Answer, zone: ZoneInfo):
        """RFC 2308 2.2: NOERROR, no answer, the SOA with the negative TTL."""
        if not a.class_any:
            self._add(a, AUTHORITY, zone.apex_name, zone.soa, zone, zone.negative_ttl)

    def _nxdomain(self, a: Answer, zone: ZoneInfo):
        """RFC 2308 2.1 and RFC 6604: NXDOMAIN describes the last name of a chain."""
        a.rcode = RCODE_NXDOMAIN
        if not a.class_any:
            self._add(a, AUTHORITY, zone.apex_name, zone.soa, zone, zone.negative_ttl)

    # -- additional section --------------------------------------------------------------
    def _add(self, a: Answer, section: int, owner, rrset: RRset, zone: ZoneInfo,
             ttl: int | None = None) -> bool:
        added = a.add(section, owner, rrset, ttl)
        spec = ADDITIONAL_FOR.get(rrset.rtype)
        if spec is not None:
            offset, allow_glue = spec
            for rdata in rrset.rdatas:
                self._additional(a, rdata_name(rdata, offset), zone, allow_glue)
        return added

    def _additional(self, a: Answer, target: bytes, zone: ZoneInfo, allow_glue: bool):
        """Address records for a name in RDATA, from the same zone only (NSD query.c)."""
        tkey = names.key(target)
        if not names.is_subdomain(tkey, zone.apex):
            return
        data = zone.by_owner.get(tkey)
        if not allow_glue and data is not None and self._is_glue(tkey, zone):
            return
        owner = target
        if data is None:
            # the name does not exist: a wildcard at its closest existing ancestor may supply it
            data = self._wildcard_data(tkey, zone)
            if data is None:
                return
        for rtype, section in ((TYPE_A, ADDITIONAL_A), (TYPE_AAAA, ADDITIONAL_AAAA)):
            r = data.get(rtype)
            if r is not None:
                a.add(section, owner, r)

    def _is_glue(self, key: bytes, zone: ZoneInfo) -> bool:
        node = self.nodes.get(key)
        return node is None or node.zone is not zone

    @staticmethod
    def _wildcard_data(key: bytes, zone: ZoneInfo):
        for s in list(names.suffixes(key))[1:]:
            if s in zone.existing:
                return zone.by_owner.get(b"\x01*" + s)
        return None


def _any_choice(rrsets: dict) -> RRset:
    """The one RRset an ANY query gets (RFC 8482 4.1), chosen as NSD chooses it."""
    normal = last_resort = None
    for rtype, rrset in rrsets.items():
        if rtype in ANY_PREFERRED:
            return rrset
        if rtype in ANY_LAST_RESORT:
            last_resort = rrset
        else:
            normal = rrset
    return normal if normal is not None else last_resort


def _canonical(name: bytes):
    return [p.lower() for p in reversed(names.labels(name))]
