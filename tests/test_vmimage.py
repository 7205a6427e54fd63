"""`appliance build --target qemu|xen -o DIR`: the VM image's files, its initramfs, its
reproducibility, and its runtime (run from the unpacked initramfs in a chroot, sealed)."""

import json
import os
import re
import signal
import stat
import subprocess
import sys

import pytest

from appliance import cpio, debpkg, vmimage
from tests.conftest import ROOT, build_vm
from tests.qemuvm import free_udp_port
from tests.udpclient import UDPClient

APPLIANCE = [sys.executable, "-m", "appliance.cli"]


def read_tree(path):
    with open(path, "rb") as f:
        return {"/" + name: (mode, data, rdev) for name, mode, data, rdev in cpio.read(f.read())}


@pytest.fixture(scope="module")
def tree(vm_qemu_dir):
    return read_tree(os.path.join(vm_qemu_dir, "initrd.img"))


def test_build_writes_kernel_initramfs_xl_and_run_script(vm_qemu_dir):
    for f in ("vmlinuz", "initrd.img", "appliance.xl", "run-qemu", "appliance.img",
              "manifest.json"):
        assert os.path.getsize(os.path.join(vm_qemu_dir, f)) > 0, f
    assert os.access(os.path.join(vm_qemu_dir, "run-qemu"), os.X_OK)
    with open(os.path.join(vm_qemu_dir, "vmlinuz"), "rb") as f:
        head = f.read(0x300)
    assert head[0x202:0x206] == b"HdrS"                   # a bzImage (x86 boot protocol)
    xl = open(os.path.join(vm_qemu_dir, "appliance.xl")).read()
    assert 'type = "pv"' in xl and "appliance.ip=198.18.9.15/24" in xl
    script = open(os.path.join(vm_qemu_dir, "run-qemu")).read()
    assert "-accel tcg -cpu qemu64" in script and "net=198.18.9.0/24" in script
    assert "hostfwd=udp:127.0.0.1:$port-198.18.9.15:53" in script


def test_kernel_is_debians_cloud_kernel_verified_and_recorded(vm_qemu_dir, tree):
    m = json.load(open(os.path.join(vm_qemu_dir, "manifest.json")))
    k = m["kernel"]
    assert k["package"].startswith("linux-image-") and k["package"].endswith("-cloud-amd64")
    assert k["sha256"] == debpkg.show(k["package"])["SHA256"]        # apt's signed index
    deb = debpkg.fetch(k["package"])
    assert debpkg.sha256_file(deb["path"]) == k["sha256"]
    kern = debpkg.kernel("cloud")
    assert kern.builtin("CONFIG_XEN_PV") and kern.builtin("CONFIG_XEN_PVH")
    with open(kern.vmlinuz, "rb") as a, open(os.path.join(vm_qemu_dir, "vmlinuz"), "rb") as b:
        assert a.read() == b.read()
    inside = json.loads(tree["/etc/appliance/build.json"][1])
    assert inside["kernel"] == k                          # the version is in the image too
    assert m["initrd_sha256"] == debpkg.sha256_file(os.path.join(vm_qemu_dir, "initrd.img"))


def test_initramfs_holds_launcher_runtime_modules_and_image(vm_qemu_dir, tree):
    mode, init, _ = tree["/init"]
    assert stat.S_ISREG(mode) and mode & 0o111 and init[:4] == b"\x7fELF"
    assert stat.S_ISCHR(tree["/dev/console"][0]) and tree["/dev/console"][2] == (5, 1)
    with open(os.path.join(vm_qemu_dir, "appliance.img"), "rb") as f:
        assert tree["/appliance.img"][1] == f.read()
    assert tree["/sbin/poweroff"][1] == b"../init"
    names = set(tree)
    # the Python runtime: what the appliance imports, as byte code, not the standard library
    stdlib = [n for n in names if n.startswith(vmimage.GUEST_STDLIB + "/")]
    assert vmimage.GUEST_STDLIB + "/argparse.pyc" in names
    assert vmimage.GUEST_STDLIB + "/runpy.pyc" in names
    assert not any(n.endswith(".py") for n in names)
    assert 30 < len([n for n in stdlib if n.endswith(".pyc")]) < 120
    for absent in ("/asyncio/", "/email/", "/unittest/", "/tkinter/", "/sqlite3/", "_ssl",
                   "_hashlib"):
        assert not any(absent in n for n in stdlib), absent
    # ours: the extensions and the CLI, never the build-time zone reader or dnslib
    ours = [n for n in names if n.startswith(vmimage.GUEST_OURS + "/")]
    for mod in ("appliance/engine", "netstack/stack", "pvboot/netdev", "appliance/cli.pyc"):
        assert any(mod in n for n in ours), mod
    assert not any("/zones/" in n or "dnslib" in n for n in names)
    # the libraries the launcher links, where the loader looks
    assert "/lib64/ld-linux-x86-64.so.2" in names
    assert vmimage.GUEST_LIBDIR + "/libpython3.11.so.1.0" in names
    assert vmimage.GUEST_LIBDIR + "/libc.so.6" in names
    # the NIC's modules, each after what it depends on
    mods = tree["/etc/appliance/modules"][1].decode().split()
    base = [os.path.basename(m)[:-3] for m in mods]
    assert base[-1] == "virtio_net" and "virtio_pci" in base
    assert base.index("virtio_ring") < base.index("virtio") < base.index("virtio_pci")
    assert base.index("failover") < base.index("net_failover") < base.index("virtio_net")
    for m in mods:
        assert m in names and tree[m][1][:4] == b"\x7fELF"


