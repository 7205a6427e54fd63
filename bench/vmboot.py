"""Boot time and footprint: our VM image against a conventional NSD appliance, under QEMU TCG.

Both images are built the same way from the same parts: Debian's cloud kernel (the same
vmlinuz), an initramfs written by appliance/cpio.py holding the virtio NIC's modules, booted by
the same QEMU command (-accel tcg -cpu qemu64 -smp 1, a virtio NIC on QEMU user networking on
198.18.9.0/24, the guest's port 53 forwarded from 127.0.0.1). What differs is the payload:

  ours   `appliance build --target qemu`: the launcher as PID 1, the Python runtime pieces
         the appliance imports, our extensions, the sealed image (appliance/vmimage.py)
  NSD    Debian's nsd binary with its whole shared-library closure, busybox-static as /init's
         shell (mount, insmod, ip), nsd.conf and the zone file; the kernel gets the address

Time to first answer: from starting QEMU until a SOA query forwarded to the guest is answered
(a query every 100 ms). Boots alternate ours/NSD, --boots times each; medians are reported with
the sizes, beside the MirageOS paper's figures. Results: bench/results/<date>-<host>-boot.json
and .md; bench/README.md shows the latest between its "boot results" markers.

    appliance bench --boot [--boots 5] [--zone FILE --origin ORIGIN]
"""

import argparse
import datetime
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
EXAMPLE = os.path.join(ROOT, "zones", "examples", "example.com.zone")
GUEST_IP, HOST_IP, NET = "198.18.9.15", "198.18.9.2", "198.18.9.0/24"
PAPER = {"mirage_dns_image": "about 200 kB (MirageOS DNS appliance, the paper's figure)",
         "bind_linux_image": "hundreds of MB (BIND on a Linux distribution, the paper's figure)"}
BEGIN, END = "<!-- boot results: begin -->", "<!-- boot results: end -->"

NSD_INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
exec </dev/console >/dev/console 2>&1
echo "nsd-appliance: init at $(cut -d' ' -f1 /proc/uptime)"
for m in $(cat /etc/modules-load); do insmod "$m"; done
while [ ! -e /sys/class/net/eth0 ]; do sleep 0.1; done
ip link set lo up
ip addr add %(ip)s/24 dev eth0
ip link set eth0 up
ip route add default via %(gw)s
mkdir -p /var/lib/nsd /run /tmp
# the cpio's mtimes are 0 (reproducible); NSD skips a zone file older than its (empty) data
touch /etc/nsd/zone
echo "nsd-appliance: starting nsd at $(cut -d' ' -f1 /proc/uptime)"
exec /usr/sbin/nsd -d -c /etc/nsd/nsd.conf
"""

NSD_CONF = """server:
    ip-address: %(ip)s
    port: 53
    username: ""
    chroot: ""
    zonesdir: "/etc/nsd"
    zonelistfile: "/var/lib/nsd/zone.list"
    xfrdfile: "/var/lib/nsd/xfrd.state"
    pidfile: ""
    server-count: 1
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "%(origin)s"
    zonefile: "zone"
