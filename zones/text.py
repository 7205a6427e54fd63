"""Presentation-format values: names, character-strings, TTLs and numbers (RFC 1035 5.1).

Tokens are ``str`` decoded from the file's bytes as latin-1, so each character is one octet and
encoding back with latin-1 gives exactly the bytes that were written: a UTF-8 label stays the
same UTF-8 octets, and any other octet survives too. (``names.from_text`` encodes with UTF-8,
which suits names typed by people, not octets read from a file; hence this module's own parser.)
"""

import re

from . import names
from .errors import BadName, BadRdata, BadTTL, LabelTooLong, NameTooLong, NoOrigin

ROOT = names.ROOT
TTL_MAX = 2**31 - 1  # RFC 2181 8: the top bit of a TTL is reserved
_LEN = [bytes((i,)) for i in range(names.MAX_LABEL + 1)]
_DIGITS = frozenset("0123456789")


def name(token: str, origin: bytes | None) -> bytes:
    """The wire form of a name token; a relative name gets ``origin`` appended."""
    if token == "@":
        if origin is None:
            raise NoOrigin("'@' but no origin is known (give one, or use $ORIGIN)")
        return origin
    if "\\" in token:
        return _escaped_name(token, origin)
    if token[-1] == ".":
        if len(token) == 1:
            return ROOT
        parts = token[:-1].encode("latin-1").split(b".")
        tail = ROOT
    else:
        if origin is None:
            raise NoOrigin("relative name '%s' but no origin is known (give one, or use $ORIGIN)"
                           % token)
        parts = token.encode("latin-1").split(b".")
        tail = origin
    if b"" in parts:
        raise BadName("empty label in name '%s'" % token)
    try:
        wire = b"".join([_LEN[len(p)] + p for p in parts]) + tail
    except IndexError:  # _LEN stops at 63
        wire = None
    if wire is None:
        _too_long_label(token, parts)
    if len(wire) > names.MAX_NAME:
        _too_long_name(token, wire)
    return wire


def _escaped_name(token: str, origin: bytes | None) -> bytes:
    parts = []
    cur = bytearray()
    i = 0
    n = len(token)
    absolute = False
    while i < n:
        c = token[i]
        if c == "\\":
            i = _unescape_one(token, i, cur, BadName)
            continue
        if c == ".":
            if not cur:
                raise BadName("empty label in name '%s'" % token)
            parts.append(bytes(cur))
            cur = bytearray()
            i += 1
            if i == n:
                absolute = True
            continue
        cur.append(ord(c))
        i += 1
    if not absolute:
        if origin is None:
            raise NoOrigin("relative name '%s' but no origin is known (give one, or use $ORIGIN)"
                           % token)
        parts.append(bytes(cur))
    for p in parts:
        if len(p) > names.MAX_LABEL:
            _too_long_label(token, parts)
    wire = names.from_labels(parts)[:-1] + (ROOT if absolute else origin)
    if len(wire) > names.MAX_NAME:
        _too_long_name(token, wire)
    return wire


def _too_long_label(token, parts):
    longest = max(len(p) for p in parts)
    raise LabelTooLong("label of %d octets in '%s' is over %d" % (longest, token, names.MAX_LABEL))


def _too_long_name(token, wire):
    raise NameTooLong("name '%s' is %d octets (with the origin), over %d"
                      % (token, len(wire), names.MAX_NAME))


def _unescape_one(text: str, i: int, out: bytearray, error) -> int:
    """Append the octet that the escape at ``text[i]`` stands for; return the index after it."""
    digits = text[i + 1:i + 4]
    if len(digits) == 3 and digits[0] in _DIGITS and digits[1] in _DIGITS and digits[2] in _DIGITS:
        v = int(digits)
        if v > 255:
            raise error("escape \\%s is over 255" % digits)
        out.append(v)
        return i + 4
    if i + 1 >= len(text):
        raise error("backslash at the end of '%s'" % text)
    if text[i + 1] in _DIGITS:
        raise error("escape \\%s needs three digits" % digits)
    out.append(ord(text[i + 1]))
    return i + 2


def unescape(text: str, error=BadRdata) -> bytes:
    """The octets of a text with ``\\DDD`` and ``\\X`` escapes."""
    if "\\" not in text:
        return text.encode("latin-1")
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i = _unescape_one(text, i, out, error)
        else:
            out.append(ord(c))
            i += 1
    return bytes(out)


def charstring(token: str, limit: int | None = 255) -> bytes:
    """The octets of a <character-string> token, quoted or not (RFC 1035 3.3)."""
    if token[0] == '"':
        token = token[1:-1]
    data = unescape(token)
    if limit is not None and len(data) > limit:
        raise BadRdata("character-string of %d octets is over %d" % (len(data), limit))
    return data


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TTL_UNITS = re.compile(r"(?:[0-9]+[smhdwSMHDW])+")
_TTL_PART = re.compile(r"([0-9]+)([a-zA-Z])")


def ttl(token: str, maximum: int = TTL_MAX, what: str = "TTL") -> int:
    """Seconds from ``3600``, ``1h``, ``1w2d3h4m5s`` (units in any case; BIND's syntax)."""
    if len(token) > 64:
        # int() refuses very long digit strings, and no such TTL fits anyway
        raise BadTTL("%s '%.20s...' is over %d" % (what, token, maximum))
    if token.isdecimal():
        value = int(token)
    elif _TTL_UNITS.fullmatch(token):
        value = sum(int(n) * _UNITS[u.lower()] for n, u in _TTL_PART.findall(token))
    else:
        raise BadTTL("%s '%s' is not a number of seconds or a number with units (1w2d3h4m5s)"
                     % (what, token))
    if value > maximum:
        raise BadTTL("%s %s is over %d" % (what, token, maximum))
    return value


def number(token: str, bits: int, what: str = "field") -> int:
    """An unsigned decimal that fits in ``bits`` bits."""
    if not token.isdecimal():
        raise BadRdata("%s '%s' is not a number" % (what, token))
    if len(token) > 64:
        raise BadRdata("%s '%.20s...' is over %d" % (what, token, (1 << bits) - 1))
    value = int(token)
    if value >> bits:
        raise BadRdata("%s %s is over %d" % (what, token, (1 << bits) - 1))
    return value