def test_cpio_is_reproducible_newc_with_fixed_times(vm_qemu_dir, tmp_path):
    raw = open(os.path.join(vm_qemu_dir, "initrd.img"), "rb").read()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"      # gzip, mtime 0
    import gzip
    archive = gzip.decompress(raw)
    headers = re.findall(rb"070701([0-9A-F]{104})", archive)
    assert len(headers) > 50
    for h in headers:
        assert h[40:48] == b"00000000"                   # mtime
        assert h[16:32] == b"0" * 16                     # uid, gid
    names = [n for n, *_ in cpio.read(raw)]
    assert names == sorted(names)
    # built again from the same inputs: the same bytes
    again = tmp_path / "again"
    build_vm(again, "qemu", "--report", "2")
    for f in ("initrd.img", "vmlinuz", "appliance.img", "run-qemu"):
        assert open(os.path.join(vm_qemu_dir, f), "rb").read() == \
            open(again / f, "rb").read(), f


def test_xen_target_pvh_writes_a_pvh_xl_config_with_netfront(tmp_path):
    out = build_vm(tmp_path / "x", "xen", "--pvh", "--xen-dir", "/guest", "--ip",
                   "198.18.7.2/24")
    assert "xl create" in out and "PVH" in out
    xl = open(tmp_path / "x" / "appliance.xl").read()
    assert 'type = "pvh"' in xl
    assert 'kernel = "/guest/vmlinuz"' in xl and 'ramdisk = "/guest/initrd.img"' in xl
    assert re.search(r'extra = "console=hvc0 .*appliance\.ip=198\.18\.7\.2/24', xl)
    t = read_tree(tmp_path / "x" / "initrd.img")
    mods = t["/etc/appliance/modules"][1].decode()
    assert "xen_netfront.ko" in mods and "virtio" not in mods


def test_inspect_prints_kernel_initramfs_and_total(vm_qemu_dir):
    p = subprocess.run(APPLIANCE + ["inspect", vm_qemu_dir], capture_output=True, text=True,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr
    m = json.load(open(os.path.join(vm_qemu_dir, "manifest.json")))
    k, i = m["kernel_size"], m["initrd_size"]
    assert k == os.path.getsize(os.path.join(vm_qemu_dir, "vmlinuz"))
    assert i == os.path.getsize(os.path.join(vm_qemu_dir, "initrd.img"))
    assert re.search(r"^kernel .*: %d bytes" % k, p.stdout, re.M), p.stdout
    assert re.search(r"^initramfs %d bytes" % i, p.stdout, re.M), p.stdout
    assert re.search(r"^total +%d bytes" % (k + i), p.stdout, re.M), p.stdout
    assert "zone      example.com." in p.stdout                   # and the sealed image's


@pytest.mark.parametrize("args,msg", [
    (["--pvh"], "add --target"),
    (["--target", "xen", "--ip", "198.18.7.2"], "prefix length"),
    (["--target", "xen", "--xen-dir", "guest"], "absolute path"),
    (["--target", "qemu", "--gateway", "10.0.0.1"], "not another address"),
])
def test_bad_vm_arguments_get_one_line(tmp_path, args, msg):
    p = subprocess.run(APPLIANCE + ["build", os.path.join(ROOT, "zones", "examples",
                                                          "example.com.zone"),
                                    "-o", str(tmp_path / "o"), *args],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1 and msg in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def unpack(tree, dest):
    os.makedirs(dest, exist_ok=True)
    for path, (mode, data, _) in sorted(tree.items()):
        p = dest + path
        if stat.S_ISDIR(mode):
            os.makedirs(p, exist_ok=True)
        elif stat.S_ISLNK(mode):
            os.symlink(data.decode(), p)
        elif stat.S_ISREG(mode):
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, stat.S_IMODE(mode))


def test_the_initramfs_runtime_serves_sealed_in_a_chroot(tree, tmp_path):
    """The files in the initramfs are all the appliance needs: its launcher runs from them
    alone (chroot, nothing of the host's), serves, and seals."""
    root = str(tmp_path / "root")
    unpack(tree, root)
    port = free_udp_port()
    guest_path = "%s:%s/lib-dynload:%s" % (vmimage.GUEST_STDLIB, vmimage.GUEST_STDLIB,
                                           vmimage.GUEST_OURS)
    script = ('mount -t proc proc "$1/proc" && exec chroot "$1" /init --home /usr --path "$2" '
              '-- run /appliance.img --listen 127.0.0.1:"$3"')
    proc = subprocess.Popen(["unshare", "--mount", "sh", "-c", script, "sh", root, guest_path,
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("memory:") or len(lines) > 20:
                break
        out = "".join(lines)
        assert "serving" in out and "Seccomp 2, NoNewPrivs 1" in out, out
        from tests.nsdpeer import soa_query
        assert UDPClient("127.0.0.1", port).query(soa_query("example.com.")) is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rest = proc.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[0]
    assert proc.returncode == 0 and "stopped by signal 15" in rest, rest
