"""Compile zones into the answer table: every answer the zones can produce, encoded ahead of time.

For each node of the namespace the compiler asks :mod:`appliance.namespace` what each query
type gets, encodes that once (:mod:`appliance.wire`), and lays the result out as described in
:mod:`appliance.layout`. Where an answer does not fit every limit a client can set, the variants
NSD would send for smaller limits are encoded too, so the engine only picks one at run time.
"""

import hashlib
from dataclasses import dataclass, field

from zones import names
from zones.model import Zone

from . import layout as L
from .engine import hash_name
from .namespace import TYPE_ANY, TYPE_DS, Answer, Namespace, Node
from .wire import (
    ADDITIONAL_A,
    ANCESTOR,
    ANSWER,
    AUTHORITY,
    EXACT,
    HEADER_LEN,
    OPTIONAL_AUTHORITY,
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
    min_avail: int = 0

    def key(self):
        return (self.body, tuple(self.fixups), self.an, self.ns, self.ar, self.tc)


def encode(ans: Answer, template: bytes, mode: str, avail: int = 65535) -> Variant:
    """Encode an answer into at most ``avail`` octets after the question, the way NSD fills a
    packet: RRsets in section order; one that does not fit in the answer or authority section
    truncates the message (TC); one that does not fit in the optional sections is left out and
    ends them (NSD packet.c with minimal responses, RFC 9471 for referral glue)."""
    enc = Encoder(template, mode, avail)
    counts = [0] * 6
    tc = False
    done = False
    parts = ans.ordered()
    section = ANSWER
    for section in range(6):
        if tc:
            break
        for p in parts:
            if tc:
                break
            if p.section != section:
                continue
            mark = enc.mark()
            added = 0
            all_added = True
            for rdata in p.rrset.rdatas:
                if enc.rr(p.owner, p.rrset.rtype, p.rrset.rclass, p.ttl, rdata):
                    added += 1
                else:
                    all_added = False
                    break
            if not all_added and section >= OPTIONAL_AUTHORITY:
                enc.reset(mark)
                added = 0
                done = True
            if not all_added and section in (ANSWER, AUTHORITY):
                enc.reset(mark)
                tc = True
                added = 0
            counts[section] += added
        if done:
            # a referral must carry a usable address or make the client retry over TCP
            if section == ADDITIONAL_A and counts[ADDITIONAL_A] == 0 and ans.delegation:
                tc = True
            break
    return Variant(bytes(enc.buf), list(enc.fixups), counts[0], counts[1] + counts[2],
                   counts[3] + counts[4] + counts[5], tc, enc.needed)


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
        self._shared: dict = {}

    # -- entries -------------------------------------------------------------------------
    def _entry(self, ans: Answer, template: bytes, mode: str) -> int:
        flags = L.FLAG_QR | (L.FLAG_AA if ans.aa else 0) | ans.rcode
        vs = variants(ans, template, mode)
        key = (flags, len(template), tuple((v.min_avail,) + v.key() for v in vs))
        off = self._shared.get(key)
        if off is not None:
            return off
        out = bytearray(L.ENTRY.pack(flags, len(template), len(vs), 0))
        vpos = len(out)
        out += bytes(L.VARIANT.size * len(vs))
        entry_off = self.blob.put(bytes(out))
        for i, v in enumerate(vs):
            data = v.body + b"".join(f.to_bytes(2, "little") for f in v.fixups)
            data_off = self.blob.put(data)
            L.VARIANT.pack_into(self.blob.data, entry_off + vpos + i * L.VARIANT.size,
                                v.min_avail, len(v.body), len(v.fixups), int(v.tc),
                                v.an, v.ns, v.ar, 0, data_off)
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
            ds = ns.answer_exact(node, TYPE_DS)
            return default, [(TYPE_DS, self._entry(ds, node.name, EXACT))]
        base = ns.answer_exact(node, NO_DATA_TYPE, synth)
        default = self._entry(base, node.name, mode)
        types = []
        for qtype in sorted(base.seen | {TYPE_ANY, TYPE_DS}):
            ans = ns.answer_exact(node, qtype, synth)
            off = self._entry(ans, node.name, mode)
            if off != default:
                types.append((qtype, off))
        return default, types

    def _referral(self, cut: Node) -> int:
        key = ("referral", cut.key)
        if key not in self._shared:
            ans = self.ns.answer_below(cut, NO_DATA_TYPE)
            self._shared[key] = self._entry(ans, cut.name, ANCESTOR)
        return self._shared[key]

    def _nxdomain(self, node: Node) -> int:
        key = ("nxdomain", node.zone.index)
        if key not in self._shared:
            ans = self.ns.answer_below(node, NO_DATA_TYPE)
            self._shared[key] = self._entry(ans, node.zone.apex_name, ANCESTOR)
        return self._shared[key]

    # -- the whole table ----------------------------------------------------------------------
    def build(self) -> bytes:
        nodes = sorted(self.ns.nodes.values(), key=lambda n: _canonical(n.key))
        node_off: dict[bytes, int] = {}
        patches: list[tuple[int, bytes]] = []
        for node in nodes:
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
            rec = bytearray(L.NODE.pack(len(node.key), flags, len(types), default, below_off))
            rec += node.key
            rec += b"\x00" * (L.align4(len(rec)) - len(rec))
            for qtype, off in types:
                rec += L.NODE_TYPE.pack(qtype, 0, off)
            off = self.blob.put(bytes(rec))
            node_off[node.key] = off
            if flags & L.NODE_BELOW_WILDCARD:
                patches.append((off + 8, below.key))
        for pos, wkey in patches:
            self.blob.data[pos:pos + 4] = node_off[wkey].to_bytes(4, "little")
        self.stats.nodes = len(nodes)
        chaos_off = self._chaos()
        seed = self._seed()
        slots_off, nslots = self._slots(node_off, seed)
        table = self.blob.data
        L.HEADER.pack_into(table, 0, L.MAGIC, nslots, 0, seed, slots_off, self.ns.max_labels,
                           chaos_off, len(table), 0)
        self.stats.table_len = len(table)
        return bytes(table)

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


def _canonical(key: bytes):
    return list(reversed(names.labels(key)))
