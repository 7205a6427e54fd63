"""A pipelined UDP DNS client for tests: raw query bytes out, raw responses back."""

from __future__ import annotations

import selectors
import socket
import time


class UDPClient:
    """Queries one server on loopback (or any address a test made for itself)."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET

    def _socket(self) -> socket.socket:
        s = socket.socket(self.family, socket.SOCK_DGRAM)
        s.connect((self.host, self.port))  # the kernel then only delivers the server's datagrams
        return s

    def query(self, wire: bytes, timeout: float = 2.0) -> bytes | None:
        """Send WIRE as one UDP datagram; the raw response, or None on timeout."""
        with self._socket() as s:
            s.settimeout(timeout)
            s.send(wire)
            try:
                return s.recv(65535)
            except (socket.timeout, ConnectionRefusedError):
                return None

    def query_many(
        self,
        wires: list[bytes],
        timeout: float = 1.0,
        window: int = 50,
        rate: float | None = None,
    ) -> list[bytes | None]:
        """Send many UDP queries, at most WINDOW outstanding; results in input order.

        Each outstanding query has its own connected socket (its own source port), so a response
        is matched to its query by the socket it arrives on, never by DNS ID or question (callers'
        IDs may repeat, and malformed queries may get answers without a question). A socket whose
        query timed out is closed, never reused, so a late answer cannot be misattributed.

        RATE caps the sending rate (queries per second). NSD answers at most ~100 FORMERR/NOTIMP
        responses per second (ERROR_RATELIMIT, not configurable) and silently drops the rest, so
        batches of malformed queries or unusual opcodes need e.g. rate=80 (or fewer than 100).
        """
        results: list[bytes | None] = [None] * len(wires)
        idle: list[socket.socket] = []
        sel = selectors.DefaultSelector()
        pending: dict[int, tuple[int, float, socket.socket]] = {}  # fd -> (index, deadline, sock)
        nxt = 0
        start = time.monotonic()
        try:
            while nxt < len(wires) or pending:
                while nxt < len(wires) and len(pending) < window:
                    if rate and time.monotonic() < start + nxt / rate:
                        break
                    s = idle.pop() if idle else self._socket()
                    s.setblocking(False)
                    try:
                        s.send(wires[nxt])
                    except OSError:
                        s.close()
                        nxt += 1
                        continue
                    pending[s.fileno()] = (nxt, time.monotonic() + timeout, s)
                    sel.register(s, selectors.EVENT_READ)
                    nxt += 1
                now = time.monotonic()
                wakes = [d for _, d, _ in pending.values()]
                if rate and nxt < len(wires):
                    wakes.append(start + nxt / rate)
                wait = max(0.0, min(wakes) - now) if wakes else 0
                for key, _ in sel.select(wait):
                    idx, _, s = pending.pop(key.fd)
                    sel.unregister(s)
                    try:
                        results[idx] = s.recv(65535)
                        idle.append(s)
                    except OSError:  # e.g. ICMP port unreachable: treat as no answer
                        s.close()
                now = time.monotonic()
                for fd, (_, d, s) in list(pending.items()):
                    if d <= now:
                        del pending[fd]
                        sel.unregister(s)
                        s.close()
        finally:
            for _, _, s in pending.values():
                s.close()
            for s in idle:
                s.close()
            sel.close()
        return results
