"""Compile zones into the answer table: every answer the zones can produce, encoded ahead of time.

For each node of the namespace the compiler asks :mod:`appliance.namespace` what each query
type gets, encodes that once (:mod:`appliance.wire`), and lays the result out as described in
:mod:`appliance.layout`. Where an answer does not fit every limit a client can set, the variants
NSD would send for smaller limits are encoded too, so the engine only picks one at run time.
"""

import hashlib
from dataclasses import dataclass, field

from zones import names
from zones.model import Zone, rdata_name

from . import layout as L
from .engine import hash_name
from .namespace import TYPE_ANY, TYPE_CNAME, TYPE_DS, Answer, Namespace, Node
from .wire import (
    ADDITIONAL_A,
    ANCESTOR,
    ANSWER,
    AUTHORITY,
    COMPRESSED_RDATA,
    EXACT,
    HEADER_LEN,
    QNAME,
    WILDCARD,
    Encoder,
)

NO_DATA_TYPE = 0          # a query type no zone holds: what "any other type" gets
MAX_UDP = 1232            # our EDNS UDP size (DESIGN section 4)
OPT_LEN = 11              # the OPT record we add to EDNS answers
MIN_MESSAGE = 512 - OPT_LEN   # the smallest limit a client can make us fit (EDNS, 512)
MAX_QNAME = 255


@dataclass
class Variant:
    body: bytes
    fixups: list[int]
    an: int
    ns: int
    ar: int
    tc: bool
    needed: int           # the smallest room that would have let one more record in
    an_len: int = 0       # where the answer section ends in the body
    min_avail: int = 0

    def key(self):
        return (self.body, tuple(self.fixups), self.an, self.ns, self.ar, self.tc)


def encode(ans: Answer, template: bytes, mode: str, avail: int = 65535) -> Variant:
    """Encode an answer into at most ``avail`` octets after the question, the way NSD fills a
    packet (packet.c, answer.c; measured in tests/NSD_BEHAVIOUR.md item 2): whole RRsets, in
    section order. One that does not fit in the answer section or a mandatory authority RRset
    (referral NS, negative SOA) truncates the message (TC). One that does not fit in an
    optional section (the NS set of a positive answer, the A, AAAA and other additional
    sections) is left out; the rest of that section is still tried, and then the message ends.
    """
    enc = Encoder(template, mode, avail)
    counts = [0] * 6
    tc = done = False
    an_len = 0
    parts = ans.ordered()
    for i, p in enumerate(parts):
        mark = enc.mark()
        added = 0
        for rdata in p.rrset.rdatas:
            if not enc.rr(p.owner, p.rrset.rtype, p.rrset.rclass, p.ttl, rdata):
                break
            added += 1
        if added < len(p.rrset.rdatas):
            enc.reset(mark)
            if p.section in (ANSWER, AUTHORITY):
                tc = True
                break
            done = True
        else:
            counts[p.section] += added
            if p.section == ANSWER:
                an_len = len(enc.buf)
        last_of_section = i + 1 == len(parts) or parts[i + 1].section != p.section
        if done and last_of_section:
            if p.section == ADDITIONAL_A and counts[ADDITIONAL_A] == 0 and ans.delegation:
                tc = True   # a referral must carry a usable address (RFC 9471)
            break
    return Variant(bytes(enc.buf), list(enc.fixups), counts[0], counts[1] + counts[2],
                   counts[3] + counts[4] + counts[5], tc, enc.needed, an_len)


def variants(ans: Answer, template: bytes, mode: str) -> list[Variant]:
    """Every distinct encoding over the limits a query can bring, largest first.

    The room after the question is the client's limit (512, or its EDNS size capped at ours,
    less our OPT record) minus the header and question. Between two limits where some record
    would just fit, NSD's packing makes the same decisions, so each variant is found by
    encoding at the smallest room that changes one decision.
    """
    full = encode(ans, template, mode)
    qmax = len(template) if mode == EXACT else MAX_QNAME
    low = MIN_MESSAGE - HEADER_LEN - (qmax + 4)
    if len(full.body) <= low:
        return [full]
    out = []
    avail = max(low, 0)
    while True:
        v = encode(ans, template, mode, avail)
        v.min_avail = avail
        if v.key() == full.key():
            break
        if not out or out[-1].key() != v.key():
            out.append(v)
        avail = v.needed
    full.min_avail = len(full.body)
    out.append(full)
    out[0].min_avail = 0
    return list(reversed(out))


