"""Boot a VM image directory (appliance build --target qemu) under QEMU TCG for the tests.

The guest is started through the image's own run-qemu script (QEMU user networking on
198.18.9.0/24, its port 53 forwarded from 127.0.0.1:PORT), with the QEMU monitor on a unix
socket so that a test can press Ctrl-Alt-Del. The serial console is collected line by line.
The QEMU process is killed by pid when the test is done with it.
"""

import os
import random
import re
import socket
import subprocess
import threading
import time

from tests.udpclient import UDPClient


def ensure_qemu():
    if subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"],
                      capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                        "qemu-system-x86"], check=True, capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def free_udp_port() -> int:
    for _ in range(50):
        port = random.randrange(20000, 30000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP port")


class QemuGuest:
    def __init__(self, vm_dir: str, workdir: str, append: str | None = None):
        self.vm_dir = vm_dir
        self.port = free_udp_port()
        self.monitor_path = os.path.join(workdir, "qemu-monitor.sock")
        self.append = append
        self.lines: list[tuple[float, str]] = []
        self.proc = None
        self.started = None
        self._cond = threading.Condition()

    def start(self) -> "QemuGuest":
        ensure_qemu()
        cmd = [os.path.join(self.vm_dir, "run-qemu"), "--port", str(self.port), "--",
               "-monitor", "unix:%s,server=on,wait=off" % self.monitor_path]
        if self.append is not None:
            cmd += ["-append", self.append]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._cond:
                self.lines.append((time.monotonic() - self.started, line))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def console(self) -> str:
        with self._cond:
            return "\n".join(line for _, line in self.lines)

    def wait_for(self, pattern: str, timeout: float = 120.0) -> str:
        """The first console line matching PATTERN (a regex); fails with the console."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for _, line in self.lines[seen:]:
                    if rx.search(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and seen == len(self.lines)):
                    break
                self._cond.wait(min(left, 0.5))
        raise AssertionError("no console line matches %r within %.0f s; console:\n%s"
                             % (pattern, timeout, self.console()[-6000:]))

    def client(self) -> UDPClient:
        return UDPClient("127.0.0.1", self.port)

    def first_answer(self, wire: bytes, timeout: float = 120.0) -> float:
        """Query until an answer comes back; seconds since the QEMU process started."""
        deadline = time.monotonic() + timeout
        c = self.client()
        while time.monotonic() < deadline:
            if c.query(wire, timeout=0.2) is not None:
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                break
        raise AssertionError("no answer from the guest; console:\n" + self.console()[-6000:])

    def monitor(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.monitor_path)
            s.recv(4096)                              # the banner and prompt
            s.sendall(command.encode() + b"\n")
            time.sleep(0.3)
            return s.recv(4096).decode("utf-8", "replace")

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()                          # by pid: run-qemu execs QEMU
            self.proc.wait(10)
        if os.path.exists(self.monitor_path):
            os.unlink(self.monitor_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
