"""A real Xen 4.17 under QEMU TCG, with a dom0 that starts our VM image as a domU.

Everything comes from Debian's packages, fetched and verified by appliance/debpkg.py: the
hypervisor (xen-hypervisor-4.17-amd64), the xl toolstack and its libraries (xen-utils-4.17 and
friends), Debian's generic kernel for dom0 (the cloud flavour has CONFIG_XEN_DOM0 unset), and
busybox-static for dom0's shell. dom0's initramfs is written with appliance/cpio.py and holds:

  /init              the script below: modules, xenfs, xenstored, xen-init-dom0, xenconsoled,
                     a bridge xenbr0 at 198.18.7.1/24, `xl create` of our appliance.xl, then
                     dig (bind9-dnsutils, with its library closure) queries the guest over
                     netfront/netback, and `xl shutdown` stops it
  /guest/...         our VM image (vmlinuz, initrd.img, appliance.xl; built with --xen-dir /guest)
  /rig/queries       dig's batch (-f): the queries to check against the zone

dom0's own console (hvc0) does not register in this setup (../shared/notes/xen-in-qemu), so dom0
writes its log through /dev/kmsg, which Xen prints on its serial line, QEMU's stdout; every
line of ours starts with "XR: ". The domU's console goes to xenconsoled's log, which dom0 copies
out between markers.

Recipe learnt in ../shared/notes/xen-in-qemu: -cpu qemu64 for PV, qemu64,+svm,+npt for PVH
(Debian's Xen has no shadow paging), -smp 1, /dev/console in every initramfs, libgcc_s beside
xl, a minimal vif hotplug script that writes hotplug-status.
"""

import gzip
import os
import re
import subprocess
import time

from appliance import debpkg, vmimage

XEN_HV = "xen-hypervisor-4.17-amd64"
XEN_USER = ["xen-utils-4.17", "xen-utils-common", "xenstore-utils", "libxenmisc4.17",
            "libxenstore4", "libxentoolcore1", "libxenevtchn1", "libxengnttab1",
            "libxenforeignmemory1", "libxendevicemodel1", "libxencall1", "libxentoollog1",
            "libxenhypfs1", "libyajl2"]
XEN_BINS = ["usr/lib/xen-4.17/bin/xl", "usr/lib/xen-4.17/bin/xenstored",
            "usr/lib/xen-4.17/bin/xenconsoled", "usr/lib/xen-4.17/bin/xen-init-dom0",
            "usr/lib/xen-4.17/bin/libxl-save-helper", "usr/bin/xenstore"]
DOM0_MODULES = ["xen_evtchn", "xen_gntdev", "xen_gntalloc", "xen_privcmd", "xenfs", "bridge",
                "xen_netback"]
BRIDGE_IP = "198.18.7.1/24"
GUEST_IP = "198.18.7.2"
GUEST_NAME = "appliance"

VIF_MINI = r"""#!/bin/sh
# vif hotplug for the rig (the stock vif-bridge needs bash): put the vif on the bridge, bring it
# up, and tell libxl it is connected (or netback never connects)
case "$1" in
  online|add)
    br=$(xenstore-read "$XENBUS_PATH/bridge" 2>/dev/null || echo xenbr0)
    ip link set "$vif" master "$br" 2>/dev/null || brctl addif "$br" "$vif"
    ip link set "$vif" up
    xenstore-write "$XENBUS_PATH/hotplug-status" connected ;;
  offline|remove)
    ip link set "$vif" down 2>/dev/null
    xenstore-rm "$XENBUS_PATH/hotplug-status" 2>/dev/null ;;
esac
exit 0
"""

DOM0_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/lib/xen-4.17/bin:/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /var/log/xen/console /var/lib/xen /var/lib/xenstored
mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run; ln -s /run /var/run
echo on > /proc/sys/kernel/printk_devkmsg
mkfifo /run/log
# the logger lags behind the script: it says when it has passed RIG-DONE, and only then does
# the script power dom0 off
( while IFS= read -r l; do echo "XR: $l" > /dev/kmsg; [ "$l" = RIG-DONE ] && break; done \
  < /run/log; touch /run/logged ) &
