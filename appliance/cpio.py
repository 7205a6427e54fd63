"""A reproducible initramfs: the kernel's "newc" cpio format, written by us, compressed by gzip.

The kernel unpacks an initramfs from the newc format (Documentation/driver-api/early-userspace/
buffer-format.rst): per entry a 110-byte ASCII header ("070701" and thirteen 8-digit hex
fields), the NUL-terminated name padded to 4 bytes, the data padded to 4 bytes; a "TRAILER!!!"
entry ends the archive. Reproducible by construction: entries in sorted path order (a directory
before what it holds), inode numbers counted from 1 in that order, owner root, mtime 0, and
gzip with no name and mtime 0. The same tree gives the same bytes.
"""

import gzip
import io
import stat

MAGIC = b"070701"


class Tree:
    """An initramfs being assembled in memory: directories, files, symlinks, device nodes.

    Paths are absolute in the guest ("/usr/lib/x.so"); parents are created as needed.
    """

    def __init__(self):
        self.entries = {}          # path -> (mode, data bytes, rdev (major, minor))

    def _parents(self, path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            p = "/" + "/".join(parts[:i])
            if p not in self.entries:
                self.entries[p] = (stat.S_IFDIR | 0o755, b"", (0, 0))
            elif not stat.S_ISDIR(self.entries[p][0]):
                raise ValueError("%s: a parent of %s is not a directory" % (p, path))

    def _put(self, path, mode, data=b"", rdev=(0, 0)):
        if (not path.startswith("/") or "//" in path or path.endswith("/")
                or ".." in path.split("/")):
            raise ValueError("not a clean absolute path: %r" % path)
        self._parents(path)
        old = self.entries.get(path)
        if old is not None and (old[0], old[1], old[2]) != (mode, data, rdev):
            raise ValueError("%s is added twice with different contents" % path)
        self.entries[path] = (mode, data, rdev)

    def dir(self, path, perm=0o755):
        self._put(path, stat.S_IFDIR | perm)

    def file(self, path, data: bytes, perm=0o644):
        self._put(path, stat.S_IFREG | perm, bytes(data))

    def symlink(self, path, target: str):
        self._put(path, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path, major, minor, perm=0o600):
        self._put(path, stat.S_IFCHR | perm, b"", (major, minor))

    def __contains__(self, path):
        return path in self.entries

    def files(self):
        """(path, size) of every regular file, in archive order."""
        return [(p, len(e[1])) for p, e in sorted(self.entries.items())
                if stat.S_ISREG(e[0])]

    def data_size(self) -> int:
        return sum(len(e[1]) for e in self.entries.values())

    def cpio(self) -> bytes:
        out = io.BytesIO()
        for ino, (path, (mode, data, rdev)) in enumerate(sorted(self.entries.items()), 1):
            _entry(out, path.lstrip("/"), ino, mode, data, rdev,
                   2 if stat.S_ISDIR(mode) else 1)
        _entry(out, "TRAILER!!!", 0, 0, b"", (0, 0), 1)
        return out.getvalue()

    def initramfs(self, level: int = 9) -> bytes:
        """The gzip-compressed archive: what the kernel takes as initrd."""
        out = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0,
                           compresslevel=level) as z:
            z.write(self.cpio())
        return out.getvalue()


def _entry(out, name, ino, mode, data, rdev, nlink):
    bname = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(bname), 0)
    out.write(MAGIC + b"".join(b"%08X" % f for f in fields))
    out.write(bname)
    out.write(b"\0" * (-(110 + len(bname)) % 4))
    out.write(data)
    out.write(b"\0" * (-len(data) % 4))


def read(archive: bytes):
    """Parse a newc archive (gzip-compressed or not) back into [(name, mode, data, rdev)]:
    for tests and `appliance inspect`."""
    if archive[:2] == b"\x1f\x8b":
        archive = gzip.decompress(archive)
    pos, out = 0, []
    while True:
        if archive[pos:pos + 6] != MAGIC:
            raise ValueError("not a newc cpio archive at byte %d" % pos)
        f = [int(archive[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name = archive[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        data = archive[pos:pos + filesize]
        pos += filesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out
        out.append((name, f[1], data, (f[9], f[10])))