"""


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def build_ours(zone, origin, out):
    p = subprocess.run([sys.executable, "-m", "appliance.cli", "build", "--zone",
                        "%s=%s" % (origin, zone), "--target", "qemu", "-o", out],
                       capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    return {"kernel": os.path.join(out, "vmlinuz"), "initrd": os.path.join(out, "initrd.img"),
            "kernel_bytes": m["kernel_size"], "initrd_bytes": m["initrd_size"],
            "unpacked_bytes": m["initrd_unpacked"], "files": m["files"],
            "append": "console=ttyS0 quiet appliance.ip=%s/24 appliance.gw=%s appliance.report=0"
                      % (GUEST_IP, HOST_IP)}


def build_nsd(zone, origin, out):
    """The conventional appliance: the same kernel, NSD and its library closure."""
    from appliance import debpkg, vmimage
    os.makedirs(out, exist_ok=True)
    kern = debpkg.kernel("cloud")
    t = vmimage.base_tree("/var/lib/nsd")
    vmimage.add_busybox(t)
    nsd = "/usr/sbin/nsd"
    with open(nsd, "rb") as f:
        t.file(nsd, f.read(), 0o755)
    vmimage.add_libraries(t, [nsd], strip=False)          # as Debian ships them
    t.file("/etc/nsd/nsd.conf", (NSD_CONF % {"ip": GUEST_IP, "origin": origin}).encode())
    with open(zone, "rb") as f:
        t.file("/etc/nsd/zone", f.read())
    vmimage.add_modules(t, kern, vmimage.NIC_MODULES["qemu"], "/etc/modules-load")
    t.file("/init", (NSD_INIT % {"ip": GUEST_IP, "gw": HOST_IP}).encode(), 0o755)
    initrd = t.initramfs()
    path = os.path.join(out, "initrd.img")
    with open(path, "wb") as f:
        f.write(initrd)
    return {"kernel": kern.vmlinuz, "initrd": path, "kernel_bytes": os.path.getsize(kern.vmlinuz),
            "initrd_bytes": len(initrd), "unpacked_bytes": len(t.cpio()),
            "files": len(t.files()), "append": "console=ttyS0 quiet"}


def soa_query(origin, qid):
    wire = b"".join(bytes([len(p)]) + p.encode() for p in origin.strip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack("!HH", 6, 1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def boot(image, origin, timeout=180.0) -> float:
    """Seconds from starting QEMU to the first answer from the guest."""
    port = free_port()
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "qemu64", "-smp", "1", "-m", "512",
           "-nographic", "-no-reboot", "-kernel", image["kernel"], "-initrd", image["initrd"],
           "-append", image["append"], "-nic",
           "user,model=virtio-net-pci,net=%s,host=%s,hostfwd=udp:127.0.0.1:%d-%s:53"
           % (NET, HOST_IP, port, GUEST_IP)]
    with tempfile.TemporaryFile() as console:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.STDOUT)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("127.0.0.1", port))
                s.settimeout(0.1)
                qid, sent = 0, set()
                while time.monotonic() - t0 < timeout and proc.poll() is None:
                    qid = (qid + 1) & 0xFFFF
                    try:
                        s.send(soa_query(origin, qid))
                        sent.add(qid)
                        reply = s.recv(4096)
                    except (socket.timeout, ConnectionRefusedError):
                        continue
                    # the answer to any query sent so far: under TCG one can take longer than
                    # the 0.1 s between queries
                    if (len(reply) >= 12 and struct.unpack("!H", reply[:2])[0] in sent
                            and reply[2] & 0x80 and reply[3] & 0xF == 0):
                        return time.monotonic() - t0
        finally:
            proc.kill()                                  # by pid
            proc.wait(10)
        console.seek(0)
        tail = console.read().decode("utf-8", "replace")[-3000:]
    raise RuntimeError("no answer within %.0f s; console:\n%s" % (timeout, tail))


def run(boots, zone, origin, work) -> dict:
    images = {"ours": build_ours(zone, origin, os.path.join(work, "ours")),
              "nsd": build_nsd(zone, origin, os.path.join(work, "nsd"))}
    times = {k: [] for k in images}
    for i in range(boots):
        for k in images:
            s = boot(images[k], origin)
            times[k].append(s)
            log("boot %d/%d %s: first answer after %.2f s" % (i + 1, boots, k, s))
    out = {}
    for k, im in images.items():
        out[k] = {key: im[key] for key in ("kernel_bytes", "initrd_bytes", "unpacked_bytes",
                                           "files")}
        out[k]["total_bytes"] = im["kernel_bytes"] + im["initrd_bytes"]
        out[k]["boot_s"] = times[k]
        out[k]["boot_median_s"] = statistics.median(times[k])
    return out


def table(res) -> str:
    o, n = res["images"]["ours"], res["images"]["nsd"]
    mb = lambda b: "%.1f MB" % (b / 1e6)  # noqa: E731
    rows = [
        "## Boot time and footprint (QEMU TCG, %s, %d boots each, medians)" % (
            res["date"], res["boots"]),
        "",
        "| | ours (`appliance build --target qemu`) | NSD appliance (same kernel) | ratio |",
        "|---|---|---|---|",
        "| time to first answer | %.2f s | %.2f s | x%.2f |" % (
            o["boot_median_s"], n["boot_median_s"], o["boot_median_s"] / n["boot_median_s"]),
        "| kernel (Debian cloud, %s) | %s | %s | |" % (res["kernel"], mb(o["kernel_bytes"]),
                                                     mb(n["kernel_bytes"])),
        "| initramfs, gzip'd | %s | %s | x%.2f |" % (
            mb(o["initrd_bytes"]), mb(n["initrd_bytes"]), o["initrd_bytes"] / n["initrd_bytes"]),
        "| initramfs, unpacked | %s | %s | x%.2f |" % (
            mb(o["unpacked_bytes"]), mb(n["unpacked_bytes"]),
            o["unpacked_bytes"] / n["unpacked_bytes"]),
        "| files in the initramfs | %d | %d | |" % (o["files"], n["files"]),
        "| total (kernel + initramfs) | %s | %s | x%.2f |" % (
            mb(o["total_bytes"]), mb(n["total_bytes"]), o["total_bytes"] / n["total_bytes"]),
        "",
        "All boots (s): ours %s; NSD %s." % (
            ", ".join("%.2f" % x for x in o["boot_s"]),
            ", ".join("%.2f" % x for x in n["boot_s"])),
        "",
        "The MirageOS paper, for scale: %s; %s. Both of ours carry a whole Linux kernel "
        "(%s) the unikernel does not; our initramfs holds a CPython runtime where NSD's "
        "holds NSD's C libraries." % (PAPER["mirage_dns_image"], PAPER["bind_linux_image"],
                                     mb(o["kernel_bytes"])),
    ]
    return "\n".join(rows) + "\n"


def update_readme(text):
    from bench import harness
    harness.update_readme(text, BEGIN, END)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="appliance bench --boot", description=__doc__.split("\n")[0])
    p.add_argument("--boots", type=int, default=5)
    p.add_argument("--zone", default=EXAMPLE)
    p.add_argument("--origin", default="example.com.")
    p.add_argument("--out", default=RESULTS)
    p.add_argument("--no-readme", dest="readme", action="store_false")
    a = p.parse_args(argv)
    sys.path.insert(0, ROOT)
    from appliance import debpkg
    from tests.qemuvm import ensure_qemu
    ensure_qemu()
    with tempfile.TemporaryDirectory(prefix="vmboot-") as work:
        images = run(a.boots, a.zone, a.origin, work)
    res = {"date": datetime.date.today().isoformat(), "host": socket.gethostname(),
           "boots": a.boots, "kernel": debpkg.kernel("cloud").version, "zone": a.origin,
           "images": images, "paper": PAPER}
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, "%s-%s-boot" % (res["date"], res["host"]))
    with open(stem + ".json", "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    text = table(res)
    with open(stem + ".md", "w") as f:
        f.write(text)
    print(text)
    if a.readme:
        update_readme(text)
        log("bench/README.md now shows these results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
