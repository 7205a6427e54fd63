"""Read master files into RRsets: directives, includes, and what a record may leave out.

What a record leaves out (RFC 1035 5.1, RFC 2308 4):
- a blank owner (the line starts with a space or tab) is the previous record's owner;
- a missing class is IN; only IN is accepted;
- a missing TTL is the $TTL in force; without one, the previous record's TTL; without one, for
  the SOA itself, its MINIMUM (what BIND does); without any of these, 3600 with a DefaultTTL
  warning (NSD's default). NSD 4.6 itself never carries a TTL over from the previous record: it
  uses $TTL or 3600, so zones meant to compare with NSD should set $TTL.

$INCLUDE reads a path relative to the including file's directory (the working directory for
text given directly), optionally under a new origin. As in NSD, the origin and the previous
owner come back when the included file ends; $TTL set inside it stays in force.

Files are read as bytes and decoded as latin-1, which cannot fail and maps each octet to one
character, so binary junk produces problems rather than exceptions and names keep their octets.
"""

import hashlib
import os

from . import names, rdata, text
from .errors import (
    DefaultTTL,
    DuplicateRecord,
    FileProblem,
    IncludeCycle,
    NoOrigin,
    SyntaxProblem,
    TTLMismatch,
    ZoneProblem,
)
from .lexer import records
from .model import CLASS_IN, TYPE_CNAME, TYPE_DNAME, TYPE_NS, TYPE_SOA, RRset, Where, Zone
from .rrtypes import META, check_class, is_class, record_type, type_name

DEFAULT_TTL = 3600
TYPE_RRSIG = 46

# Types whose every record keeps its own Where, so that checks about the second record of a set
# (a second SOA or CNAME, the NS that lacks glue) can point at it. Other sets keep only the first.
TRACKED = frozenset((TYPE_SOA, TYPE_CNAME, TYPE_DNAME, TYPE_NS))

# Mnemonics as usually written, tried before the general TTL/class/type analysis.
_PLAIN_TYPES = {name: code for code, name in
                ((c, type_name(c)) for c in rdata.PARSERS) if code not in META}

# Two records are the same if their RDATA is, names compared without case (RFC 4034 6.2).
_DUP_KEY = {
    TYPE_NS: bytes.lower, TYPE_CNAME: bytes.lower, 12: bytes.lower, TYPE_DNAME: bytes.lower,
    17: bytes.lower, 15: lambda w: w[:2] + w[2:].lower(), 33: lambda w: w[:6] + w[6:].lower(),
}
_SMALL_SET = 16  # above this many records, duplicates are found through a set

_BAD_OWNER = object()  # the owner of the last record could not be read: skip its followers