@dataclass
class BuildOptions:
    identity: str | None = None      # CHAOS TXT id.server / hostname.bind; None: REFUSED
    version: str | None = None       # CHAOS TXT version.bind / version.server; None: REFUSED


@dataclass
class TableStats:
    nodes: int = 0
    entries: int = 0
    variants: int = 0
    table_len: int = 0
    max_probe: int = 0


@dataclass
class _Blob:
    data: bytearray = field(default_factory=bytearray)

    def put(self, b: bytes) -> int:
        off = len(self.data)
        self.data += b
        pad = L.align4(len(self.data)) - len(self.data)
        self.data += b"\x00" * pad
        return off


class Compiler:
    """Turns a namespace into the table bytes."""

    def __init__(self, zones: list[Zone], options: BuildOptions | None = None):
        self.ns = Namespace(zones)
        self.options = options or BuildOptions()
        self.stats = TableStats()
        self.blob = _Blob(bytearray(L.HEADER.size))
        self._shared: dict = {}     # entry contents -> offset
        self._memo: dict = {}       # answer structure -> offset

    # -- entries -------------------------------------------------------------------------
    def _entry(self, ans: Answer, template: bytes, mode: str, ans_any: Answer) -> int:
        """Store an answer (and how a QCLASS ANY query differs from it); its offset.

        Answers that encode to the same bytes are found before encoding, by their structure
        (see _structure), which is most of the work of a big zone: every name's NODATA, DS and
        class ANY variants are shared.
        """
        if any(p.section == ANSWER for p in ans.parts):
            # the name's own data (or its chain): no other name has this answer
            return self._encode_entry(ans, template, mode, ans_any)
        key = (_structure(ans, template, mode), _structure(ans_any, template, mode))
        off = self._memo.get(key)
        if off is None:
            off = self._memo[key] = self._encode_entry(ans, template, mode, ans_any)
        return off

    def _encode_entry(self, ans: Answer, template: bytes, mode: str, ans_any: Answer) -> int:
        vs = variants(ans, template, mode)
        flags = _flags(ans)
        relation = _class_any_relation(ans, ans_any)
        if relation == "same":
            return self._store(flags, template, vs, 0, twin_self=True)
        twin = 0
        if relation is None:
            twin = self._store(_flags(ans_any), template, variants(ans_any, template, mode), 0)
        return self._store(flags, template, vs, twin)

    def _store(self, flags: int, template: bytes, vs: list, twin: int, twin_self=False) -> int:
        """Lay an entry out in the table, or find the identical one already there."""
        h = hashlib.blake2b(digest_size=16)
        for v in vs:
            h.update(L.VARIANT.pack(v.min_avail, len(v.body), len(v.fixups), int(v.tc),
                                    v.an, v.ns, v.ar, v.an_len, 0))
            h.update(v.body)
            h.update(b"".join(f.to_bytes(2, "little") for f in v.fixups))
        key = (flags, len(template), twin, twin_self, h.digest())
        off = self._shared.get(key)
        if off is not None:
            return off
        out = bytearray(L.ENTRY.pack(flags, len(template), len(vs), 0, twin))
        vpos = len(out)
        out += bytes(L.VARIANT.size * len(vs))
        entry_off = self.blob.put(bytes(out))
        if twin_self:
            L.ENTRY.pack_into(self.blob.data, entry_off, flags, len(template), len(vs), 0,
                              entry_off)
        for i, v in enumerate(vs):
            data = v.body + b"".join(f.to_bytes(2, "little") for f in v.fixups)
            data_off = self.blob.put(data)
            L.VARIANT.pack_into(self.blob.data, entry_off + vpos + i * L.VARIANT.size,
                                v.min_avail, len(v.body), len(v.fixups), int(v.tc),
                                v.an, v.ns, v.ar, v.an_len, data_off)
        self._shared[key] = entry_off
        self.stats.entries += 1
        self.stats.variants += len(vs)
        return entry_off

    def _mode(self, node: Node) -> str:
        return WILDCARD if node.key.startswith(b"\x01*") else EXACT

    def _node_entries(self, node: Node) -> tuple[int, list[tuple[int, int]]]:
        ns = self.ns
        mode = self._mode(node)
        synth = mode == WILDCARD
        if node.is_cut:
            default = self._referral(node)
            ds = self._entry(ns.answer_exact(node, TYPE_DS), node.name, EXACT,
                             ns.answer_exact(node, TYPE_DS, class_any=True))
            return default, [(TYPE_DS, ds)]
        base = ns.answer_exact(node, NO_DATA_TYPE, synth)
        default = self._entry(base, node.name, mode,
                              ns.answer_exact(node, NO_DATA_TYPE, synth, True))
        types = []
        # DS differs from "any other type" only at an apex (answered from the parent) or at
        # the end of a chain; elsewhere it is NODATA like the default
        extra = {TYPE_ANY, TYPE_DS} if node.is_apex or TYPE_CNAME in node.rrsets else {TYPE_ANY}
        for qtype in sorted(base.seen | extra):
            ans = ns.answer_exact(node, qtype, synth)
            off = self._entry(ans, node.name, mode, ns.answer_exact(node, qtype, synth, True))
            if off != default:
                types.append((qtype, off))
        return default, types

    def _referral(self, cut: Node, below: bytes | None = None) -> int:
        """The referral for a query under ``cut``; ``below`` is the name in the zone's data
        (glue) closest to the query, which NSD compresses against when it can."""
        ans = self.ns.answer_below(cut, NO_DATA_TYPE)
        template = cut.name
        if below is not None and _compresses_better(ans, below, cut.key):
            template = below
        key = ("referral", names.key(template))
        if key not in self._shared:
            ans_any = self.ns.answer_below(cut, NO_DATA_TYPE, class_any=True)
            self._shared[key] = self._entry(ans, template, ANCESTOR, ans_any)
        return self._shared[key]

    def _nxdomain(self, node: Node) -> int:
        """NXDOMAIN for a name below ``node``: one entry per zone unless the SOA's names lie
        under ``node``, where NSD's compression (seeded with the closest encloser) differs."""
        ans = self.ns.answer_below(node, NO_DATA_TYPE)
        template = node.zone.apex_name
        if _compresses_better(ans, node.name, node.zone.apex):
            template = node.name
        key = ("nxdomain", names.key(template))
        if key not in self._shared:
            ans_any = self.ns.answer_below(node, NO_DATA_TYPE, class_any=True)
            self._shared[key] = self._entry(ans, template, ANCESTOR, ans_any)
        return self._shared[key]

    # -- the whole table ----------------------------------------------------------------------
    def build(self) -> bytes:
        keys = sorted([*self.ns.nodes, *self.ns.glue], key=_canonical)
        node_off: dict[bytes, int] = {}
        patches: list[tuple[int, bytes]] = []
        for k in keys:
            node = self.ns.nodes.get(k)
            if node is None:
                name, cut = self.ns.glue[k]
                referral = self._referral(self.ns.nodes[cut], name)
                rec = self._node_record(k, 0, referral, referral, [])
                node_off[k] = self.blob.put(rec)
                continue
            default, types = self._node_entries(node)
            below = self.ns.below(node)
            flags = (L.NODE_CUT if node.is_cut else 0) | (L.NODE_APEX if node.is_apex else 0)
            if below == "referral":
                below_off = default
            elif below == "nxdomain":
                below_off = self._nxdomain(node)
            else:
                flags |= L.NODE_BELOW_WILDCARD
                below_off = 0
            off = self.blob.put(self._node_record(k, flags, default, below_off, types))
            node_off[k] = off
            if flags & L.NODE_BELOW_WILDCARD:
                patches.append((off + 8, below.key))
        for pos, wkey in patches:
            self.blob.data[pos:pos + 4] = node_off[wkey].to_bytes(4, "little")
        self.stats.nodes = len(keys)
        chaos_off = self._chaos()
        seed = self._seed()
        slots_off, nslots = self._slots(node_off, seed)
        table = self.blob.data
        L.HEADER.pack_into(table, 0, L.MAGIC, nslots, 0, seed, slots_off, self.ns.max_labels,
                           chaos_off, len(table), 0)
        self.stats.table_len = len(table)
        return bytes(table)

    @staticmethod
    def _node_record(key: bytes, flags: int, default: int, below: int, types: list) -> bytes:
        rec = bytearray(L.NODE.pack(len(key), flags, len(types), default, below))
        rec += key
        rec += b"\x00" * (L.align4(len(rec)) - len(rec))
        for qtype, off in types:
            rec += L.NODE_TYPE.pack(qtype, 0, off)
        return bytes(rec)

    def _chaos(self) -> int:
        ident = (self.options.identity or "").encode()[:255]
        ver = (self.options.version or "").encode()[:255]
        rec = L.CHAOS.pack(len(ident) if self.options.identity is not None else L.NO_STRING,
                           len(ver) if self.options.version is not None else L.NO_STRING)
        return self.blob.put(rec + ident + ver)

    def _seed(self) -> int:
        h = hashlib.sha256()
        for info in self.ns.zones:
            h.update(info.apex + info.zone.source_sha256.encode())
        return int.from_bytes(h.digest()[:8], "little")

    def _slots(self, node_off: dict, seed: int) -> tuple[int, int]:
        nslots = 16
        while nslots < 2 * max(len(node_off), 1):
            nslots <<= 1
        mask = nslots - 1
        slots = bytearray(L.SLOT.size * nslots)
        max_probe = 0
        for k, off in node_off.items():
            h = hash_name(k, seed)
            i = (h >> 32) & mask
            probe = 0
            while int.from_bytes(slots[i * 8 + 4:i * 8 + 8], "little"):
                i = (i + 1) & mask
                probe += 1
            max_probe = max(max_probe, probe)
            L.SLOT.pack_into(slots, i * 8, h & 0xFFFFFFFF, off)
        self.stats.max_probe = max_probe
        return self.blob.put(bytes(slots)), nslots


