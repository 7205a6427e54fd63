"""Type and class mnemonics (RFC 1035 3.2, RFC 3597 5)."""

from dnslib.dns import QTYPE

from .errors import BadClass, BadType

# dnslib's table, with its one slip fixed (53 is SMIMEA, RFC 8162; HIP is 55).
BY_CODE: dict[int, str] = dict(QTYPE.forward)
BY_CODE[53] = "SMIMEA"
BY_CODE.update({11: "WKS", 14: "MINFO", 21: "RT", 26: "PX", 58: "TALINK"})
BY_NAME: dict[str, int] = {v: k for k, v in BY_CODE.items()}

# OPT and the QTYPE-only range (RFC 6895 3.1) cannot be records in a zone; 0 is reserved.
META = frozenset([0, 41] + list(range(128, 256)))

CLASS_NAMES = {"CS": 2, "CH": 3, "HS": 4}


def type_name(code: int) -> str:
    return BY_CODE.get(code) or "TYPE%d" % code


def type_code(token: str) -> int | None:
    """The type a mnemonic or ``TYPEnnn`` names (any case), or None if it names no type."""
    code = BY_NAME.get(token)
    if code is not None:
        return code
    upper = token.upper()
    code = BY_NAME.get(upper)
    if code is not None:
        return code
    if upper.startswith("TYPE") and upper[4:].isdecimal() and len(upper) <= 9:
        code = int(upper[4:])
        if code <= 0xFFFF:
            return code
    return None


def record_type(token: str) -> int:
    """The type of a record, refusing unknown mnemonics and meta types."""
    code = type_code(token)
    if code is None:
        raise BadType("unknown type '%s'" % token)
    if code in META:
        raise BadType("type %s cannot appear in a zone" % type_name(code))
    return code


def is_class(token: str) -> bool:
    """Whether a token in the TTL/class position is a class (and not the type that follows)."""
    upper = token.upper()
    return upper == "IN" or upper in CLASS_NAMES or (
        upper.startswith("CLASS") and upper[5:].isdecimal())


def check_class(token: str) -> None:
    """Refuse every class but IN (written ``IN`` or ``CLASS1``)."""
    upper = token.upper()
    if upper == "IN":
        return
    if upper.startswith("CLASS") and upper[5:].isdecimal() and len(upper) <= 10:
        if int(upper[5:]) == 1:
            return
    raise BadClass("class %s not supported (only IN)" % token)
