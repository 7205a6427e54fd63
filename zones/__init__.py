"""Master-file (RFC 1035) reading and validation into a :class:`~zones.model.Zone`.

``zones`` imports nothing else of ours; the compiler in ``appliance`` consumes its model.
``load`` reads a file (and its $INCLUDEs) and returns the zone, or raises :class:`ZoneError`
listing every problem found; warnings come back on ``zone.warnings`` (or ``ZoneError.warnings``).
"""

import contextlib
import gc

from . import names, text
from .errors import BadName, ZoneError, ZoneProblem, ZoneWarning  # noqa: F401
from .model import RRset, Where, Zone  # noqa: F401
from .reader import Reader
from .validate import validate


def load(path: str, origin: bytes | str | None = None) -> Zone:
    """The zone in the master file at ``path``.

    The origin is ``origin`` if given (wire bytes, or text such as ``"example.com"``), else the
    owner of the file's SOA record, else its first $ORIGIN. The SOA owner wins over $ORIGIN
    because dumped zones often start with another one (``$ORIGIN .`` from BIND, ``$ORIGIN com.``
    from ``nsd-checkzone -p``). Raises ZoneError if there is any problem.
    """
    reader = Reader(_origin(origin))
    with _gc_paused():
        try:
            reader.read_file(path)
        except ZoneProblem as p:  # the file itself cannot be read: nothing more to say
            raise ZoneError([p], origin=reader.zone_origin) from None
        return _finish(reader)


def load_text(text: str, origin: bytes | str | None = None, filename: str = "<text>") -> Zone:
    """Like :func:`load` for zone text in a string; its $INCLUDEs are relative to the cwd."""
    reader = Reader(_origin(origin))
    with _gc_paused():
        reader.read_bytes(text.encode("utf-8", "surrogateescape"), filename)
        return _finish(reader)


@contextlib.contextmanager
def _gc_paused():
    # A big zone is millions of long-lived objects and no cycles; the collector would walk them
    # again and again for nothing (it doubles the load time of a million records).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _origin(origin) -> bytes | None:
    if origin is None:
        return None
    try:
        if isinstance(origin, str):
            token = origin.encode("utf-8", "surrogateescape").decode("latin-1")
            if not token:
                raise BadName("empty origin")
            return text.name(token, names.ROOT)  # "example.com" means "example.com."
        wire = bytes(origin)
        parts = names.labels(wire)
        if (names.from_labels(parts) != wire or len(wire) > names.MAX_NAME
                or any(len(p) > names.MAX_LABEL for p in parts)):
            raise BadName("origin %r is not a wire-format name" % wire)
        return wire
    except ZoneProblem as p:
        p.message = "bad origin: %s" % p.message
        raise ZoneError([p]) from None
    except IndexError:
        raise ZoneError([BadName("origin %r is not a wire-format name" % origin)]) from None


def _finish(reader: Reader) -> Zone:
    zone = reader.zone()
    if zone is not None:
        problems, warnings = validate(zone, reader.record_where)
        reader.problems.extend(problems)
        reader.warnings.extend(warnings)
    files = {}
    for f in reader.files:
        files.setdefault(f, len(files))

    def place(item):
        where = item.where
        if where is None:
            return (len(files), 0)
        return (files.get(where.file, len(files)), where.line)

    reader.problems.sort(key=place)
    reader.warnings.sort(key=place)
    if reader.problems:
        raise ZoneError(reader.problems, reader.warnings,
                        zone.origin if zone is not None else reader.zone_origin)
    return zone
