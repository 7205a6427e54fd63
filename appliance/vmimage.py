"""The VM image: Debian's cloud kernel plus an initramfs whose PID 1 is the pvboot launcher.

`appliance build ZONES --target qemu|xen -o DIR` writes into DIR:

  appliance.img   the sealed image (also inside the initramfs, as /appliance.img)
  vmlinuz         Debian's cloud kernel (CONFIG_XEN_PV, CONFIG_XEN_PVH), fetched and verified
  initrd.img      the initramfs, gzip'd newc cpio, reproducible (appliance/cpio.py)
  appliance.xl    an xl config: PV, or PVH with --pvh
  run-qemu        boots the image under QEMU TCG, DNS forwarded from 127.0.0.1
  manifest.json   what went in: kernel package and version, hashes, sizes

The initramfs holds only what `appliance run` needs, computed at build time: the launcher as
/init and its shared-library closure; the standard-library modules the appliance imports
(appliance/runtime.py finds them), as byte code; our extensions and Python modules; the NIC's
kernel modules in load order, listed in /etc/appliance/modules; the sealed image.
"""

import hashlib
import ipaddress
import json
import os
import py_compile
import re
import shutil
import subprocess
import sysconfig
import tempfile

from . import __version__, cpio, debpkg, runtime

# where the launcher looks in the guest (pvboot/launcher.c GUEST_*)
GUEST_IMAGE = "/appliance.img"
GUEST_STDLIB = "/usr/lib/python3.11"
GUEST_OURS = "/usr/lib/appliance"
GUEST_LIBDIR = "/usr/lib/x86_64-linux-gnu"
GUEST_MODULES = "/usr/lib/modules"  # /lib -> usr/lib, as in Debian
GUEST_MODULES_LIST = "/etc/appliance/modules"   # what PID 1 loads (pvboot/pvboot_guest.h)

# the NIC drivers of each target (their dependencies are found from the modules themselves)
NIC_MODULES = {"qemu": ["virtio_pci", "virtio_net"], "xen": ["xen_netfront"]}
# AF_PACKET: built into Debian's kernels; if a kernel has it as a module, it is shipped too
PACKET_CONFIG = "CONFIG_PACKET"

DEFAULT_IP = {"qemu": "198.18.9.15/24", "xen": "198.18.7.2/24"}
DEFAULT_GW = {"qemu": "198.18.9.2", "xen": ""}
ROOT = runtime.ROOT


class VMImageError(Exception):
    """The VM image cannot be made: one line for the operator."""


# -- what goes in -------------------------------------------------------------------------------
def ldd(paths) -> dict:
    """{name the dynamic loader looks for: host file} for the shared-library closure of PATHS
    (ldd prints the whole closure), plus the loader itself."""
    out = {}
    for p in paths:
        r = subprocess.run(["ldd", p], capture_output=True, text=True)
        if r.returncode != 0 and "not a dynamic executable" not in (r.stdout + r.stderr):
            raise VMImageError("ldd %s: %s" % (p, r.stderr.strip()))
        for line in r.stdout.splitlines():
            line = line.strip()
            m = re.match(r"(\S+) => (\S+) \(0x", line)
            if m:
                out[m.group(1)] = m.group(2)
            elif line.startswith("/") and "ld-linux" in line:
                out["ld-linux"] = line.split()[0]
            elif "not found" in line:
                raise VMImageError("%s needs %s, which is not installed" % (p, line.split()[0]))
    return out


