"""Domain names as uncompressed wire bytes.

A name is ``bytes`` in wire format with the case it was written in, for example
``b"\\x03www\\x07example\\x03com\\x00"``. Comparison and lookup use :func:`key`, the
name with ASCII letters lowered (RFC 4343: DNS names compare case-insensitively, ASCII only).
"""

ROOT = b"\x00"
MAX_LABEL = 63
MAX_NAME = 255


def key(name: bytes) -> bytes:
    """The form two names are compared by: ASCII lower case (RFC 4343)."""
    return name.lower()


def labels(name: bytes) -> list[bytes]:
    """The labels of a name, leftmost first, without the root."""
    out = []
    i = 0
    while name[i]:
        n = name[i]
        out.append(name[i + 1:i + 1 + n])
        i += 1 + n
    return out


def from_labels(parts) -> bytes:
    """The wire name made of these labels (leftmost first) under the root."""
    return b"".join(bytes([len(p)]) + p for p in parts) + b"\x00"


def label_count(name: bytes) -> int:
    n = 0
    i = 0
    while name[i]:
        i += 1 + name[i]
        n += 1
    return n


def parent(name: bytes) -> bytes:
    """The name with its leftmost label removed; the root is its own parent."""
    if name == ROOT:
        return ROOT
    return name[1 + name[0]:]


def suffixes(name: bytes):
    """The name itself, then each ancestor up to and including the root."""
    i = 0
    while True:
        yield name[i:]
        if not name[i]:
            return
        i += 1 + name[i]


def is_subdomain(name: bytes, of: bytes) -> bool:
    """True if ``name`` equals ``of`` or lies below it (case-insensitive, label-aligned)."""
    k = key(name)
    o = key(of)
    if len(o) > len(k):
        return False
    for s in suffixes(k):
        if len(s) == len(o):
            return s == o
        if len(s) < len(o):
            return False
    return False


def relativize(name: bytes, origin: bytes) -> list[bytes]:
    """The labels of ``name`` above ``origin`` (which it must lie below)."""
    return labels(name)[:label_count(name) - label_count(origin)]


def _label_text(label: bytes) -> str:
    out = []
    for b in label:
        c = chr(b)
        if c in '.;\\()"@$ ' or b < 0x21 or b > 0x7e:
            if c in '.;\\()"@$':
                out.append("\\" + c)
            else:
                out.append("\\%03d" % b)
        else:
            out.append(c)
    return "".join(out)


def to_text(name: bytes) -> str:
    """Presentation form with a trailing dot, with RFC 1035 escapes where needed."""
    if name == ROOT:
        return "."
    return ".".join(_label_text(p) for p in labels(name)) + "."


def from_text(text: str) -> bytes:
    """Parse an absolute presentation name (``\\DDD`` and ``\\X`` escapes allowed).

    Raises ValueError with a short reason for an empty label, a label over 63 octets, a name
    over 255 octets or a bad escape.
    """
    if text == ".":
        return ROOT
    trailing = len(text) - 1 - len(text[:-1].rstrip("\\"))
    if not text.endswith(".") or trailing % 2:
        # an escaped final dot ("a\\.") is part of a label, not the root
        raise ValueError("name is not absolute: %r" % text)
    parts = []
    cur = bytearray()
    i = 0
    n = len(text) - 1
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise ValueError("bad escape at end of name")
            if text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
                v = int(text[i + 1:i + 4])
                if v > 255:
                    raise ValueError("escape \\%s is over 255" % text[i + 1:i + 4])
                cur.append(v)
                i += 4
                continue
            if text[i + 1].isdigit():
                raise ValueError("bad escape \\%s (needs three digits)" % text[i + 1:i + 4])
            cur.extend(text[i + 1].encode("latin-1"))
            i += 2
            continue
        if c == ".":
            if not cur:
                raise ValueError("empty label in %r" % text)
            parts.append(bytes(cur))
            cur = bytearray()
            i += 1
            continue
        cur.extend(c.encode("utf-8"))
        i += 1
    if not cur:
        raise ValueError("empty label in %r" % text)
    parts.append(bytes(cur))
    for p in parts:
        if len(p) > MAX_LABEL:
            raise ValueError("label of %d octets is over 63" % len(p))
    wire = from_labels(parts)
    if len(wire) > MAX_NAME:
        raise ValueError("name of %d octets is over 255" % len(wire))
    return wire
