"""Build-time encoding of response bodies with name compression that survives a moved question.

A prepared response is everything after the question. It is encoded against a *template*
question name T; at run time the real question may be longer or shorter (a wildcard, NXDOMAIN
or referral answer serves many names), so every compression pointer whose target moves with the
question is recorded as a fixup and shifted by ``len(qname) - len(T)`` when answering.
A pointer to the whole query name (the owner of a wildcard-synthesised answer) never moves: it
is always offset 12 (RFC 4592 section 3.4.3 says the owner is the query name).
"""

import struct

from zones import names

HEADER_LEN = 12
QNAME_OFFSET = 12
MAX_POINTER = 0x3FFF

# RFC 3597 section 4: names inside RDATA may be compressed only for the RFC 1035 types.
# Value: the layout of the RDATA as (kind, size) atoms: "n" a compressible name, or a fixed
# run of octets. NSD compresses exactly these (its RDATA_WF_COMPRESSED_DNAME).
COMPRESSED_RDATA = {
    2: ("n",),             # NS
    3: ("n",),             # MD
    4: ("n",),             # MF
    5: ("n",),             # CNAME
    6: ("n", "n", 20),     # SOA
    7: ("n",),             # MB
    8: ("n",),             # MG
    9: ("n",),             # MR
    12: ("n",),            # PTR
    14: ("n", "n"),        # MINFO
    15: (2, "n"),          # MX
}

# Answer sections in the order NSD encodes them (answer.h rr_section_type).
ANSWER, AUTHORITY, OPTIONAL_AUTHORITY, ADDITIONAL_A, ADDITIONAL_AAAA, ADDITIONAL_OTHER = range(6)


class _QueryName:
    """Owner placeholder: "the query name", always a pointer to offset 12."""

    def __repr__(self):
        return "QNAME"


QNAME = _QueryName()
EXACT, ANCESTOR, WILDCARD = "exact", "ancestor", "wildcard"


class Encoder:
    """Writes one response body after a template question, tracking compression and fixups.

    ``mode`` says how the template relates to the questions the body will answer:
    EXACT: the question is the template (only its case may differ), so nothing moves;
    ANCESTOR: the template is the question or an ancestor of it (NXDOMAIN, NODATA, referral);
    WILDCARD: the template is ``*.<closest encloser>`` and the question replaces the ``*``.
    """

    def __init__(self, template: bytes, mode: str, limit: int = 65535):
        assert mode in (EXACT, ANCESTOR, WILDCARD)
        self.template = template
        self.moves = mode != EXACT
        self.base = HEADER_LEN + len(template) + 4   # message offset of the body
        self.buf = bytearray()
        self.fixups: list[int] = []                  # body positions of pointers that move
        self.limit = limit                           # room left for the body
        self.needed = 1 << 30                        # smallest limit that fits one more record
        self.dict: dict[bytes, int] = {}
        off = QNAME_OFFSET
        for i, suffix in enumerate(names.suffixes(template)):
            if suffix == names.ROOT:
                break
            if i > 0 or mode != WILDCARD:
                self.dict[names.key(suffix)] = off
            off += 1 + suffix[0]

    # -- low level ---------------------------------------------------------------------------
    def mark(self):
        return (len(self.buf), len(self.fixups), dict(self.dict))

    def reset(self, mark):
        n, f, d = mark
        del self.buf[n:]
        del self.fixups[f:]
        self.dict = d

    def _pointer(self, target: int, moves: bool):
        if moves and self.moves:
            self.fixups.append(len(self.buf))
        self.buf += struct.pack("!H", 0xC000 | target)

    def name(self, name: bytes, compress: bool = True):
        """Write a name, compressed against earlier names when ``compress`` (else in full)."""
        if not compress:
            self.buf += name
            return
        parts = list(names.suffixes(name))
        for suffix in parts:
            if suffix == names.ROOT:
                self.buf += b"\x00"
                return
            k = names.key(suffix)
            target = self.dict.get(k)
            if target is not None:
                self._pointer(target, True)
                return
            here = self.base + len(self.buf)
            # a moving body may land up to 255 octets later (the longest question)
            if here + (255 if self.moves else 0) <= MAX_POINTER:
                self.dict[k] = here
            # written in lower case, as NSD stores zone data
            self.buf += k[:1 + k[0]]

    def owner(self, owner):
        if owner is QNAME:
            self._pointer(QNAME_OFFSET, False)
        else:
            self.name(owner)

    def rr(self, owner, rtype: int, rclass: int, ttl: int, rdata: bytes) -> bool:
        """Append one record; False (and nothing written) if it does not fit the limit."""
        mark = self.mark()
        self.owner(owner)
        self.buf += struct.pack("!HHI", rtype, rclass, ttl)
        lenpos = len(self.buf)
        self.buf += b"\x00\x00"
        layout = COMPRESSED_RDATA.get(rtype)
        if layout is None:
            self.buf += rdata
        else:
            i = 0
            for atom in layout:
                if atom == "n":
                    end = _name_end(rdata, i)
                    self.name(rdata[i:end])
                    i = end
                else:
                    self.buf += rdata[i:i + atom]
                    i += atom
            self.buf += rdata[i:]
        struct.pack_into("!H", self.buf, lenpos, len(self.buf) - lenpos - 2)
        if len(self.buf) > self.limit:
            self.needed = min(self.needed, len(self.buf))
            self.reset(mark)
            return False
        return True


def _name_end(wire: bytes, i: int) -> int:
    while wire[i]:
        i += 1 + wire[i]
    return i + 1
