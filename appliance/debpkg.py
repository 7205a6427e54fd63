"""Debian packages the VM images are made from: fetched with apt-get download, verified, cached.

`fetch(name)` returns a .deb whose SHA-256 matches the one in apt's (signed) package index,
downloading it only when the cache has no such file; `unpack(name)` extracts it once into the
cache. The kernel (`kernel(flavour)`) comes with what the image build needs from it: its
version, its vmlinuz, its config, and the kernel modules a driver needs, in load order (read
from each module's own .modinfo "depends=", the data depmod reads too).

The cache is $APPLIANCE_CACHE, else $XDG_CACHE_HOME/appliance, else ~/.cache/appliance.
"""

import hashlib
import lzma
import os
import shutil
import struct
import subprocess
import tempfile


class PackageError(Exception):
    """A package cannot be found, fetched or verified: one line for the operator."""


def cache_dir() -> str:
    d = os.environ.get("APPLIANCE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "appliance")
    os.makedirs(d, exist_ok=True)
    return d


def _run(cmd, cwd=None):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    except FileNotFoundError:
        raise PackageError("%s is not installed (this needs a Debian system with apt)"
                           % cmd[0]) from None
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        raise PackageError("%s: %s" % (" ".join(cmd[:3]), last))
    return p.stdout


def show(name: str) -> dict:
    """apt's record of the candidate version of package NAME (Version, SHA256, Depends, ...)."""
    out = _run(["apt-cache", "show", "--no-all-versions", name])
    rec, key = {}, None
    for line in out.splitlines():
        if not line.strip():
            if rec:
                break
            continue
        if line[0] in " \t" and key:
            rec[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, val = line.partition(":")
            rec[key] = val.strip()
    if "SHA256" not in rec or "Version" not in rec:
        raise PackageError("apt has no downloadable record of %s (run apt-get update?)" % name)
    return rec


def depends_on(name: str, prefix: str) -> str:
    """The package a metapackage (e.g. linux-image-cloud-amd64) points at: its first
    dependency whose name starts with PREFIX."""
    for dep in show(name).get("Depends", "").split(","):
        dep = dep.split("|")[0].split("(")[0].strip()
        if dep.startswith(prefix):
            return dep
    raise PackageError("%s depends on no %s* package" % (name, prefix))


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(name: str) -> dict:
    """{"package", "version", "sha256", "path"}: the candidate .deb of NAME, verified."""
    rec = show(name)
    want = rec["SHA256"]
    debs = os.path.join(cache_dir(), "debs")
    os.makedirs(debs, exist_ok=True)
    path = os.path.join(debs, "%s_%s.deb" % (name, rec["Version"].replace(":", "%3a")))
    if not (os.path.exists(path) and sha256_file(path) == want):
        with tempfile.TemporaryDirectory(dir=debs) as tmp:
            _run(["apt-get", "download", "-q", "%s=%s" % (name, rec["Version"])], cwd=tmp)
            got = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            if len(got) != 1:
                raise PackageError("apt-get download %s left %d .deb files" % (name, len(got)))
            os.replace(os.path.join(tmp, got[0]), path)
        have = sha256_file(path)
        if have != want:
            os.unlink(path)
            raise PackageError("%s: SHA-256 %s, but apt's index says %s" % (name, have, want))
    return {"package": name, "version": rec["Version"], "sha256": want, "path": path}


def unpack(name: str) -> dict:
    """fetch(NAME), extracted once into the cache: adds "root", the extracted tree."""
    deb = fetch(name)
    root = os.path.join(cache_dir(), "root", "%s_%s" % (name, deb["sha256"][:16]))
    if not os.path.exists(os.path.join(root, ".unpacked")):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        _run(["dpkg-deb", "-x", deb["path"], root])
        open(os.path.join(root, ".unpacked"), "w").close()
    deb["root"] = root
    return deb


# -- the kernel ---------------------------------------------------------------------------------
class Kernel:
    """An unpacked Debian kernel package: version, vmlinuz, config and modules."""

    def __init__(self, deb: dict):
        self.deb = deb
        self.root = deb["root"]
        mods = os.path.join(self.root, "lib", "modules")
        versions = sorted(os.listdir(mods)) if os.path.isdir(mods) else []
        if len(versions) != 1:
            raise PackageError("%s: expected one lib/modules/VERSION, found %r"
                               % (deb["package"], versions))
        self.version = versions[0]
        self.moddir = os.path.join(mods, self.version)
        self.vmlinuz = os.path.join(self.root, "boot", "vmlinuz-" + self.version)
        if not os.path.exists(self.vmlinuz):
            raise PackageError("%s has no boot/vmlinuz-%s" % (deb["package"], self.version))
        self.config = {}
        with open(os.path.join(self.root, "boot", "config-" + self.version)) as f:
            for line in f:
                if line.startswith("CONFIG_") and "=" in line:
                    k, _, v = line.strip().partition("=")
                    self.config[k] = v
        self._index = None

    def describe(self) -> dict:
        return {"package": self.deb["package"], "version": self.deb["version"],
                "release": self.version, "sha256": self.deb["sha256"]}

    def index(self) -> dict:
        """module name (with "_") -> path of its .ko (or .ko.xz) under the modules tree."""
        if self._index is None:
            self._index = {}
            for d, _, files in os.walk(os.path.join(self.moddir, "kernel")):
                for f in files:
                    if f.endswith((".ko", ".ko.xz")):
                        name = f.split(".ko")[0].replace("-", "_")
                        self._index[name] = os.path.join(d, f)
        return self._index

    def module_bytes(self, name: str) -> bytes:
        """The module's ELF object, uncompressed (finit_module takes it as it is)."""
        path = self.index()[name]
        with open(path, "rb") as f:
            data = f.read()
        return lzma.decompress(data) if path.endswith(".xz") else data

    def builtin_modules(self) -> set:
        """Names of the drivers built into the kernel (modules.builtin): nothing to load."""
        path = os.path.join(self.moddir, "modules.builtin")
        if not os.path.exists(path):
            return set()
        with open(path) as f:
            return {os.path.basename(line.strip()).split(".ko")[0].replace("-", "_")
                    for line in f if line.strip()}

    def builtin(self, config_key: str) -> bool:
        return self.config.get(config_key) == "y"

    def modules_for(self, names) -> list:
        """NAMES and everything they depend on, as module names in an order that loads
        (each after its dependencies)."""
        order, seen = [], set()

        def visit(name, chain):
            name = name.replace("-", "_")
            if name in seen:
                return
            if name not in self.index() and name in self.builtin_modules():
                return                                  # built in: nothing to load
            if name in chain:
                raise PackageError("module dependency loop: %s" % " -> ".join(chain + [name]))
            if name not in self.index():
                raise PackageError("kernel %s has no module %s" % (self.version, name))
            for dep in modinfo(self.module_bytes(name)).get("depends", "").split(","):
                if dep:
                    visit(dep, chain + [name])
            seen.add(name)
            order.append(name)

        for n in names:
            visit(n, [])
        return order


def modinfo(elf: bytes) -> dict:
    """The key=value strings of a kernel module's .modinfo section (name, depends, ...)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise PackageError("not a little-endian ELF64 kernel module")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(i):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = elf.index(b"\0", stroff + name)
        if elf[stroff + name:end] == b".modinfo":
            out = {}
            for item in elf[off:off + size].split(b"\0"):
                if b"=" in item:
                    k, _, v = item.decode("utf-8", "replace").partition("=")
                    out.setdefault(k, v)
            return out
    return {}


def kernel(flavour: str = "cloud") -> Kernel:
    """Debian's current kernel of FLAVOUR ("cloud": the guest; "generic": a Xen dom0),
    resolved from its metapackage, fetched, verified and unpacked."""
    meta = "linux-image-cloud-amd64" if flavour == "cloud" else "linux-image-amd64"
    return Kernel(unpack(depends_on(meta, "linux-image-")))
