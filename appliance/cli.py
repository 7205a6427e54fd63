"""The operator's interface (DESIGN.md section 9): check-zone, build, inspect, run, bench.

Errors are one line on stderr and a non-zero exit, never a traceback (set APPLIANCE_DEBUG=1 to
see one for an internal error).
"""

import argparse
import functools
import os
import socket
import sys

from . import __version__

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70


class CLIError(Exception):
    """A one-line error for the operator."""


def _err(msg: str):
    print("appliance: %s" % msg, file=sys.stderr)


# -- check-zone -------------------------------------------------------------------------------
def cmd_check_zone(args) -> int:
    from zones import check
    argv = list(args.files)
    if args.origin:
        argv += ["--origin", args.origin]
    return check.main(argv)


# -- build ------------------------------------------------------------------------------------
def _zone_sources(files, zone_args):
    from .builder import ZoneSource
    out = [ZoneSource(f) for f in files]
    for spec in zone_args or []:
        origin, sep, path = spec.partition("=")
        if not sep or not origin or not path:
            raise CLIError("--zone wants ORIGIN=FILE, got %r" % spec)
        out.append(ZoneSource(path, origin if origin.endswith(".") else origin + "."))
    if not out:
        raise CLIError("no zone files given")
    return out


def cmd_build(args) -> int:
    from zones.errors import ZoneError

    from .builder import build
    from .compiler import BuildOptions
    sources = _zone_sources(args.files, args.zone)
    options = BuildOptions(identity=args.identity, version=args.server_version)
    if not args.target and (args.pvh or args.ip or args.gateway is not None or args.xen_dir):
        raise CLIError("--pvh, --ip, --gateway and --xen-dir describe a VM image: add "
                       "--target qemu|xen")
    if args.target:
        _check_vm_args(args)
        if os.path.exists(args.output) and not os.path.isdir(args.output):
            raise CLIError("-o %s: with --target the output is a directory" % args.output)
        os.makedirs(args.output, exist_ok=True)
        image_path = os.path.join(args.output, "appliance.img")
    else:
        image_path = args.output
    try:
        res = build(sources, image_path, options)
    except ZoneError as e:
        for p in e.problems:
            print(str(p), file=sys.stderr)
        _err("build refused: %d problem%s in the zones" % (
            len(e.problems), "" if len(e.problems) == 1 else "s"))
        return EXIT_FAIL
    for w in res.warnings:
        print(str(w), file=sys.stderr)
    zones = ", ".join("%s (serial %d, %d records)" % (z["origin"], z["serial"], z["records"])
                      for z in res.meta["zones"])
    print("built %s: %s; table %d bytes, %d names, %d answers; sha256 %s" % (
        res.path, zones, res.stats.table_len, res.stats.nodes, res.stats.entries,
        res.digest), flush=True)
    if args.target:
        from . import vmimage
        try:
            m = vmimage.make(args.output, image_path, args.target, pvh=args.pvh, ip=args.ip,
                             gateway=args.gateway, xen_dir=args.xen_dir, report=args.report,
                             log=lambda line: print(line, flush=True))
        except vmimage.VMImageError as e:
            raise CLIError(str(e)) from None
        print("built %s VM image in %s: kernel %s %s, initramfs %s (%d files), total %s; "
              "guest %s%s; %s" % (
                  args.target, args.output, m["kernel"]["release"], _size(m["kernel_size"]),
                  _size(m["initrd_size"]), m["files"],
                  _size(m["kernel_size"] + m["initrd_size"]), m["ip"],
                  " via %s" % m["gateway"] if m["gateway"] else "",
                  "xl create %s (%s)" % (os.path.join(args.output, "appliance.xl"),
                                         "PVH" if m["pvh"] else "PV")
                  if args.target == "xen" else
                  "%s, then dig @127.0.0.1 -p 5353" % os.path.join(args.output, "run-qemu")))
    return EXIT_OK


def _check_vm_args(args):
    import ipaddress
    if args.ip:
        try:
            iface = ipaddress.IPv4Interface(args.ip)
        except ValueError:
            raise CLIError("--ip wants A.B.C.D/N, got %r" % args.ip) from None
        if "/" not in args.ip or iface.network.prefixlen > 30:
            raise CLIError("--ip wants a prefix length of at most 30 (A.B.C.D/N), got %r"
                           % args.ip)
    if args.gateway:
        parse_interface(args.ip or ("198.18.9.15/24" if args.target == "qemu"
                                    else "198.18.7.2/24"), args.gateway)
    if args.xen_dir and not args.xen_dir.startswith("/"):
        raise CLIError("--xen-dir wants an absolute path in dom0, got %r" % args.xen_dir)
    if args.report < 0:
        raise CLIError("--report wants a number of seconds (0: never)")


