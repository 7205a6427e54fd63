"""The sealed image file: a header, the answer table, and a SHA-256 over both.

Layout (integers little-endian):
    magic "APPLIMG\\x01", u32 format, u32 meta_len, u64 table_off, u64 table_len,
    meta (canonical JSON: zones, serials, source hashes, options), zero padding,
    the answer table (page aligned, so it can be mapped read-only in place),
    SHA-256 of every octet before it.
The same inputs give the same bytes: no timestamps, no absolute paths, sorted keys.

Opening reads the whole image into the process's own memory and checks the hash there: what
is served is exactly what was verified, whatever happens to the file afterwards (a shared file
mapping would show later writes to the file). Under appliance-launch that memory is the region
reserved at boot.
"""

import contextlib
import hashlib
import json
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

    def __init__(self, path: str, meta: dict, digest: str, data: bytes, table_off: int,
                 table_len: int):
        self.path = path
        self.meta = meta
        self.digest = digest
        self.size = len(data)
        self._data = data
        self.table = memoryview(data)[table_off:table_off + table_len]

    def close(self):
        self.table.release()
        self._data = b""


def open_image(path: str) -> Image:
    """Open and verify an image; raises ImageError with one line saying what is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise ImageError("%s: is a directory, not an image file" % path) from None
    except OSError as e:
        raise ImageError("%s: cannot read: %s" % (path, e.strerror)) from None
    except MemoryError:
        raise ImageError("%s: no memory to hold the image (raise --memory)" % path) from None
    size = len(data)
    if size < PREFIX.size + DIGEST_LEN:
        raise ImageError("%s: not an appliance image (too short)" % path)
    magic, fmt, meta_len, table_off, table_len = PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise ImageError("%s: not an appliance image (bad magic)" % path)
    if fmt != FORMAT:
        raise ImageError("%s: image format %d, this build reads format %d" % (path, fmt, FORMAT))
    if table_off + table_len + DIGEST_LEN != size or PREFIX.size + meta_len > table_off:
        raise ImageError("%s: image is truncated or has a bad layout" % path)
    body = memoryview(data)[:size - DIGEST_LEN]
    digest = hashlib.sha256(body).digest()
    body.release()
    if digest != data[size - DIGEST_LEN:]:
        raise ImageError("%s: hash mismatch: the image was changed after it was built; "
                         "refusing to serve it" % path)
    try:
        meta = json.loads(data[PREFIX.size:PREFIX.size + meta_len])
    except ValueError:
        raise ImageError("%s: image header is unreadable" % path) from None
    return Image(path, meta, digest.hex(), data, table_off, table_len)


def _round_up(n: int, m: int) -> int:
    return (n + m - 1) // m * m