exec </dev/null >/run/log 2>&1
up() { cut -d' ' -f1 /proc/uptime; }
echo "dom0 up at $(up)"
for m in $(cat /rig/modules); do insmod "$m" || echo "insmod $m failed"; done
mkdir -p /proc/xen; mount -t xenfs xenfs /proc/xen
mkdir -p /run/xen /run/xenstored
xenstored --pid-file /run/xenstored.pid || echo "xenstored failed"
timeout 90 xen-init-dom0 || echo "xen-init-dom0 failed"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console \
  || echo "xenconsoled failed"
brctl addbr xenbr0 || ip link add xenbr0 type bridge
ip addr add @BRIDGE_IP@ dev xenbr0
ip link set xenbr0 up; ip link set lo up
echo "toolstack ready at $(up)"
T0=$(up)
xl create /guest/appliance.xl \
  "vif=['mac=@MAC@,bridge=xenbr0,script=/etc/xen/scripts/vif-mini']" 2>&1 | tail -5
echo "xl create returned at $(up)"
xl list
OK=0
for i in $(seq 1 240); do
  # an answer, not dig's own error text (it prints that on stdout too)
  if dig @@GUEST_IP@ +time=1 +tries=1 +noall +answer SOA @ZONE@ | grep -q "IN[[:space:]]*SOA"
  then OK=1; break; fi
done
T1=$(up)
if [ $OK = 1 ]; then
  echo "first answer $(awk "BEGIN{print $T1 - $T0}") s after xl create"
  echo "DIG-BEGIN"
  dig -f /rig/queries
  echo "DIG-END"
else
  echo "the guest never answered"