def _size(n: int) -> str:
    return "%.1f MB" % (n / 1e6) if n >= 1e6 else "%.0f kB" % (n / 1e3)


# -- inspect ----------------------------------------------------------------------------------
def cmd_inspect(args) -> int:
    from . import vmimage
    from .image import open_image
    if os.path.isdir(args.image):
        try:
            m = vmimage.read_manifest(args.image)
        except vmimage.VMImageError as e:
            raise CLIError(str(e)) from None
        inspect_vm(args.image, m)
        args.image = os.path.join(args.image, "appliance.img")
    img = open_image(args.image)
    try:
        m = img.meta
        print("image     %s" % args.image)
        print("format    %d (%s)" % (m["format"], m.get("builder", "?")))
        print("size      %d bytes (table %d bytes)" % (img.size, len(img.table)))
        print("sha256    %s (verified)" % img.digest)
        for z in m["zones"]:
            print("zone      %s serial %d, %d records in %d RRsets, source sha256 %s" % (
                z["origin"], z["serial"], z["records"], z["rrsets"], z["source_sha256"]))
        t = m["table"]
        print("table     %d names, %d answers (%d variants), longest probe %d" % (
            t["nodes"], t["entries"], t["variants"], t["max_probe"]))
        ch = m.get("chaos", {})
        print("chaos     identity %s, version %s" % (
            _quoted(ch.get("identity")), _quoted(ch.get("version"))))
    finally:
        img.close()
    return EXIT_OK


def inspect_vm(path, m):
    """The footprint of a VM image directory: kernel, initramfs and total, what the
    initramfs holds."""
    k = m["kernel"]
    print("vm image  %s (target %s%s)" % (path, m["target"], ", PVH" if m["pvh"] else ""))
    print("kernel    %s (%s %s, sha256 %s): %d bytes" % (
        k["release"], k["package"], k["version"], k["sha256"][:16], m["kernel_size"]))
    print("initramfs %d bytes gzip'd, %d unpacked, %d files, sha256 %s" % (
        m["initrd_size"], m["initrd_unpacked"], m["files"], m["initrd_sha256"][:16]))
    print("  holds   %s" % ", ".join("%s %d" % (k, v) for k, v in sorted(m["parts"].items())))
    print("  modules %s" % " ".join(m["modules"]))
    print("total     %d bytes (%s)" % (m["kernel_size"] + m["initrd_size"],
                                       _size(m["kernel_size"] + m["initrd_size"])))
    print("guest     %s%s, MAC %s, %d MiB" % (
        m["ip"], " via %s" % m["gateway"] if m["gateway"] else "", m["mac"], m["memory_mb"]))


def _quoted(s):
    return "REFUSED" if s is None else '"%s"' % s


# -- run --------------------------------------------------------------------------------------
def parse_listen(spec: str) -> tuple[int, str, int]:
    """ADDR:PORT or [V6ADDR]:PORT -> (family, address, port)."""
    if spec.startswith("["):
        host, sep, port = spec[1:].partition("]:")
        family = socket.AF_INET6
    else:
        host, sep, port = spec.rpartition(":")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CLIError("--listen wants ADDR:PORT or [ADDR]:PORT, got %r" % spec)
    try:
        socket.inet_pton(family, host)
    except OSError:
        raise CLIError("--listen: %r is not an IP address" % host) from None
    return family, host, int(port)


def format_counters(c: dict) -> str:
    parts = ["%s=%d" % (k, v) for k, v in c.items() if v or k == "queries"]
    return "counters: " + " ".join(parts)


