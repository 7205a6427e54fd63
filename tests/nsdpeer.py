"""Run a real NSD as a test oracle (DESIGN.md section 8).

    from nsdpeer import NSDPeer   # tests/ is on sys.path under pytest
    with NSDPeer({"example.": "/path/example.zone"}, port=15301) as peer:
        raw = peer.query(wire)                 # one UDP datagram, raw bytes or None
        raws = peer.query_many([w1, w2, ...])  # same, many, pipelined

NSD runs in the foreground (`nsd -d`) as our child, as the current user, without chroot, with
every file it writes inside a fresh temporary directory, response-rate limiting off (Debian's
default of 200 qps would silently drop differential-test traffic) and no remote control.
Only loopback is used. Nothing here depends on dnslib: queries and responses are raw bytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time

from tests.udpclient import UDPClient

__all__ = ["NSDPeer", "NSDPeerError"]

_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class NSDPeerError(RuntimeError):
    """NSD could not be installed, configured, checked or started."""


def _which(prog: str) -> str | None:
    found = shutil.which(prog)
    if found:
        return found
    for d in _SBIN_DIRS:  # /usr/sbin is often not on a non-root PATH
        p = os.path.join(d, prog)
        if os.access(p, os.X_OK):
            return p
    return None


def _quote(s: str) -> str:
    if '"' in s or "\n" in s:
        raise ValueError(f"cannot put {s!r} in nsd.conf")
    return f'"{s}"'


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode("ascii")
            out += bytes([len(b)]) + b
    return out + b"\0"


def soa_query(origin: str, qid: int = 0x5E11) -> bytes:
    """A plain UDP query (no EDNS, RD=0) for ORIGIN SOA IN."""
    return struct.pack("!6H", qid, 0, 1, 0, 0, 0) + _encode_name(origin) + struct.pack("!2H", 6, 1)


class NSDPeer:
    """A real NSD serving ZONES ({origin: zonefile path}) on 127.0.0.1 and ::1 at PORT."""

    def __init__(
        self,
        zones: dict[str, str],
        port: int,
        identity: str | None = "appliance-test",
        version: str | None = None,
        refuse_any: bool = False,
        extra: str = "",
    ) -> None:
        if not zones:
            raise ValueError("NSDPeer needs at least one zone")
        self.zones = {
            (o if o.endswith(".") else o + "."): os.path.abspath(p) for o, p in zones.items()
        }
        self.port = int(port)
        self.identity = identity
        self.version = version
        self.refuse_any = refuse_any
        self.extra = extra
        self.tmpdir: str | None = None
        self.conf_path: str | None = None
        self.log_path: str | None = None
        self.stderr_path: str | None = None
        self.proc: subprocess.Popen | None = None
        self._stderr_file = None

    # ------------------------------------------------------------------ install / config

    @staticmethod
    def ensure_installed() -> str:
        """Return the path of `nsd`, installing Debian's package first if it is missing."""
        nsd = _which("nsd")
        if nsd and _which("nsd-checkzone") and _which("nsd-checkconf"):
            return nsd
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sudo = ["sudo", "-E"] if os.geteuid() != 0 and shutil.which("sudo") else []
        install = sudo + ["apt-get", "install", "-y", "nsd"]
        res = subprocess.run(install, env=env, capture_output=True, text=True)
        if res.returncode != 0:  # a stale package index is the usual cause: refresh once
            subprocess.run(sudo + ["apt-get", "update"], env=env, capture_output=True, text=True)
            res = subprocess.run(install, env=env, capture_output=True, text=True)
        nsd = _which("nsd")
        if res.returncode != 0 or not nsd:
            raise NSDPeerError(
                f"could not install nsd (apt-get exit {res.returncode}):\n"
                f"{res.stdout}\n{res.stderr}"
            )
        return nsd

    def config_text(self) -> str:
        d = self.tmpdir
        assert d is not None
        lines = [
            "server:",
            "    server-count: 1",
            f"    ip-address: 127.0.0.1@{self.port}",
            f"    ip-address: ::1@{self.port}",
            f"    port: {self.port}",
            '    username: ""',
            '    chroot: ""',
            f"    zonesdir: {_quote(d)}",
            '    database: ""',
            f"    zonelistfile: {_quote(os.path.join(d, 'zone.list'))}",
            f"    pidfile: {_quote(os.path.join(d, 'nsd.pid'))}",
            f"    xfrdfile: {_quote(os.path.join(d, 'xfrd.state'))}",
            f"    xfrdir: {_quote(d)}",
            f"    cookie-secret-file: {_quote(os.path.join(d, 'cookiesecrets.txt'))}",
            f"    logfile: {_quote(os.path.join(d, 'nsd.log'))}",
            "    verbosity: 1",
            "    rrl-ratelimit: 0",
            "    rrl-whitelist-ratelimit: 0",
            f"    refuse-any: {'yes' if self.refuse_any else 'no'}",
        ]
        if self.identity is None:
            lines.append("    hide-identity: yes")
        else:
            lines.append(f"    identity: {_quote(self.identity)}")
        if self.version is None:
            lines.append("    hide-version: yes")
        else:
            lines += ["    hide-version: no", f"    version: {_quote(self.version)}"]
        if self.extra:
            lines += [
                ln if ln.startswith((" ", "\t")) or ln.rstrip().endswith(":") else "    " + ln
                for ln in self.extra.splitlines()
            ]
        lines += ["", "remote-control:", "    control-enable: no", ""]
        for origin, path in self.zones.items():
            lines += ["zone:", f"    name: {_quote(origin)}", f"    zonefile: {_quote(path)}", ""]
        return "\n".join(lines)

    def _check(self) -> None:
        checkconf = _which("nsd-checkconf")
        checkzone = _which("nsd-checkzone")
        if not checkconf or not checkzone:
            raise NSDPeerError("nsd-checkconf / nsd-checkzone not found")
        res = subprocess.run([checkconf, self.conf_path], capture_output=True, text=True)
        if res.returncode != 0:
            raise NSDPeerError(
                f"nsd-checkconf rejected {self.conf_path}:\n"
                f"{res.stdout}{res.stderr}\n--- config ---\n{self.config_text()}"
            )
        for origin, path in self.zones.items():
            res = subprocess.run([checkzone, origin, path], capture_output=True, text=True)
            if res.returncode != 0:
                raise NSDPeerError(
                    f"nsd-checkzone rejected zone {origin} ({path}):\n{res.stdout}{res.stderr}"
                )

    # ------------------------------------------------------------------ lifecycle

    def start(self, ready_timeout: float = 10.0) -> "NSDPeer":
        if self.proc is not None:
            raise NSDPeerError("already started")
        nsd = self.ensure_installed()
        self.tmpdir = tempfile.mkdtemp(prefix="nsdpeer-")
        try:
            self.conf_path = os.path.join(self.tmpdir, "nsd.conf")
            self.log_path = os.path.join(self.tmpdir, "nsd.log")
            self.stderr_path = os.path.join(self.tmpdir, "nsd.stderr")
            with open(self.conf_path, "w") as f:
                f.write(self.config_text())
            self._check()
            self._stderr_file = open(self.stderr_path, "wb")
            # Own session: NSD forks xfrd and a server child; if the main process has to be
            # SIGKILLed we can still reap the whole group we created (its pgid is our child's pid).
            self.proc = subprocess.Popen(
                [nsd, "-d", "-c", self.conf_path],
                stdin=subprocess.DEVNULL,
                stdout=self._stderr_file,
                stderr=self._stderr_file,
                start_new_session=True,
                cwd=self.tmpdir,
            )
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        origin = next(iter(self.zones))
        deadline = time.monotonic() + timeout
        probe = soa_query(origin)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NSDPeerError(
                    f"nsd exited with {self.proc.returncode} during start-up:\n{self.logs()}"
                )
            resp = self.query(probe, timeout=0.2)
            if resp and len(resp) >= 12 and resp[:2] == probe[:2] and resp[2] & 0x80:
                return
            time.sleep(0.05)
        raise NSDPeerError(
            f"nsd did not answer {origin} SOA on port {self.port} within {timeout}s:\n{self.logs()}"
        )

    def logs(self) -> str:
        out = []
        for p in (self.stderr_path, self.log_path):
            if p and os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append(f"--- {os.path.basename(p)} ---\n{f.read()}")
        return "\n".join(out)

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            # Whatever is left of the process group we created (main, xfrd, server child).
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> "NSDPeer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ queries

    def client(self, family: int = 4) -> UDPClient:
        if family not in (4, 6):
            raise ValueError("family must be 4 or 6")
        return UDPClient("127.0.0.1" if family == 4 else "::1", self.port)

    def query(self, wire: bytes, timeout: float = 2.0, family: int = 4) -> bytes | None:
        """Send WIRE as one UDP datagram; the raw response, or None on timeout."""
        return self.client(family).query(wire, timeout)

    def query_many(self, wires: list[bytes], timeout: float = 1.0, family: int = 4,
                   window: int = 50, rate: float | None = None) -> list[bytes | None]:
        """Many queries, pipelined (see UDPClient.query_many); results in input order."""
        return self.client(family).query_many(wires, timeout, window, rate)
