"""A strict structural reader of DNS messages, for what dnslib cannot read.

dnslib refuses labels that are not UTF-8, although any octet is legal in a label (RFC 2181
section 11); a query may carry such a name and the response echoes it. This reader checks the
message's structure instead: counts, names (pointers only backwards, RFC 1035 4.1.4), record
lengths, nothing left over.
"""

import struct


class Malformed(ValueError):
    pass


def _name(msg: bytes, pos: int) -> int:
    """Position after the name at ``pos``; follows pointers to check them."""
    end = None
    seen = 0
    while True:
        if pos >= len(msg):
            raise Malformed("name runs past the end")
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            if pos + 2 > len(msg):
                raise Malformed("cut pointer")
            target = struct.unpack("!H", msg[pos:pos + 2])[0] & 0x3FFF
            if target >= pos:
                raise Malformed("pointer does not point backwards")
            if end is None:
                end = pos + 2
            pos = target
            seen += 1
            if seen > 128:
                raise Malformed("pointer loop")
            continue
        if n & 0xC0:
            raise Malformed("bad label type")
        if n == 0:
            return end if end is not None else pos + 1
        pos += 1 + n


def check_message(msg: bytes) -> tuple[int, int, int, int]:
    """Raise Malformed unless ``msg`` is a well-formed message; returns its four counts."""
    if len(msg) < 12:
        raise Malformed("shorter than a header")
    qd, an, ns, ar = struct.unpack("!HHHH", msg[4:12])
    pos = 12
    for _ in range(qd):
        pos = _name(msg, pos) + 4
        if pos > len(msg):
            raise Malformed("question cut")
    for _ in range(an + ns + ar):
        pos = _name(msg, pos)
        if pos + 10 > len(msg):
            raise Malformed("record header cut")
        rdlen = struct.unpack("!H", msg[pos + 8:pos + 10])[0]
        pos += 10 + rdlen
        if pos > len(msg):
            raise Malformed("RDATA cut")
    if pos != len(msg):
        raise Malformed("%d octets left over" % (len(msg) - pos))
    return qd, an, ns, ar