def byte_code(path: str, guest_path: str) -> bytes:
    """PATH compiled for the guest: a sourceless .pyc (unchecked hash: no mtime in it, so the
    build is reproducible and the guest never recompiles)."""
    with tempfile.NamedTemporaryFile(suffix=".pyc") as tmp:
        py_compile.compile(path, cfile=tmp.name, dfile=guest_path, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        with open(tmp.name, "rb") as f:
            return f.read()


def stripped(path: str) -> bytes:
    """A shared object or program without its symbol tables and debug data (strip
    --strip-unneeded keeps the dynamic symbols, which the launcher exports on purpose)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "x")
        if shutil.which("strip"):
            r = subprocess.run(["strip", "--strip-unneeded", "-o", out, path],
                               capture_output=True, text=True)
            if r.returncode == 0:
                with open(out, "rb") as f:
                    return f.read()
        with open(path, "rb") as f:
            return f.read()


def add_libraries(tree: cpio.Tree, objects, strip: bool = True) -> int:
    """Put the shared-library closure of the host programs/objects OBJECTS where the guest's
    dynamic loader finds it (/usr/lib/x86_64-linux-gnu, the loader in /lib64, /lib ->
    usr/lib); returns the bytes added."""
    size = 0
    for name, host in sorted(ldd(objects).items()):
        if strip:
            data = stripped(host)
        else:
            with open(host, "rb") as f:
                data = f.read()
        path = ("/lib64/" + os.path.basename(host) if name == "ld-linux"
                else GUEST_LIBDIR + "/" + name)
        if path not in tree:
            tree.file(path, data, 0o755)
            size += len(data)
    if "/lib" not in tree:
        tree.symlink("/lib", "usr/lib")
    return size


def launcher_path() -> str:
    p = os.path.join(ROOT, "pvboot", "appliance-launch")
    if not os.access(p, os.X_OK):
        raise VMImageError("%s is missing: build the appliance first (make build)" % p)
    return p


def guest_name(host: str, stdlib: str) -> str | None:
    """Where a runtime file goes in the guest (None: a shared library, placed by ldd name)."""
    if host.startswith(stdlib + "/"):
        return GUEST_STDLIB + host[len(stdlib):]
    if host.startswith(ROOT + "/"):
        return GUEST_OURS + host[len(ROOT):]
    return None


def runtime_tree(tree: cpio.Tree, parts: dict) -> dict:
    """Add the launcher, its libraries and the Python runtime; returns the probe's record."""
    try:
        info = runtime.runtime_files()
    except RuntimeError as e:
        raise VMImageError("the runtime: %s" % e) from None
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    launcher = launcher_path()
    tree.file("/init", stripped(launcher), 0o755)
    parts["launcher"] = len(tree.entries["/init"][1])
    objects = [launcher]
    for f in info["files"]:
        g = guest_name(f, stdlib)
        if g is None:
            continue                                # a shared library: ldd places it below
        if f.endswith(".py"):
            data = byte_code(f, g)
            tree.file(g[:-3] + ".pyc", data)
            key = "python" if g.startswith(GUEST_STDLIB) else "ours"
        elif f.endswith(".so"):
            data = stripped(f)
            tree.file(g, data, 0o755)
            objects.append(f)
            key = "python" if g.startswith(GUEST_STDLIB) else "ours"
        else:
            raise VMImageError("unexpected runtime file %s" % f)
        parts[key] = parts.get(key, 0) + len(data)
    parts["libraries"] = add_libraries(tree, objects)
    return info


def base_tree(*dirs) -> cpio.Tree:
    """An initramfs's skeleton: the mount points its PID 1 uses, ``dirs``, and /dev/console
    (the kernel opens it for init's stdio before anything is mounted)."""
    tree = cpio.Tree()
    for d in ("/dev", "/proc", "/sys", "/tmp") + dirs:
        tree.dir(d)
    tree.chardev("/dev/console", 5, 1)
    return tree


def add_busybox(tree: cpio.Tree):
    """/bin/busybox from Debian's busybox-static: the shell and tools of the conventional
    images built beside ours (bench/vmboot.py's NSD appliance, tests/xenrig.py's dom0)."""
    root = debpkg.unpack("busybox-static")["root"]
    with open(os.path.join(root, "bin", "busybox"), "rb") as f:
        tree.file("/bin/busybox", f.read(), 0o755)


def add_modules(tree: cpio.Tree, kern, names, list_path: str) -> tuple[list, int]:
    """``names`` and the modules they depend on, in load order, under /usr/lib/modules, and
    their paths one per line in ``list_path`` (what PID 1 loads); returns (order, bytes)."""
    order = kern.modules_for(names)
    paths, size = [], 0
    for name in order:
        data = kern.module_bytes(name)
        p = "%s/%s/%s.ko" % (GUEST_MODULES, kern.version, name)
        tree.file(p, data)
        paths.append(p)
        size += len(data)
    tree.file(list_path, ("\n".join(paths) + "\n").encode())
    return order, size


def modules_tree(tree: cpio.Tree, kern, target: str, parts: dict) -> list:
    names = list(NIC_MODULES[target])
    if not kern.builtin(PACKET_CONFIG):
        if kern.config.get(PACKET_CONFIG) != "m":
            raise VMImageError("kernel %s has no AF_PACKET (%s)" % (kern.version, PACKET_CONFIG))
        names.insert(0, "af_packet")
    order, parts["modules"] = add_modules(tree, kern, names, GUEST_MODULES_LIST)
    return order


# -- the files beside it ------------------------------------------------------------------------
def xl_config(name, xen_dir, pvh, memory_mb, cmdline, mac) -> str:
    return "\n".join([
        "# %s: the DNS appliance as a Xen %s guest.  Start it: xl create %s" % (
            "appliance.xl", "PVH" if pvh else "PV", "appliance.xl"),
        "# (kernel and ramdisk are where this directory sits in dom0; rebuild with",
        "# --xen-dir to move them). The guest powers off when the appliance stops.",
        'name = "%s"' % name,
        'type = "%s"' % ("pvh" if pvh else "pv"),
        'kernel = "%s/vmlinuz"' % xen_dir,
        'ramdisk = "%s/initrd.img"' % xen_dir,
        'extra = "%s"' % cmdline,
        "memory = %d" % memory_mb,
        "vcpus = 1",
        "vif = [ 'mac=%s,bridge=xenbr0' ]" % mac,
        'on_poweroff = "destroy"',
        'on_crash = "destroy"',
        ""])


RUN_QEMU = r"""#!/bin/sh
# run-qemu: boot this DNS appliance under QEMU TCG (written by `appliance build --target qemu`).
#
#   ./run-qemu [--port PORT] [--tap IFACE] [-- QEMU ARGS...]
#
# By default the guest sits on QEMU's user network %(net)s, and its port 53 is forwarded
# from 127.0.0.1:PORT (default 5353):  dig @127.0.0.1 -p 5353 %(try)s
# (Not restrict=on: libslirp's restricted mode drops every UDP datagram from the guest, the
# answers too. The appliance never starts a conversation: it only answers who asks.)
# With --tap IFACE the virtio NIC is attached to an existing TAP device instead.
# Ctrl-a x stops QEMU. KVM is not used: these images are tested under TCG.
set -e
here=$(cd "$(dirname "$0")" && pwd)
port=5353 tap=
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --tap) tap=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--port PORT] [--tap IFACE] [-- QEMU ARGS...]" >&2; exit 2 ;;
  esac
done
if [ -n "$tap" ]; then
  nic="tap,ifname=$tap,script=no,downscript=no,model=virtio-net-pci,mac=%(mac)s"
else
  nic="user,model=virtio-net-pci,mac=%(mac)s,net=%(net)s,host=%(gw)s,hostfwd=udp:127.0.0.1:$port-%(ip)s:53"
fi
exec qemu-system-x86_64 -accel tcg -cpu qemu64 -smp 1 -m %(memory)d -nographic -no-reboot \
  -kernel "$here/vmlinuz" -initrd "$here/initrd.img" \
  -append "%(cmdline)s" -nic "$nic" "$@"
"""


def guest_mac(ip: str) -> str:
    """A stable locally-meaningful MAC for the guest: Xen's OUI 00:16:3e + the address's low
    three bytes."""
    b = [int(x) for x in ip.split("/")[0].split(".")]
    return "00:16:3e:%02x:%02x:%02x" % (b[1], b[2], b[3])


def memory_mb(image_size: int, initrd_unpacked: int) -> int:
    """The VM's memory: the kernel (~64 MiB), the unpacked initramfs (held in RAM), the region
    the launcher reserves (image + 32 MiB), and room; rounded up to 32 MiB."""
    need = 64 + (initrd_unpacked >> 20) + (image_size >> 20) + 32 + 64
    return max(192, (need + 31) // 32 * 32)


def make(out_dir: str, image_path: str, target: str, *, pvh: bool = False, ip: str = None,
         gateway: str = None, xen_dir: str = None, report: int = 60, name: str = "appliance",
         log=print) -> dict:
    """Write the VM image for TARGET ("qemu" or "xen") into OUT_DIR; returns the manifest."""
    if target not in NIC_MODULES:
        raise VMImageError("--target wants qemu or xen, got %r" % target)
    ip = ip or DEFAULT_IP[target]
    gateway = DEFAULT_GW[target] if gateway is None else gateway
    try:
        kern = debpkg.kernel("cloud")
    except debpkg.PackageError as e:
        raise VMImageError("the kernel: %s" % e) from None
    for key in ("CONFIG_XEN_PV", "CONFIG_XEN_PVH"):
        if not kern.builtin(key):
            raise VMImageError("kernel %s lacks %s" % (kern.version, key))
    log("kernel %s (%s %s, sha256 %s, verified)" % (
        kern.version, kern.deb["package"], kern.deb["version"], kern.deb["sha256"][:16]))

    with open(image_path, "rb") as f:
        image = f.read()
    parts = {}
    tree = base_tree()
    # the kernel runs /sbin/poweroff on an orderly power-off (`xl shutdown`): the launcher,
    # run by that name, sends PID 1 SIGTERM (pvboot/launcher.c)
    tree.symlink("/sbin/poweroff", "../init")
    tree.file(GUEST_IMAGE, image, 0o444)
    parts["image"] = len(image)
    info = runtime_tree(tree, parts)
    order = modules_tree(tree, kern, target, parts)
    build = {"appliance": __version__, "target": target, "kernel": kern.describe(),
             "image_sha256": hashlib.sha256(image).hexdigest(), "python": info["version"],
             "modules": order}
    tree.file("/etc/appliance/build.json",
              (json.dumps(build, indent=1, sort_keys=True) + "\n").encode())

    archive = tree.cpio()
    initrd = tree.initramfs()
    os.makedirs(out_dir, exist_ok=True)
    dest_image = os.path.join(out_dir, "appliance.img")
    if os.path.abspath(image_path) != os.path.abspath(dest_image):
        shutil.copyfile(image_path, dest_image)
    shutil.copyfile(kern.vmlinuz, os.path.join(out_dir, "vmlinuz"))
    _write(os.path.join(out_dir, "initrd.img"), initrd)

    mem = memory_mb(len(image), len(archive))
    mac = guest_mac(ip)
    args = "appliance.ip=%s%s appliance.report=%d" % (
        ip, " appliance.gw=%s" % gateway if gateway else "", report)
    xen_dir = xen_dir or os.path.abspath(out_dir)
    _write(os.path.join(out_dir, "appliance.xl"),
           xl_config(name, xen_dir, pvh, mem, "console=hvc0 quiet " + args, mac).encode())
    iface = ipaddress.IPv4Interface(ip)
    host = gateway or str(next(a for a in iface.network.hosts() if a != iface.ip))
    _write(os.path.join(out_dir, "run-qemu"), (RUN_QEMU % {
        "net": iface.network, "gw": host, "ip": iface.ip,
        "mac": mac, "memory": mem, "cmdline": "console=ttyS0 quiet " + args,
        "try": "<name> A"}).encode(), 0o755)

    manifest = dict(build)
    manifest.update({
        "pvh": pvh, "ip": ip, "gateway": gateway, "mac": mac, "memory_mb": mem,
        "kernel_size": os.path.getsize(kern.vmlinuz),
        "initrd_size": len(initrd), "initrd_unpacked": len(archive),
        "initrd_sha256": hashlib.sha256(initrd).hexdigest(),
        "parts": parts, "files": len(tree.files())})
    _write(os.path.join(out_dir, "manifest.json"),
           (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    return manifest


def _write(path, data: bytes, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_manifest(out_dir: str) -> dict:
    try:
        with open(os.path.join(out_dir, "manifest.json")) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise VMImageError("%s is not a VM image directory (manifest.json: %s)" % (
            out_dir, getattr(e, "strerror", None) or e)) from None


def is_vm_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "manifest.json"))