def cmd_run(args) -> int:
    """Serve an image. Outside appliance-launch this re-executes itself under it (the
    reserved memory region, the isolated interpreter); inside, it opens the image and the
    netdev, seals the process, and serves until SIGINT or SIGTERM."""
    from pvboot import netdev as pv

    from .engine import Engine
    from .image import open_image
    if bool(args.listen) == bool(args.netdev):
        raise CLIError("run needs --listen ADDR:PORT (socket stack) or --netdev tap:NAME|"
                       "afpacket:IFACE with --ip A.B.C.D/N (direct stack)")
    if args.listen:
        family, host, port = parse_listen(args.listen)
        spec = "socket:[%s]:%d" % (host, port) if family == socket.AF_INET6 else \
            "socket:%s:%d" % (host, port)
        where = spec[len("socket:"):] + "/udp, socket stack"
    else:
        spec = args.netdev
        iface = parse_interface(args.ip, args.gateway)
    memory = parse_memory(args.memory) if args.memory else None
    if args.report < 0:
        raise CLIError("--report wants a number of seconds")
    launched = pv.launched()
    if launched is None:
        return exec_launcher(args, memory)
    if args.no_seal:
        print("appliance: WARNING: --no-seal: this process is NOT sealed; debugging only",
              file=sys.stderr, flush=True)
    img = open_image(args.image)
    engine = Engine(img.table)
    try:
        netdev = pv.Netdev(spec)
    except pv.NetdevError as e:
        raise CLIError(str(e)) from None
    zones = ", ".join("%s (serial %d)" % (z["origin"], z["serial"]) for z in img.meta["zones"])
    try:
        if args.listen:
            from .udpserver import SocketServer
            server = SocketServer(engine, netdev)
            serve = server.serve
            counters = _socket_counters(engine, server, netdev)
        else:
            from netstack.stack import NetStack
            info = netdev.info
            if info["kind"] == "socket":
                raise CLIError("--netdev wants tap:NAME or afpacket:IFACE; a socket is --listen")
            mac = parse_mac(args.mac) if args.mac else (
                info["mac"] if info["kind"] == "afpacket" else default_mac(iface))
            server = NetStack(engine, mac, str(iface.ip), iface.network.prefixlen,
                              gateway=args.gateway)
            serve = functools.partial(server.serve, netdev)
            counters = _stack_counters(engine, server, netdev)
            where = "%s as %s, MAC %s%s, direct stack" % (
                spec, iface.with_prefixlen, mac.hex(":"),
                ", gateway %s" % args.gateway if args.gateway else "")
        seal = "NOT sealed (--no-seal)"
        if not args.no_seal:
            # opened now, read after: the seal forbids opening files, not reading open ones
            status = os.open("/proc/self/status", os.O_RDONLY)
            try:
                allowed = pv.seal(poweroff=launched["pid1"])
            except pv.SealError as e:
                raise CLIError(str(e)) from None
            seal = "sealed, %d system calls allowed (%s)" % (allowed, seal_state(status))
        print("serving %s from %s (sha256 %s) on %s" % (
            zones, args.image, img.digest[:16], where), flush=True)
        print("memory: %s; %s" % (memory_line(pv), seal), flush=True)
        try:
            report = lambda sig: print(format_counters(counters()), flush=True)  # noqa: E731
            if args.report:
                signum = serve(report, report_every=args.report)
            else:
                signum = serve(report)
        finally:
            pv.restore_signals()
        try:
            print("stopped by signal %d; %s" % (signum, format_counters(counters())),
                  flush=True)
        except MemoryError:
            # the region is spent: the counters come from C, without Python objects
            os.write(1, b"stopped; ")
            server.write_counters(1)
    finally:
        netdev.close()
    return EXIT_OK


def seal_state(fd: int) -> str:
    """What the kernel says of this process: Seccomp and NoNewPrivs from /proc/self/status."""
    os.lseek(fd, 0, os.SEEK_SET)
    fields = dict(line.split(":\t", 1) for line in os.read(fd, 8192).decode().splitlines()
                  if ":\t" in line)
    return "Seccomp %s, NoNewPrivs %s" % (fields.get("Seccomp", "?").strip(),
                                          fields.get("NoNewPrivs", "?").strip())


def memory_line(pv) -> str:
    st = pv.mem_stats()
    return ("%d MiB reserved (%s), %d of %d 2 MiB extents in use (%.1f MiB in blocks), "
            "%d request to the kernel" % (
                st["reserved"] >> 20,
                "hugepages" if st["hugepages"] else "transparent hugepages",
                st["extents_used"], st["extents_used"] + st["free_extents"],
                st["in_use"] / 2**20, st["kernel_requests"]))


