"""RDATA from presentation tokens to uncompressed wire form, one parser per type.

The types of a big zone (A, AAAA, NS, CNAME, PTR, DNAME, MX, TXT, SPF) have parsers of their own,
as strict as NSD's (addresses through ``inet_pton``). The other types dnslib knows go through its
``fromZone`` and ``pack``, with every field checked here first: dnslib reads numbers with ``int()``
(which takes ``+5`` and ``5_0``), base64 without validation, and names through IDNA without
``\\.`` or octet escapes, so names and strings are read here and set on its object afterwards.
CAA, LOC, HINFO and URI are small enough to write whole (dnslib's CAA strips quotes inside the
value, and its LOC rounds sizes where RFC 1876 truncates). Anything else known only by number
takes RFC 3597's ``\\# length hex``, whose wire form is checked against the type's layout.
"""

import binascii
import calendar
import datetime
import re
import socket

from dnslib.dns import (
    DNSKEY,
    DS,
    HTTPS,
    NAPTR,
    NSEC,
    RP,
    RRSIG,
    SOA,
    SRV,
    SSHFP,
    TLSA,
    decode_type_bitmap,
)
from dnslib.label import DNSBuffer, DNSLabel

from . import names, text
from .errors import BadRdata, BadTTL
from .rrtypes import type_code, type_name

_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_charstring = text.charstring
_name = text.name


def from_text(rtype: int, tokens: list, origin: bytes | None) -> bytes:
    """The wire RDATA of a record of type ``rtype`` written as ``tokens``."""
    try:
        if tokens and tokens[0] == "\\#":
            return generic(rtype, tokens)
        parser = PARSERS.get(rtype)
        if parser is None:
            raise BadRdata("has no text form here; write it as \\# length hex (RFC 3597)")
        return parser(tokens, origin)
    except BadRdata as e:
        raise BadRdata("%s: %s" % (type_name(rtype), e.message)) from None


def _want(tokens, n, what):
    if len(tokens) != n:
        raise BadRdata("takes %s, not %d field%s" % (what, len(tokens), "" if len(tokens) == 1
                                                     else "s"))


def _u8(token, what="field"):
    return bytes((text.number(token, 8, what),))


def _u16(token, what="field"):
    return text.number(token, 16, what).to_bytes(2, "big")


def _lstring(token, limit=255):
    data = _charstring(token, limit)
    return bytes((len(data),)) + data


# -- the types of a big zone ------------------------------------------------------------------

def _a(tokens, origin):
    _want(tokens, 1, "one IPv4 address")
    try:
        return _inet_pton(_AF_INET, tokens[0])
    except (OSError, ValueError):
        raise BadRdata("invalid IPv4 address '%s'" % tokens[0]) from None


def _aaaa(tokens, origin):
    _want(tokens, 1, "one IPv6 address")
    try:
        return _inet_pton(_AF_INET6, tokens[0])
    except (OSError, ValueError):
        raise BadRdata("invalid IPv6 address '%s'" % tokens[0]) from None


def _one_name(tokens, origin):
    _want(tokens, 1, "one name")
    return _name(tokens[0], origin)


def _mx(tokens, origin):
    _want(tokens, 2, "a preference and a name")
    return _u16(tokens[0], "preference") + _name(tokens[1], origin)


def _txt(tokens, origin):
    if not tokens:
        raise BadRdata("needs at least one character-string")
    return b"".join([_lstring(t) for t in tokens])


def _hinfo(tokens, origin):
    _want(tokens, 2, "two character-strings (CPU and OS)")
    return _lstring(tokens[0]) + _lstring(tokens[1])


def _caa(tokens, origin):
    # RFC 8659 4.1: flags, a tag of ASCII letters and digits, a value of any length
    _want(tokens, 3, "flags, a tag and a value")
    tag = _charstring(tokens[1])
    if not tag.isalnum():
        raise BadRdata("tag '%s' is not letters and digits" % tokens[1])
    return _u8(tokens[0], "flags") + bytes((len(tag),)) + tag + _charstring(tokens[2], None)


def _uri(tokens, origin):
    # RFC 7553 4.5: the target is all the rest of the RDATA, with no length octet
    _want(tokens, 3, "a priority, a weight and a target")
    target = _charstring(tokens[2], None)
    if not target:
        raise BadRdata("target is empty")
    return _u16(tokens[0], "priority") + _u16(tokens[1], "weight") + target


# -- LOC (RFC 1876) ---------------------------------------------------------------------------