def _flags(ans: Answer) -> int:
    return L.FLAG_QR | (L.FLAG_AA if ans.aa else 0) | ans.rcode


def _part_key(p):
    return (p.section, p.owner if p.owner is QNAME else names.key(p.owner), id(p.rrset), p.ttl)


def _structure(ans: Answer, template: bytes, mode: str) -> tuple:
    """What an answer's encoding depends on: its flags, its RRsets in order, and where the
    names it writes meet the template (a shared suffix compresses to the same place)."""
    t = names.key(template)
    meets = {_common_suffix(w, t) for w in _written_names(ans)}
    return (mode, len(template), _flags(ans), ans.delegation,
            tuple(_part_key(p) for p in ans.parts), tuple(sorted(meets)))


def _common_suffix(a: bytes, b: bytes) -> bytes:
    """The longest name that both ``a`` and ``b`` end with, label-aligned."""
    for s in names.suffixes(a):
        if len(s) <= len(b) and b.endswith(s) and (len(s) == len(b) or _label_start(b, s)):
            return s
    return b"\x00"


def _label_start(name: bytes, suffix: bytes) -> bool:
    for s in names.suffixes(name):
        if len(s) == len(suffix):
            return True
        if len(s) < len(suffix):
            return False
    return False


def _class_any_relation(ans: Answer, ans_any: Answer):
    """How the QCLASS ANY answer relates to the class IN one: "same" RRsets and flags, just its
    "answer_section" without AA (the engine cuts it out at run time), or None (stored apart)."""
    if _flags(ans_any) == _flags(ans) and list(map(_part_key, ans.parts)) == list(
            map(_part_key, ans_any.parts)):
        return "same"
    answer_parts = [p for p in ans.parts if p.section == ANSWER]
    if (_flags(ans_any) == _flags(ans) & ~L.FLAG_AA
            and [_part_key(p) for p in ans_any.parts] == [_part_key(p) for p in answer_parts]):
        return "answer_section"
    return None


def _compresses_better(ans: Answer, ce: bytes, template_key: bytes) -> bool:
    """Whether a name the answer writes lies under ``ce`` deeper than ``template_key``: then
    seeding compression with the closest encloser (as NSD does) makes it shorter."""
    ce_key = names.key(ce)
    if ce_key == template_key:
        return False
    depth = names.label_count(template_key) + 1
    step = list(names.suffixes(ce_key))[names.label_count(ce_key) - depth]
    return any(names.is_subdomain(w, step) for w in _written_names(ans))


def _written_names(ans: Answer):
    """The names an answer writes where they can be compressed (owners, RFC 1035 RDATA)."""
    for p in ans.parts:
        if p.owner is not QNAME:
            yield names.key(p.owner)
        layout = COMPRESSED_RDATA.get(p.rrset.rtype)
        if layout is None:
            continue
        for rdata in p.rrset.rdatas:
            i = 0
            for atom in layout:
                if atom == "n":
                    n = rdata_name(rdata, i)
                    yield names.key(n)
                    i += len(n)
                else:
                    i += atom


def _canonical(key: bytes):
    return list(reversed(names.labels(key)))