def parse_memory(text: str) -> int:
    import re
    m = re.fullmatch(r"(\d+)([KMG]?)(i?B)?", text.strip(), re.I)
    if not m or int(m.group(1)) == 0:
        raise CLIError("--memory wants a size like 512M or 2G, got %r" % text)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]


# the interpreter, our modules and the stack's buffers need this beside the image (measured:
# about 30 MiB in use after start-up; see tests/test_seal.py)
HEADROOM = 32 << 20


def exec_launcher(args, memory):
    """Run this same command under appliance-launch (pvboot/launcher.c): the memory region,
    then an isolated interpreter with only our modules and the standard library."""
    import sysconfig

    import pvboot
    launcher = os.path.join(os.path.dirname(os.path.abspath(pvboot.__file__)),
                            "appliance-launch")
    if not os.access(launcher, os.X_OK):
        raise CLIError("%s is missing: build the appliance first (make build)" % launcher)
    if memory is None:
        try:
            size = os.path.getsize(args.image)
        except OSError as e:
            raise CLIError("%s: cannot read: %s" % (args.image, e.strerror)) from None
        memory = (size + HEADROOM + (2 << 20) - 1) & ~((2 << 20) - 1)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stdlib = sysconfig.get_paths()["stdlib"]
    path = [stdlib, os.path.join(stdlib, "lib-dynload"), here]
    argv = [launcher, "--memory", "%dM" % (memory >> 20), "--home", sys.base_prefix,
            "--path", ":".join(path), "--", *args.argv]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(launcher, argv)


def parse_interface(ip, gateway):
    import ipaddress
    if not ip:
        raise CLIError("--netdev needs --ip A.B.C.D/N, the address our stack answers on")
    try:
        iface = ipaddress.IPv4Interface(ip)
    except ValueError:
        raise CLIError("--ip wants A.B.C.D/N, got %r" % ip) from None
    if "/" not in ip:
        raise CLIError("--ip wants a prefix length too (A.B.C.D/N), got %r" % ip)
    if gateway:
        try:
            gw = ipaddress.IPv4Address(gateway)
        except ValueError:
            raise CLIError("--gateway wants A.B.C.D, got %r" % gateway) from None
        if gw not in iface.network or gw == iface.ip:
            raise CLIError("--gateway %s is not another address on %s" % (gw, iface.network))
    return iface


def parse_mac(text: str) -> bytes:
    parts = text.replace("-", ":").split(":")
    try:
        mac = bytes(int(p, 16) for p in parts)
    except ValueError:
        mac = b""
    if len(mac) != 6 or len(parts) != 6 or mac[0] & 1:
        raise CLIError("--mac wants a unicast MAC like 02:00:c6:12:00:02, got %r" % text)
    return mac


def default_mac(iface) -> bytes:
    """A locally administered MAC made from our address (a TAP's own MAC is the kernel's)."""
    return b"\x02\x00" + iface.ip.packed


def _memory_counters(c):
    from pvboot.netdev import mem_stats
    st = mem_stats()
    if st:
        c["mem_in_use"] = st["in_use"]
        c["mem_extents_used"] = st["extents_used"]
        c["mem_failures"] = st["failures"]
        c["mem_kernel_requests"] = st["kernel_requests"]
    return c


def _socket_counters(engine, server, netdev):
    def counters():
        c = engine.counters()
        st = netdev.stats
        c["drop_truncated_query"] = st["rx_truncated"]
        c["no_buffer"] = server.no_buffer
        c["tx_dropped"] = server.tx_dropped
        return _memory_counters(c)
    return counters


def _stack_counters(engine, stack, netdev):
    def counters():
        c = engine.counters()
        c.update(stack.counters())
        for k, v in netdev.stats.items():
            c["netdev_" + k] = v
        return _memory_counters(c)
    return counters