_NUM = r"([0-9]+(?:\.[0-9]+)?)"
_LOC = re.compile(
    r"([0-9]+)(?: ([0-9]+)(?: %s)?)? ([NS]) ([0-9]+)(?: ([0-9]+)(?: %s)?)? ([EW])"
    r" (-?[0-9]+(?:\.[0-9]+)?)m?(?: %sm?)?(?: %sm?)?(?: %sm?)?" % ((_NUM,) * 5), re.I)


def _fixed(value: str, places: int, what: str) -> int:
    """A decimal as an integer count of 10**-places units, refusing finer precision."""
    whole, _, frac = value.partition(".")
    if len(frac) > places or len(value) > 20:
        raise BadRdata("%s %s has more than %d decimals or digits to spare" % (what, value, places))
    return int(whole + frac.ljust(places, "0"))


def _angle(deg, minutes, sec, limit, what):
    deg = int(deg)
    minutes = int(minutes or 0)
    ms = _fixed(sec or "0", 3, what + " seconds")
    if minutes >= 60 or ms >= 60000 or deg > limit or (deg == limit and (minutes or ms)):
        raise BadRdata("%s %s %s %s is out of range" % (what, deg, minutes, sec or 0))
    return (deg * 3600 + minutes * 60) * 1000 + ms


