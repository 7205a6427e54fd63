"""Builds the appliance: the Cython extensions (answer engine, socket server) and the CLI."""

import os
import subprocess
import sysconfig

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

try:
    from Cython.Build import cythonize
except ImportError as exc:  # pragma: no cover - the Makefile installs Cython first
    raise SystemExit("setup.py needs Cython: pip install cython") from exc

DEBUG = os.environ.get("APPLIANCE_DEBUG") == "1"

# No -march: the same extensions run in the VM image under QEMU "-cpu qemu64".
CFLAGS = ["-O0", "-g"] if DEBUG else ["-O3", "-fno-strict-aliasing"]
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "embedsignature": True,
}


def ext(name, sources, **kw):
    return Extension(name, sources, extra_compile_args=CFLAGS + ["-Wno-unused-function"], **kw)


extensions = [
    ext("appliance.engine", ["appliance/engine.pyx"]),
    ext("appliance.udpserver", ["appliance/udpserver.pyx"], include_dirs=["pvboot"]),
    ext("netstack.stack", ["netstack/stack.pyx"], include_dirs=["pvboot"]),
    # All of pvboot's C lives in this one extension; others reach it via pvboot/netdev.pxd.
    ext("pvboot.netdev", ["pvboot/netdev.pyx", "pvboot/netdev_core.c", "pvboot/netdev_link.c",
                          "pvboot/netdev_tap.c", "pvboot/netdev_afpacket.c",
                          "pvboot/netdev_socket.c", "pvboot/yield.c", "pvboot/clock.c",
                          "pvboot/seal.c"],
        include_dirs=["pvboot"]),
]

LAUNCHER_SOURCES = ["pvboot/launcher.c", "pvboot/guest.c", "pvboot/mem.c", "pvboot/seal.c",
                    "pvboot/seal_selftest.c"]


class BuildExtAndLauncher(build_ext):
    """The extensions, then pvboot's launcher: a C program that embeds this Python."""

    def run(self):
        super().run()
        cc = (sysconfig.get_config_var("CC") or "gcc").split()[0]
        libdir = sysconfig.get_config_var("LIBDIR")
        out = os.path.join("pvboot", "appliance-launch")
        cmd = [cc, *(["-O0", "-g"] if DEBUG else ["-O2"]), "-Wall", "-Wextra",
               "-I", sysconfig.get_paths()["include"], "-I", "pvboot", *LAUNCHER_SOURCES,
               "-o", out, "-L", libdir, "-lpython" + sysconfig.get_config_var("LDVERSION"),
               "-Wl,-rpath," + libdir, "-rdynamic", "-lpthread", "-ldl", "-lm"]
        subprocess.run(cmd, check=True)
        if not self.inplace:
            dest = os.path.join(self.build_lib, "pvboot")
            os.makedirs(dest, exist_ok=True)
            self.copy_file(out, os.path.join(dest, "appliance-launch"))


setup(
    name="appliance",
    version="0.1.0",
    description="A sealed authoritative DNS appliance built like a unikernel",
    packages=find_packages(include=["appliance*", "zones*", "netstack*", "pvboot*"]),
    package_data={"appliance": ["*.pxd", "*.pyi", "include/*.h"], "zones": ["examples/*"],
                  "netstack": ["*.pxd", "include/*.h"],
                  "pvboot": ["*.pxd", "*.h", "appliance-launch"]},
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES,
                          annotate=DEBUG, quiet=True),
    cmdclass={"build_ext": BuildExtAndLauncher},
    python_requires=">=3.11",
    install_requires=["dnslib>=0.9.24"],
    entry_points={"console_scripts": ["appliance=appliance.cli:main"]},
    zip_safe=False,
)