# -- bench ------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    """The load harness (bench/harness.py); with --micro the pytest-benchmark suites; with
    --boot the VM boot-time and footprint comparison (bench/vmboot.py)."""
    import subprocess
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    extra = list(args.bench_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    if extra[:1] == ["--micro"]:
        cmd = [sys.executable, "-m", "pytest", os.path.join(here, "bench"), "-q",
               "--benchmark-only", "-p", "no:cacheprovider"] + extra[1:]
        return subprocess.call(cmd, cwd=here)
    sys.path.insert(0, here)
    if extra[:1] == ["--boot"]:
        from bench import vmboot
        return vmboot.main(extra[1:])
    from bench import harness
    return harness.main(extra)


# -- main -------------------------------------------------------------------------------------
def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="appliance",
                                description="A sealed authoritative DNS appliance.")
    p.add_argument("--version", action="version", version="appliance %s" % __version__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("check-zone", help="check zone files, like nsd-checkzone")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--origin", help="the zone's origin (default: $ORIGIN or the SOA owner)")
    s.set_defaults(func=cmd_check_zone)

    s = sub.add_parser("build", help="compile zones into a sealed image")
    s.add_argument("files", nargs="*", metavar="FILE")
    s.add_argument("--zone", action="append", metavar="ORIGIN=FILE",
                   help="a zone file with its origin given (repeatable)")
    s.add_argument("-o", "--output", required=True, metavar="IMG")
    s.add_argument("--identity", help="CHAOS TXT id.server / hostname.bind (default REFUSED)")
    s.add_argument("--server-version", metavar="TEXT",
                   help="CHAOS TXT version.bind / version.server (default REFUSED)")
    s.add_argument("--target", choices=("qemu", "xen"),
                   help="also make a VM image: -o names a directory (vmlinuz, initrd.img, "
                        "appliance.xl, run-qemu)")
    s.add_argument("--pvh", action="store_true", help="the xl config boots PVH, not PV")
    s.add_argument("--ip", metavar="A.B.C.D/N",
                   help="the guest's address (default 198.18.9.15/24 for qemu, "
                        "198.18.7.2/24 for xen)")
    s.add_argument("--gateway", metavar="A.B.C.D",
                   help="the guest's next hop (default 198.18.9.2 for qemu, none for xen)")
    s.add_argument("--xen-dir", metavar="DIR",
                   help="where the files will be in dom0, for appliance.xl (default: -o)")
    s.add_argument("--report", type=int, default=60, metavar="SECONDS",
                   help="the guest logs its counters this often (default 60; 0: never)")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("inspect", help="show an image's zones, serials, sizes and hash "
                                       "(a VM image directory: also kernel and initramfs)")
    s.add_argument("image", metavar="IMG|DIR")
    s.set_defaults(func=cmd_inspect)

    s = sub.add_parser("run", help="serve an image")
    s.add_argument("image", metavar="IMG")
    s.add_argument("--listen", metavar="ADDR:PORT", help="socket stack: kernel UDP on ADDR:PORT")
    s.add_argument("--netdev", metavar="SPEC",
                   help="direct stack on tap:NAME or afpacket:IFACE[,fanout=N] (root)")
    s.add_argument("--ip", metavar="A.B.C.D/N", help="our address (direct stack)")
    s.add_argument("--gateway", metavar="A.B.C.D", help="next hop for other networks")
    s.add_argument("--mac", metavar="MAC",
                   help="our MAC (default: the interface's for afpacket, 02:00:<ip> for tap)")
    s.add_argument("--memory", metavar="SIZE",
                   help="the memory region reserved at boot (default: the image + 32 MiB)")
    s.add_argument("--no-seal", action="store_true",
                   help="do not seal the process (debugging only; says so loudly)")
    s.add_argument("--report", type=float, default=0, metavar="SECONDS",
                   help="print the counters this often (default: on SIGUSR1 only)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("bench", add_help=False,
                       help="the benchmark against NSD, Knot and BIND (--help for options); "
                            "--micro: the engine and build micro-benchmarks; --boot: VM boot "
                            "time and footprint")
    s.add_argument("bench_args", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    from .image import ImageError
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # every option after "bench" belongs to the harness (or to pytest with --micro)
        args = argparse.Namespace(func=cmd_bench, bench_args=argv[1:])
    else:
        args = make_parser().parse_args(argv)
        args.argv = argv
    try:
        return args.func(args)
    except (CLIError, ImageError) as e:
        _err(str(e))
        return EXIT_FAIL
    except KeyboardInterrupt:
        return EXIT_FAIL
    except BrokenPipeError:
        # the reader has gone (`appliance inspect DIR | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAIL
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, not a trace
        if os.environ.get("APPLIANCE_DEBUG") == "1":
            raise
        _err("internal error: %s: %s (APPLIANCE_DEBUG=1 shows the traceback)" % (
            type(e).__name__, e))
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