fi
sleep 3
echo "xl shutdown at $(up)"
timeout 60 xl shutdown -w @NAME@; echo "xl shutdown rc=$? at $(up)"
xl list
echo "GUEST-CONSOLE-BEGIN"
cat /var/log/xen/console/guest-@NAME@.log
echo "GUEST-CONSOLE-END"
echo "RIG-DONE"
for i in $(seq 1 600); do [ -e /run/logged ] && break; sleep 0.5; done
poweroff -f
"""


class XenRig:
    def __init__(self, workdir: str, guest_dir: str, pvh: bool, zone: str, queries: list):
        self.workdir = workdir
        self.guest_dir = guest_dir
        self.pvh = pvh
        self.zone = zone
        self.queries = queries
        self.log = ""

    def build(self) -> tuple[str, str, str]:
        """(xen.bin, dom0 vmlinuz, dom0 initrd)."""
        hv = debpkg.unpack(XEN_HV)
        xen_gz = [f for f in os.listdir(os.path.join(hv["root"], "boot"))
                  if f.startswith("xen-") and f.endswith(".gz")]
        xen_bin = os.path.join(self.workdir, "xen.bin")
        with gzip.open(os.path.join(hv["root"], "boot", sorted(xen_gz)[-1])) as f, \
                open(xen_bin, "wb") as out:
            out.write(f.read())
        dom0k = debpkg.kernel("generic")
        stages = [debpkg.unpack(p)["root"] for p in XEN_USER]

        t = vmimage.base_tree("/etc/xen/scripts")
        vmimage.add_busybox(t)
        bins = []
        for b in XEN_BINS:
            src = next(os.path.join(s, b) for s in stages if os.path.exists(os.path.join(s, b)))
            with open(src, "rb") as f:
                t.file("/" + b, f.read(), 0o755)
            bins.append(src)
        for n in ("read", "write", "rm", "ls", "list", "exists"):
            t.symlink("/usr/bin/xenstore-" + n, "xenstore")
        dig = subprocess.run(["sh", "-c", "command -v dig"], capture_output=True,
                             text=True).stdout.strip()
        with open(dig, "rb") as f:
            t.file("/usr/bin/dig", f.read(), 0o755)
        libdirs = [os.path.join(s, d) for s in stages
                   for d in ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
                   if os.path.isdir(os.path.join(s, d))]
        old = os.environ.get("LD_LIBRARY_PATH")
        os.environ["LD_LIBRARY_PATH"] = ":".join(libdirs)
        try:
            vmimage.add_libraries(t, bins + [dig], strip=False)
        finally:
            if old is None:
                del os.environ["LD_LIBRARY_PATH"]
            else:
                os.environ["LD_LIBRARY_PATH"] = old
        gcc_s = "/lib/x86_64-linux-gnu/libgcc_s.so.1"       # glibc dlopens it for xl
        if vmimage.GUEST_LIBDIR + "/libgcc_s.so.1" not in t:
            with open(gcc_s, "rb") as f:
                t.file(vmimage.GUEST_LIBDIR + "/libgcc_s.so.1", f.read(), 0o755)
        for s in stages:
            conf = os.path.join(s, "etc", "xen", "xl.conf")
            if os.path.exists(conf):
                with open(conf, "rb") as f:
                    t.file("/etc/xen/xl.conf", f.read())
        t.file("/etc/xen/scripts/vif-mini", VIF_MINI.encode(), 0o755)
        t.file("/etc/resolv.conf", b"nameserver %s\n" % GUEST_IP.encode())
        vmimage.add_modules(t, dom0k, DOM0_MODULES, "/rig/modules")
        t.file("/rig/queries", ("\n".join(self.queries) + "\n").encode())
        for f in ("vmlinuz", "initrd.img", "appliance.xl"):
            with open(os.path.join(self.guest_dir, f), "rb") as fh:
                t.file("/guest/" + f, fh.read())
        mac = vmimage.guest_mac(GUEST_IP + "/24")
        init = (DOM0_INIT.replace("@BRIDGE_IP@", BRIDGE_IP).replace("@GUEST_IP@", GUEST_IP)
                .replace("@MAC@", mac).replace("@NAME@", GUEST_NAME).replace("@ZONE@", self.zone))
        t.file("/init", init.encode(), 0o755)
        initrd = os.path.join(self.workdir, "dom0-initrd.gz")
        with open(initrd, "wb") as f:
            f.write(t.initramfs(level=1))
        return xen_bin, dom0k.vmlinuz, initrd

    def run(self, timeout: float = 600) -> str:
        xen_bin, vmlinuz, initrd = self.build()
        cpu = "qemu64,+svm,+npt" if self.pvh else "qemu64"
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", cpu, "-smp", "1", "-m", "1536",
               "-nographic", "-no-reboot", "-nic", "none",
               "-kernel", xen_bin, "-append", "console=com1 dom0_mem=768M noreboot",
               "-initrd", "%s console=hvc0 earlyprintk=xen,%s" % (vmlinuz, initrd)]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        out = []
        try:
            deadline = start + timeout
            for raw in proc.stdout:
                out.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                if "XR: RIG-DONE" in out[-1] or time.monotonic() > deadline:
                    break
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        finally:
            if proc.poll() is None:
                proc.kill()                                 # by pid
                proc.wait(10)
        self.seconds = time.monotonic() - start
        self.log = "\n".join(out)
        with open(os.path.join(self.workdir, "rig.log"), "w") as f:   # for a failing test
            f.write(self.log + "\n")
        return self.log

    def dom0_lines(self) -> list[str]:
        """dom0's lines, in order (from /dev/kmsg: "[  12.345] XR: text" on Xen's serial)."""
        return [m.group(1) for m in re.finditer(r"XR: (.*)", self.log)]

    def section(self, begin: str, end: str) -> list[str]:
        lines = self.dom0_lines()
        if begin not in lines or end not in lines:
            return []
        return lines[lines.index(begin) + 1:lines.index(end)]
