"""The sealed image file: a header, the answer table, and a SHA-256 over both.

Layout (integers little-endian):
    magic "APPLIMG\\x01", u32 format, u32 meta_len, u64 table_off, u64 table_len,
    meta (canonical JSON: zones, serials, source hashes, options), zero padding,
    the answer table (page aligned, so it can be mapped read-only in place),
    SHA-256 of every octet before it.
The same inputs give the same bytes: no timestamps, no absolute paths, sorted keys.
"""

import contextlib
import hashlib
import json
import mmap
import os
import struct

MAGIC = b"APPLIMG\x01"
FORMAT = 1
PREFIX = struct.Struct("<8sIIQQ")
PAGE = 4096
DIGEST_LEN = 32


class ImageError(Exception):
    """An image that cannot be served: unreadable, not an image, or changed since it was built."""


def write(path: str, table: bytes, meta: dict) -> str:
    """Write an image; returns its SHA-256 (hex)."""
    meta = dict(meta, format=FORMAT)
    blob = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    table_off = _round_up(PREFIX.size + len(blob), PAGE)
    head = PREFIX.pack(MAGIC, FORMAT, len(blob), table_off, len(table)) + blob
    head += b"\x00" * (table_off - len(head))
    h = hashlib.sha256(head)
    h.update(table)
    digest = h.digest()
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(table)
            f.write(digest)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ImageError("%s: cannot write: %s" % (path, e.strerror)) from None
    return digest.hex()


class Image:
    """An opened, verified image: ``meta``, ``digest`` and the table as a read-only buffer."""

    def __init__(self, path: str, meta: dict, digest: str, mm: mmap.mmap, table_off: int,
                 table_len: int, size: int):
        self.path = path
        self.meta = meta
        self.digest = digest
        self.size = size
        self._mm = mm
        self.table = memoryview(mm)[table_off:table_off + table_len]

    def close(self):
        self.table.release()
        self._mm.close()


def open_image(path: str) -> Image:
    """Open and verify an image; raises ImageError with one line saying what is wrong."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise ImageError("%s: cannot open: %s" % (path, e.strerror)) from None
    try:
        size = os.fstat(fd).st_size
        if size < PREFIX.size + DIGEST_LEN:
            raise ImageError("%s: not an appliance image (too short)" % path)
        mm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    except OSError as e:
        raise ImageError("%s: cannot map: %s" % (path, e.strerror)) from None
    finally:
        os.close(fd)
    magic, fmt, meta_len, table_off, table_len = PREFIX.unpack_from(mm, 0)
    if magic != MAGIC:
        mm.close()
        raise ImageError("%s: not an appliance image (bad magic)" % path)
    if fmt != FORMAT:
        mm.close()
        raise ImageError("%s: image format %d, this build reads format %d" % (path, fmt, FORMAT))
    if table_off + table_len + DIGEST_LEN != size or PREFIX.size + meta_len > table_off:
        mm.close()
        raise ImageError("%s: image is truncated or has a bad layout" % path)
    body = memoryview(mm)[:size - DIGEST_LEN]
    digest = hashlib.sha256(body).digest()
    body.release()
    if digest != mm[size - DIGEST_LEN:]:
        mm.close()
        raise ImageError("%s: hash mismatch: the image was changed after it was built; "
                         "refusing to serve it" % path)
    try:
        meta = json.loads(mm[PREFIX.size:PREFIX.size + meta_len])
    except ValueError:
        mm.close()
        raise ImageError("%s: image header is unreadable" % path) from None
    return Image(path, meta, digest.hex(), mm, table_off, table_len, size)


def _round_up(n: int, m: int) -> int:
    return (n + m - 1) // m * m