def _precsize(cm: int) -> int:
    # RFC 1876 appendix A, precsize_aton: mantissa and power of ten, truncated
    e = 0
    while e < 9 and cm >= 10 ** (e + 1):
        e += 1
    return min(cm // 10 ** e, 9) << 4 | e


def _loc(tokens, origin):
    m = _LOC.fullmatch(" ".join(tokens))
    if not m:
        raise BadRdata("is not 'd [m [s]] N|S d [m [s]] E|W alt[m] [size [hp [vp]]]'")
    g = m.groups()
    lat = _angle(g[0], g[1], g[2], 90, "latitude")
    lon = _angle(g[4], g[5], g[6], 180, "longitude")
    lat = 2**31 + (lat if g[3].upper() == "N" else -lat)
    lon = 2**31 + (lon if g[7].upper() == "E" else -lon)
    alt = _fixed(g[8], 2, "altitude") + 10000000
    if not 0 <= alt < 2**32:
        raise BadRdata("altitude %sm is out of range" % g[8])
    sizes = []
    for value, default in zip(g[9:12], ("1", "10000", "10"), strict=True):
        cm = _fixed(value or default, 2, "size")
        if cm > 9 * 10**9:
            raise BadRdata("size %sm is over 90000000m" % value)
        sizes.append(_precsize(cm))
    return bytes([0] + sizes) + b"".join(v.to_bytes(4, "big") for v in (lat, lon, alt))


# -- types read by dnslib ---------------------------------------------------------------------

class _Wire(DNSBuffer):
    """A dnslib buffer that never compresses: RDATA in the model is stored uncompressed."""

    def encode_name(self, name):
        self.encode_name_nocompress(name)


_NAME, _LABELS, _STRING, _U8, _U16, _U32, _TIMER, _TYPE, _SIGTIME = range(9)
_BITS = {_U8: 8, _U16: 16, _U32: 32}


def _sigtime(token: str) -> int:
    # RFC 4034 3.2: YYYYMMDDHHmmSS in UTC, or seconds since the epoch; 14 digits are a date
    if len(token) == 14 and token.isdecimal():
        try:
            when = datetime.datetime(int(token[0:4]), int(token[4:6]), int(token[6:8]),
                                     int(token[8:10]), int(token[10:12]), int(token[12:14]))
        except ValueError:
            raise BadRdata("signature time %s is not a date" % token) from None
        return calendar.timegm(when.timetuple()) % 2**32  # serial arithmetic, RFC 4034 3.1.5
    return text.number(token, 32, "signature time")


def _covered(token: str) -> int:
    code = type_code(token)
    if code is None:
        raise BadRdata("unknown type '%s'" % token)
    return code


def _hex(tail):
    if not tail:
        raise BadRdata("needs hex data")
    return ["".join(tail)]


def _base64(tail):
    data = "".join(tail)
    try:
        binascii.a2b_base64(data.encode("latin-1"), strict_mode=True)
    except (binascii.Error, ValueError):
        raise BadRdata("has bad base64 '%.40s'" % data) from None
    if not data:
        raise BadRdata("needs base64 data")
    return [data]


def _type_list(tail):
    # dnslib looks mnemonics up in its own table, which misnames 53; numbers it reads exactly
    return ["TYPE%d" % _covered(t) for t in tail]


def _svc_params(tail):
    # RFC 9460 calls key 5 "ech"; dnslib knows it by its draft name
    return ["echconfig" + t[3:] if t[:4].lower() in ("ech", "ech=") else t for t in tail]


def _svc_sorted(obj):
    # RFC 9460 2.2: keys in strictly increasing order on the wire, each once
    obj.params.sort(key=lambda kv: kv[0])
    keys = [k for k, _ in obj.params]
    if len(set(keys)) != len(keys):
        raise BadRdata("repeats a SvcParamKey")


def _bridge(cls, fields, rest=None, post=None):
    """A parser that reads ``fields`` here and hands the rest to dnslib's ``cls.fromZone``."""
    count = len(fields)

    def parse(tokens, origin):
        if len(tokens) < count or (rest is None and len(tokens) != count):
            raise BadRdata("takes %s%d fields, not %d" % ("at least " if rest else "",
                                                          count + (rest is not None),
                                                          len(tokens)))
        args = list(tokens[:count])
        late = []
        for i, (kind, attr) in enumerate(fields):
            token = tokens[i]
            if kind == _NAME:
                late.append((attr, DNSLabel(names.labels(_name(token, origin)))))
                args[i] = "."
            elif kind == _LABELS:
                late.append((attr, names.labels(_name(token, origin))))
                args[i] = "."
            elif kind == _STRING:
                late.append((attr, _charstring(token)))
                args[i] = ""
            elif kind == _TIMER:
                try:
                    args[i] = str(text.ttl(token, 2**32 - 1, attr))
                except BadTTL as e:
                    raise BadRdata(e.message) from None
            elif kind == _TYPE:
                late.append((attr, _covered(token)))
                args[i] = "A"
            elif kind == _SIGTIME:
                late.append((attr, _sigtime(token)))
                args[i] = "19700101000000"
            else:
                args[i] = str(text.number(token, _BITS[kind], attr))
        if rest is not None:
            args.extend(rest(tokens[count:]))
        try:
            obj = cls.fromZone(args, None)
            for attr, value in late:
                setattr(obj, attr, value)
            if post is not None:
                post(obj)
            buf = _Wire()
            obj.pack(buf)
        except BadRdata:
            raise
        except Exception as e:  # dnslib raises many kinds; each is bad RDATA, never a traceback
            raise BadRdata("does not parse: %s" % (e or type(e).__name__)) from None
        return bytes(buf.data)

    return parse


_SOA = _bridge(SOA, [(_NAME, "mname"), (_NAME, "rname"), (_U32, "serial"), (_TIMER, "refresh"),
                     (_TIMER, "retry"), (_TIMER, "expire"), (_TIMER, "minimum")])
_SRV = _bridge(SRV, [(_U16, "priority"), (_U16, "weight"), (_U16, "port"), (_NAME, "target")])
_NAPTR = _bridge(NAPTR, [(_U16, "order"), (_U16, "preference"), (_STRING, "flags"),
                         (_STRING, "service"), (_STRING, "regexp"), (_NAME, "replacement")])
_RP = _bridge(RP, [(_NAME, "mbox"), (_NAME, "txt")])
_DS = _bridge(DS, [(_U16, "key tag"), (_U8, "algorithm"), (_U8, "digest type")], _hex)
_DNSKEY = _bridge(DNSKEY, [(_U16, "flags"), (_U8, "protocol"), (_U8, "algorithm")], _base64)
_SSHFP = _bridge(SSHFP, [(_U8, "algorithm"), (_U8, "fingerprint type")], _hex)
_TLSA = _bridge(TLSA, [(_U8, "usage"), (_U8, "selector"), (_U8, "matching type")], _hex)
_RRSIG = _bridge(RRSIG, [(_TYPE, "covered"), (_U8, "algorithm"), (_U8, "labels"),
                         (_U32, "original TTL"), (_SIGTIME, "sig_exp"), (_SIGTIME, "sig_inc"),
                         (_U16, "key tag"), (_NAME, "name")], _base64)
_NSEC = _bridge(NSEC, [(_NAME, "label")], _type_list)
_SVCB = _bridge(HTTPS, [(_U16, "priority"), (_LABELS, "target")], _svc_params, _svc_sorted)

PARSERS = {
    1: _a, 28: _aaaa, 2: _one_name, 5: _one_name, 12: _one_name, 39: _one_name, 15: _mx,
    16: _txt, 99: _txt, 13: _hinfo, 6: _SOA, 33: _SRV, 35: _NAPTR, 17: _RP, 43: _DS, 59: _DS,
    48: _DNSKEY, 60: _DNSKEY, 44: _SSHFP, 52: _TLSA, 46: _RRSIG, 47: _NSEC, 257: _caa,
    29: _loc, 64: _SVCB, 65: _SVCB, 256: _uri,
}


# -- RFC 3597 and wire checks -----------------------------------------------------------------

_HEXCHARS = re.compile(r"[0-9a-fA-F]*")


def generic(rtype: int, tokens: list) -> bytes:
    """RDATA written as ``\\# length hex...`` (RFC 3597 5), checked against its type if known."""
    if len(tokens) < 2 or not tokens[1].isdecimal() or len(tokens[1]) > 5:
        raise BadRdata("\\# needs a length in octets")
    length = int(tokens[1])
    hexdata = "".join(tokens[2:])
    if not _HEXCHARS.fullmatch(hexdata) or len(hexdata) % 2:
        raise BadRdata("\\# data is not pairs of hex digits")
    data = bytes.fromhex(hexdata)
    if len(data) != length:
        raise BadRdata("\\# length %d does not match the %d octets given" % (length, len(data)))
    if length > 65535:
        raise BadRdata("\\# length %d is over 65535" % length)
    check_wire(rtype, data)
    return data


# One letter per field: n name, B/H/I 1/2/4 octets, s character-string, S one or more of them
# to the end, x any octets to the end.
LAYOUTS = {
    1: "I", 28: "IIII", 2: "n", 5: "n", 12: "n", 39: "n", 15: "Hn", 6: "nnIIIII", 16: "S",
    99: "S", 13: "ss", 17: "nn", 33: "HHHn", 35: "HHsssn", 43: "HBBx", 59: "HBBx", 48: "HBBx",
    60: "HBBx", 46: "HBBIIIHnx", 47: "nx", 257: "Bsx", 44: "BBx", 52: "BBBx", 29: "IIII",
    64: "Hnx", 65: "Hnx", 256: "HHx",
}
_SIZES = {"B": 1, "H": 2, "I": 4}
# dnslib unpacks these soundly (no names, or names it reads label by label), so it checks them too
_DNSLIB_PARSE = {43: DS, 59: DS, 48: DNSKEY, 60: DNSKEY, 44: SSHFP, 52: TLSA, 64: HTTPS,
                 65: HTTPS}


def check_wire(rtype: int, data: bytes) -> None:
    """Refuse wire RDATA that does not have its type's layout; unknown types pass."""
    layout = LAYOUTS.get(rtype)
    if layout is None:
        return
    end = len(data)
    i = 0
    for field in layout:
        if field == "n":
            i = _skip_name(data, i)
        elif field == "s":
            if i >= end:
                raise BadRdata("RDATA ends before a character-string")
            i += 1 + data[i]
        elif field == "S":
            if i >= end:
                raise BadRdata("RDATA needs at least one character-string")
            while i < end:
                i += 1 + data[i]
        elif field == "x":
            i = end
        else:
            i += _SIZES[field]
        if i > end:
            raise BadRdata("RDATA of %d octets is too short" % end)
    if i != end:
        raise BadRdata("RDATA has %d octets too many" % (end - i))
    try:
        if rtype in _DNSLIB_PARSE:
            buf = DNSBuffer(data)
            _DNSLIB_PARSE[rtype].parse(buf, end)
            if buf.offset != end:
                raise BadRdata("RDATA has %d octets too many" % (end - buf.offset))
        elif rtype == 47:
            decode_type_bitmap(data[_skip_name(data, 0):])
    except BadRdata:
        raise
    except Exception as e:
        raise BadRdata("RDATA does not unpack: %s" % (e or type(e).__name__)) from None
    if rtype == 29 and data[0] != 0:
        raise BadRdata("version %d is not 0 (RFC 1876)" % data[0])


def _skip_name(data: bytes, i: int) -> int:
    start = i
    while True:
        if i >= len(data):
            raise BadRdata("RDATA ends inside a name")
        n = data[i]
        if n == 0:
            i += 1
            break
        if n > names.MAX_LABEL:
            raise BadRdata("name holds a compression pointer or a label of %d octets" % n)
        i += 1 + n
    if i - start > names.MAX_NAME:
        raise BadRdata("name of %d octets is over %d" % (i - start, names.MAX_NAME))
    return i