class Reader:
    """Reads one zone's files; collects RRsets, problems and warnings along the way."""

    def __init__(self, origin: bytes | None = None):
        self.zone_origin = origin
        self.origin = origin            # the $ORIGIN in force
        self.first_origin = None
        self.first_soa_owner = None
        self.owner = None               # the previous record's owner
        self._owner_token = None        # and the token and origin it was read from
        self._owner_origin = None
        self.last_ttl = None
        self.default_ttl = None         # $TTL
        self.rrsets: dict = {}
        self.record_where: dict = {}    # (owner key, type) -> [Where] for TRACKED types
        self.files: list = []
        self.problems: list = []
        self.warnings: list = []
        self._sha = hashlib.sha256()
        self._open: list = []           # real paths of the files being read, outermost first
        self._seen: dict = {}           # (owner key, type) -> duplicate keys, for big sets

    # -- files --------------------------------------------------------------------------------

    def read_file(self, path: str, where: Where | None = None) -> None:
        """Read a zone file; a problem opening it is raised, problems inside it are collected."""
        try:
            real = os.path.realpath(path)
            if real in self._open:
                raise IncludeCycle("$INCLUDE of '%s' would read it again inside itself" % path,
                                   where)
            with open(path, "rb") as f:
                data = f.read()
        except (OSError, ValueError) as e:  # ValueError: a NUL in the path
            raise FileProblem("cannot read '%s': %s" % (path, getattr(e, "strerror", None) or e),
                              where) from None
        self.read_bytes(data, path, os.path.dirname(path), real)

    def read_bytes(self, data: bytes, filename: str, directory: str = "", real=None) -> None:
        """Read zone text given as bytes; ``directory`` is where its $INCLUDEs are looked for."""
        self.files.append(filename)
        self._sha.update(data)
        self._open.append(real)
        try:
            self._read(data.decode("latin-1"), filename, directory)
        finally:
            self._open.pop()

    # -- records ------------------------------------------------------------------------------

    def _read(self, source: str, filename: str, directory: str) -> None:
        plain_types = _PLAIN_TYPES
        from_text = rdata.from_text
        for line, blank, tokens, error in records(source):
            try:
                if error is not None:
                    if not blank:
                        self.owner = _BAD_OWNER
                        self._owner_token = None
                    raise SyntaxProblem(error)
                if blank:
                    owner = self.owner
                    if owner is _BAD_OWNER:
                        continue
                    if owner is None:
                        raise SyntaxProblem("no owner, and no earlier record to take it from")
                    i = 0
                else:
                    token = tokens[0]
                    if token[0] == "$":
                        self._directive(tokens, filename, directory, line)
                        continue
                    if token == self._owner_token and self.origin is self._owner_origin:
                        owner = self.owner
                    else:
                        self.owner = _BAD_OWNER
                        self._owner_token = None
                        owner = text.name(token, self.origin)
                        self.owner = owner
                        self._owner_token = token
                        self._owner_origin = self.origin
                    i = 1
                if i >= len(tokens):
                    raise SyntaxProblem("record has no type")
                ttl = None
                rtype = plain_types.get(tokens[i])
                if rtype is None:
                    ttl, rtype, i = self._head(tokens, i)
                wire = from_text(rtype, tokens[i + 1:], self.origin)
                if ttl is None:
                    ttl = self._default_ttl(rtype, wire, filename, line)
                self.last_ttl = ttl
                self._add(owner, rtype, ttl, wire, filename, line)
            except ZoneProblem as p:
                if p.where is None:
                    p.where = Where(filename, line)
                self.problems.append(p)

    @staticmethod
    def _head(tokens: list, i: int):
        """TTL and class in either order, then the type: ``(ttl or None, type, index of type)``."""
        ttl = None
        seen_class = False
        n = len(tokens)
        while i < n:
            token = tokens[i]
            rtype = _PLAIN_TYPES.get(token)
            if rtype is not None:
                return ttl, rtype, i
            if token[0] in "0123456789":
                if ttl is not None:
                    raise SyntaxProblem("two TTLs in one record")
                ttl = text.ttl(token)
            elif token == "IN" or is_class(token):
                if seen_class:
                    raise SyntaxProblem("two classes in one record")
                if token != "IN":
                    check_class(token)
                seen_class = True
            else:
                return ttl, record_type(token), i
            i += 1
        raise SyntaxProblem("record has no type")

    def _default_ttl(self, rtype: int, wire: bytes, filename: str, line: int) -> int:
        if self.default_ttl is not None:
            return self.default_ttl
        if self.last_ttl is not None:
            return self.last_ttl
        if rtype == TYPE_SOA:
            return min(int.from_bytes(wire[-4:], "big"), text.TTL_MAX)
        self.warnings.append(DefaultTTL("no TTL, no $TTL and no earlier record to take one from;"
                                        " using %d" % DEFAULT_TTL, Where(filename, line)))
        return DEFAULT_TTL

    def _add(self, owner: bytes, rtype: int, ttl: int, wire: bytes, filename: str,
             line: int) -> None:
        k = (owner.lower(), rtype)
        rrset = self.rrsets.get(k)
        if rrset is None:
            where = Where(filename, line)
            self.rrsets[k] = RRset(owner, rtype, CLASS_IN, ttl, [wire], where)
            if rtype in TRACKED:
                self.record_where[k] = [where]
                if rtype == TYPE_SOA and self.first_soa_owner is None:
                    self.first_soa_owner = owner
            return
        if ttl != rrset.ttl:
            # RRSIGs over different types share one set here but rightly differ (RFC 4034 3)
            if rtype != TYPE_RRSIG:
                self.warnings.append(TTLMismatch(
                    "TTL %d of this %s %s record differs from the TTL %d of its RRset; the set"
                    " gets the lowest (RFC 2181 5.2)" % (ttl, names.to_text(owner),
                                                         type_name(rtype), rrset.ttl),
                    Where(filename, line)))
            if ttl < rrset.ttl:
                rrset.ttl = ttl
        if self._is_duplicate(k, rrset.rdatas, wire):
            self.warnings.append(DuplicateRecord(
                "duplicate %s %s record ignored" % (names.to_text(owner), type_name(rtype)),
                Where(filename, line)))
            return
        rrset.rdatas.append(wire)
        if rtype in TRACKED:
            self.record_where[k].append(Where(filename, line))

    def _is_duplicate(self, k, rdatas: list, wire: bytes) -> bool:
        dup_key = _DUP_KEY.get(k[1])
        if len(rdatas) < _SMALL_SET:
            if dup_key is None:
                return wire in rdatas
            mine = dup_key(wire)
            return any(dup_key(r) == mine for r in rdatas)
        seen = self._seen.get(k)
        if seen is None:
            seen = self._seen[k] = {dup_key(r) if dup_key else r for r in rdatas}
        mine = dup_key(wire) if dup_key else wire
        if mine in seen:
            return True
        seen.add(mine)
        return False

    # -- directives ---------------------------------------------------------------------------

    def _directive(self, tokens: list, filename: str, directory: str, line: int) -> None:
        word = tokens[0].upper()
        args = tokens[1:]
        if word == "$ORIGIN":
            if len(args) != 1:
                raise SyntaxProblem("$ORIGIN takes one name")
            self.origin = text.name(args[0], self.origin)
            if self.first_origin is None:
                self.first_origin = self.origin
        elif word == "$TTL":
            if len(args) != 1:
                raise SyntaxProblem("$TTL takes one TTL")
            self.default_ttl = text.ttl(args[0])
        elif word == "$INCLUDE":
            if not 1 <= len(args) <= 2:
                raise SyntaxProblem("$INCLUDE takes a file name and an optional origin")
            path = os.path.join(directory, os.fsdecode(text.charstring(args[0], None)))
            origin = text.name(args[1], self.origin) if len(args) == 2 else self.origin
            saved = (self.origin, self.owner, self._owner_token, self._owner_origin)
            self.origin = origin
            try:
                self.read_file(path, Where(filename, line))
            finally:
                self.origin, self.owner, self._owner_token, self._owner_origin = saved
        else:
            raise SyntaxProblem("unknown directive %s" % tokens[0])

    # -- the result ---------------------------------------------------------------------------

    def zone(self) -> Zone | None:
        """The zone read so far, or None (with a NoOrigin problem) if it has no origin."""
        origin = self.zone_origin or self.first_soa_owner or self.first_origin
        if origin is None:
            self.problems.append(NoOrigin(
                "no origin: give one, or start the file with $ORIGIN or an SOA record"))
            return None
        return Zone(origin, self.rrsets, self.files, self._sha.hexdigest(), self.warnings)
