"""What the reader refuses (problems) and what it only remarks on (warnings).

Every problem is a :class:`ZoneProblem` subclass carrying a message and, where the text has a
place to blame, a :class:`~zones.model.Where`. The reader keeps going after a problem so that
one run reports all of them; :class:`ZoneError` is what ``load`` finally raises, with the list.
"""

from .model import Where


class ZoneProblem(Exception):
    """Something in the zone text that makes the zone unusable."""

    def __init__(self, message: str, where: Where | None = None):
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        if self.where is None:
            return self.message
        return "%s: %s" % (self.where, self.message)


class SyntaxProblem(ZoneProblem):
    """Text that is not a record or directive: unbalanced quotes or parentheses, missing fields."""


class FileProblem(ZoneProblem):
    """A zone file (or an $INCLUDE) that cannot be read."""


class IncludeCycle(ZoneProblem):
    """An $INCLUDE of a file that is already being read."""


class NoOrigin(ZoneProblem):
    """A relative name, or a whole zone, with no origin to complete it."""


class BadName(ZoneProblem):
    """A name that cannot be written in wire form: empty label, bad escape."""


class LabelTooLong(BadName):
    """A label of more than 63 octets (RFC 1035 2.3.4)."""


class NameTooLong(BadName):
    """A name of more than 255 octets in wire form (RFC 1035 2.3.4)."""


class BadTTL(ZoneProblem):
    """A TTL that is not a number with optional units, or is over 2^31 - 1 (RFC 2181 8)."""


class BadClass(ZoneProblem):
    """A class other than IN."""


class BadType(ZoneProblem):
    """An unknown type mnemonic, or a meta type that cannot appear in a zone."""


class BadRdata(ZoneProblem):
    """RDATA that does not parse, or whose wire form is not what its type requires."""


class NoSOA(ZoneProblem):
    """The zone has no SOA record at its origin."""


class MultipleSOA(ZoneProblem):
    """A second SOA record at the origin."""


class SOANotAtOrigin(ZoneProblem):
    """An SOA record whose owner is not the zone's origin."""


class NoNS(ZoneProblem):
    """No NS RRset at the apex."""


class CNAMEAndOtherData(ZoneProblem):
    """A CNAME beside other data at one name (RFC 1034 3.6.2; RFC 4035 2.5 allows RRSIG, NSEC)."""


class MultipleCNAME(ZoneProblem):
    """More than one CNAME record at a name (RFC 2181 10.1)."""


class MultipleDNAME(ZoneProblem):
    """More than one DNAME record at a name (RFC 6672 2.4)."""


class OutsideZone(ZoneProblem):
    """An owner that is neither the origin nor below it."""


class BadWildcard(ZoneProblem):
    """An owner with a ``*`` label that is not the leftmost label (RFC 4592 2.1.1)."""


class ZoneWarning:
    """Something worth fixing that does not stop the zone from loading."""

    def __init__(self, message: str, where: Where | None = None):
        self.message = message
        self.where = where

    def __str__(self) -> str:
        if self.where is None:
            return "warning: %s" % self.message
        return "%s: warning: %s" % (self.where, self.message)

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, str(self))


class TTLMismatch(ZoneWarning):
    """Records of one RRset with different TTLs; the RRset gets the lowest (RFC 2181 5.2)."""


class DuplicateRecord(ZoneWarning):
    """The same record written twice; one is kept (RFC 2181 5)."""


class MissingGlue(ZoneWarning):
    """A delegation whose in-bailiwick name server has no A or AAAA record in the zone."""


class DefaultTTL(ZoneWarning):
    """A record with no TTL, no $TTL and nothing earlier to take one from: 3600 is used."""


class ZoneError(Exception):
    """The zone has problems; ``problems`` lists all of them in the order they were found."""

    def __init__(self, problems: list, warnings: list | None = None, origin: bytes | None = None):
        self.problems = list(problems)
        self.warnings = list(warnings or [])
        self.origin = origin
        super().__init__("\n".join(str(p) for p in self.problems))
