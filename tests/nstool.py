"""Small client tools the tests run inside a network namespace (``ip netns exec NS python -m
tests.nstool ...``): pipelined DNS queries, sending raw frames, sniffing frames.

Files hold length-prefixed messages (u32 length, then the bytes; length 0xFFFFFFFF for "no
response"), so queries and responses travel between namespaces without any parsing.
"""

import argparse
import select
import socket
import struct
import sys
import time

NONE = 0xFFFFFFFF


def write_messages(path, msgs):
    with open(path, "wb") as f:
        for m in msgs:
            if m is None:
                f.write(struct.pack("<I", NONE))
            else:
                f.write(struct.pack("<I", len(m)) + m)


def read_messages(path):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        i += 4
        if n == NONE:
            out.append(None)
        else:
            out.append(data[i:i + n])
            i += n
    return out


def cmd_query(a):
    sys.path.insert(0, a.root)
    from tests.udpclient import UDPClient
    queries = read_messages(a.infile)
    res = UDPClient(a.host, a.port).query_many(queries, timeout=a.timeout, rate=a.rate)
    write_messages(a.outfile, res)


def cmd_send(a):
    """Send the frames once, or over and over for ``--for`` seconds; print how many."""
    frames = read_messages(a.infile)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    sent = 0
    end = time.monotonic() + a.seconds
    while True:
        for f in frames:
            s.send(f)
            sent += 1
            if a.gap:
                time.sleep(a.gap)
        if time.monotonic() >= end:
            break
    s.close()
    print(sent, flush=True)


def cmd_sniff(a):
    """Capture frames of an ethertype on IFACE for SECONDS, or until COUNT were seen."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(a.ethertype))
    s.bind((a.iface, 0))
    print("ready", flush=True)
    frames = []
    end = time.monotonic() + a.seconds
    while time.monotonic() < end and len(frames) < a.count:
        r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
        if r:
            frames.append(s.recv(65535))
    write_messages(a.outfile, frames)


def main(argv=None):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("query")
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("infile")
    q.add_argument("outfile")
    q.add_argument("--root", default=".")
    q.add_argument("--timeout", type=float, default=1.0)
    q.add_argument("--rate", type=float, default=None)
    q.set_defaults(func=cmd_query)
    s = sub.add_parser("send")
    s.add_argument("iface")
    s.add_argument("infile")
    s.add_argument("--gap", type=float, default=0.0)
    s.add_argument("--for", dest="seconds", type=float, default=0.0)
    s.set_defaults(func=cmd_send)
    f = sub.add_parser("sniff")
    f.add_argument("iface")
    f.add_argument("outfile")
    f.add_argument("--ethertype", type=lambda x: int(x, 0), default=0x0806)
    f.add_argument("--seconds", type=float, default=5.0)
    f.add_argument("--count", type=int, default=1 << 30)
    f.set_defaults(func=cmd_sniff)
    a = p.parse_args(argv)
    a.func(a)


if __name__ == "__main__":
    main()
