"""Malformed and unusual queries, built byte by byte: shared by the NSD comparison, the fuzz
seeds and the hostile-traffic tests of the stack."""

import struct

TYPE_A, TYPE_OPT, TYPE_TSIG = 1, 41, 250


def name(text: str) -> bytes:
    if text in ("", "."):
        return b"\x00"
    return b"".join(bytes([len(p)]) + p.encode() for p in text.rstrip(".").split(".")) + b"\x00"


WWW = name("www.example.com")


def header(qid=0x4D41, flags=0x0100, qd=1, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(qname=WWW, qtype=TYPE_A, qclass=1) -> bytes:
    return qname + struct.pack("!HH", qtype, qclass)


def opt(size=1232, ext_rcode=0, version=0, flags=0, rdata=b"", owner=b"\x00") -> bytes:
    ttl = (ext_rcode << 24) | (version << 16) | flags
    return owner + struct.pack("!HHIH", TYPE_OPT, size, ttl, len(rdata)) + rdata


def a_record(owner=WWW) -> bytes:
    return owner + struct.pack("!HHIH", TYPE_A, 1, 300, 4) + bytes([198, 18, 0, 1])


BOGUS_KEY = name("bogus.key")
HMAC_SHA256 = name("hmac-sha256")


def tsig(key=BOGUS_KEY, alg=HMAC_SHA256, mac=b"\x00" * 32, orig_id=0x4D41,
         rdata=None) -> bytes:
    if rdata is None:
        rdata = (alg + struct.pack("!HIH", 0, 1700000000, 300) + struct.pack("!H", len(mac))
                 + mac + struct.pack("!HHH", orig_id, 0, 0))
    return key + struct.pack("!HHIH", TYPE_TSIG, 255, 0, len(rdata)) + rdata


def flags_word(opcode=0, qr=0, aa=0, tc=0, rd=1, ra=0, z=0, ad=0, cd=0, rcode=0) -> int:
    return ((qr << 15) | (opcode << 11) | (aa << 10) | (tc << 9) | (rd << 8) | (ra << 7)
            | (z << 6) | (ad << 5) | (cd << 4) | rcode)


ALL_FLAGS = flags_word(aa=1, tc=1, rd=1, ra=1, z=1, ad=1, cd=1)
LONG_LABEL = b"\x3f" + b"a" * 63
NAME_256 = LONG_LABEL * 4 + b"\x03abc\x00"          # 4*64 + 4 + 1 = 261 octets
NAME_255 = LONG_LABEL * 3 + b"\x3e" + b"b" * 62 + b"\x00"


def cases() -> list[tuple[str, bytes]]:
    """(description, query bytes): at least 25 kinds of malformed or unusual queries."""
    q = question()
    c = [
        ("empty datagram", b""),
        ("11 octets", header()[:11]),
        ("header only, QDCOUNT=0", header(qd=0)),
        ("header only, QDCOUNT=1", header()),
        ("QR=1 (a response)", header(flags=0x8100) + q),
        ("QDCOUNT=0 with a question", header(qd=0) + q),
        ("QDCOUNT=2, two questions", header(qd=2) + q + q),
        ("QDCOUNT=2, one question", header(qd=2) + q),
        ("QDCOUNT=2 all flags", header(qd=2, flags=ALL_FLAGS) + q + q),
        ("label of 64 (0x40 type bits)", header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"),
        ("label type 0x80", header() + b"\x80abc\x00\x00\x01\x00\x01"),
        ("compression pointer in the question", header() + b"\x03www\xc0\x0c\x00\x01\x00\x01"),
        ("pointer loop in the question", header() + b"\xc0\x0c\x00\x01\x00\x01"),
        ("pointer to the header", header() + b"\xc0\x02\x00\x01\x00\x01"),
        ("name cut mid-label", header() + b"\x03ww"),
        ("name without root", header() + b"\x03www"),
        ("type cut", header() + WWW + b"\x00"),
        ("class cut", header() + WWW + b"\x00\x01\x00"),
        ("no class", header() + WWW + b"\x00\x01"),
        ("name of 256+ octets", header() + NAME_256 + b"\x00\x01\x00\x01"),
        ("name of 255 octets", header() + NAME_255 + b"\x00\x01\x00\x01"),
        ("ANCOUNT=1 with no record", header(an=1) + q),
        ("NSCOUNT=1 with no record", header(ns=1) + q),
        ("ARCOUNT=1 with no record", header(ar=1) + q),
        ("ANCOUNT=1 with an A record", header(an=1) + q + a_record()),
        ("NSCOUNT=1 with an A record", header(ns=1) + q + a_record()),
        ("ANCOUNT=1 all flags", header(an=1, flags=ALL_FLAGS) + q + a_record()),
        ("two OPT records", header(ar=2) + q + opt() + opt()),
        ("OPT with a non-root owner", header(ar=1) + q + opt(owner=WWW)),
        ("OPT in the answer section", header(an=1) + q + opt()),
        ("OPT in the authority section", header(ns=1) + q + opt()),
        ("EDNS version 1", header(ar=1) + q + opt(version=1)),
        ("EDNS version 1 with DO and all flags", header(ar=1, flags=ALL_FLAGS) + q
         + opt(version=1, flags=0x8000)),
        ("EDNS version 1 out of zone", header(ar=1) + question(name("www.example.org"))
         + opt(version=1)),
        ("EDNS option with a bad length", header(ar=1) + q
         + opt(rdata=struct.pack("!HH", 10, 8) + b"\x01\x02")),
        ("OPT rdlength past the end", header(ar=1) + q + opt()[:-2] + b"\x00\x0a"),
        ("EDNS unknown option", header(ar=1) + q + opt(rdata=struct.pack("!HH", 65001, 2) + b"hi")),
        ("EDNS cookie option", header(ar=1) + q + opt(rdata=struct.pack("!HH", 10, 8) + b"c" * 8)),
        ("EDNS NSID option", header(ar=1) + q + opt(rdata=struct.pack("!HH", 3, 0))),
        ("EDNS ext-rcode set in the query", header(ar=1) + q + opt(ext_rcode=1)),
        ("EDNS Z bits set", header(ar=1) + q + opt(flags=0x4000)),
        ("EDNS bufsize 100", header(ar=1) + q + opt(size=100)),
        ("opcode 1 (IQUERY)", header(flags=flags_word(opcode=1)) + q),
        ("opcode 2 (STATUS)", header(flags=flags_word(opcode=2)) + q),
        ("opcode 3", header(flags=flags_word(opcode=3)) + q),
        ("opcode 5 (UPDATE)", header(flags=flags_word(opcode=5)) + question(name("example.com"),
                                                                              6)),
        ("opcode 6 (DSO)", header(flags=flags_word(opcode=6)) + q),
        ("opcode 15", header(flags=flags_word(opcode=15)) + q),
        ("opcode 15 without question", header(qd=0, flags=flags_word(opcode=15))),
        ("opcode 1 all flags", header(flags=ALL_FLAGS | (1 << 11)) + q),
        ("opcode 1 with EDNS", header(ar=1, flags=flags_word(opcode=1)) + q + opt()),
        ("NOTIFY for a served zone", header(flags=flags_word(opcode=4, aa=1))
         + question(name("example.com"), 6)),
        ("NOTIFY for an unserved zone", header(flags=flags_word(opcode=4, aa=1))
         + question(name("example.org"), 6)),
        ("NOTIFY below a served apex", header(flags=flags_word(opcode=4))
         + question(name("www.example.com"), 6)),
        ("non-zero rcode in the query", header(flags=flags_word(rcode=5)) + q),
        ("TC set in the query", header(flags=flags_word(tc=1)) + q),
        ("all flags set in the query", header(flags=ALL_FLAGS) + q),
        ("trailing garbage after the question", header() + q + b"\xde\xad\xbe\xef"),
        ("trailing garbage after OPT", header(ar=1) + q + opt() + b"\xff"),
        ("TSIG with an unknown key", header(ar=1) + q + tsig()),
        ("OPT then TSIG with an unknown key", header(ar=2) + q + opt() + tsig()),
        ("TSIG then OPT", header(ar=2) + q + tsig() + opt()),
        ("TSIG with 3 octets of RDATA", header(ar=1) + q + tsig(rdata=b"\x00\x01\x02")),
        ("an A record in the additional section", header(ar=1) + q + a_record()),
        ("OPT then an A record", header(ar=2) + q + opt() + a_record()),
        ("QDCOUNT=0 with only an OPT (cookie probe)", header(qd=0, ar=1) + opt()),
        ("QDCOUNT=0 with an OPT, RD and CD", header(qd=0, ar=1, flags=flags_word(cd=1))
         + opt(flags=0x8000)),
        ("QDCOUNT=0 with an OPT of version 1", header(qd=0, ar=1) + opt(version=1)),
        ("QDCOUNT=2 with EDNS", header(qd=2, ar=1) + q + q + opt()),
        ("root name", header() + question(b"\x00")),
        ("class HS", header() + question(qclass=4)),
        ("class NONE", header() + question(qclass=254)),
        ("class 999 with EDNS", header(ar=1) + question(qclass=999) + opt()),
        ("class CH, unknown name", header() + question(name("foo.bar"), 16, 3)),
        ("class CH, A at www", header(ar=1) + question(qclass=3) + opt()),
        ("class CH version.bind hidden, EDNS", header(ar=1) + question(name("version.bind"),
                                                                        16, 3) + opt()),
        ("class CH id.server", header() + question(name("id.server"), 16, 3)),
        ("class CH ID.Server ANY", header() + question(b"\x02ID\x06Server\x00", 255, 3)),
        ("class ANY, positive", header() + question(qclass=255)),
        ("class ANY, nxdomain", header() + question(name("nope.example.com"), 1, 255)),
        ("class ANY, nodata", header() + question(qtype=15, qclass=255)),
        ("class ANY, referral", header() + question(name("x.deleg.example.com"), 1, 255)),
        ("class ANY, CNAME chain", header() + question(name("chain1.example.com"), 1, 255)),
        ("class ANY, MX", header() + question(name("example.com"), 15, 255)),
        ("class ANY, out of zone, EDNS", header(ar=1) + question(name("nope.invalid"), 1, 255)
         + opt()),
        ("AXFR over UDP", header() + question(name("example.com"), 252)),
        ("AXFR over UDP with EDNS", header(ar=1) + question(name("example.com"), 252) + opt()),
        ("AXFR out of zone", header() + question(name("nope.invalid"), 252)),
        ("IXFR at a served apex", header() + question(name("example.com"), 251)),
        ("IXFR below an apex", header() + question(qtype=251)),
        ("IXFR with NSCOUNT=1 and nothing", header(ns=1) + question(name("example.com"), 251)),
        ("MAILB", header() + question(qtype=253)),
        ("TYPE0", header() + question(qtype=0)),
        ("qtype OPT", header() + question(qtype=41)),
        ("qtype TSIG", header() + question(qtype=250)),
        ("label with a dot and a NUL", header() + b"\x04a.b\x00" + name("example.com")
         + b"\x00\x01\x00\x01"),
        ("63-octet label", header() + LONG_LABEL + name("example.com") + b"\x00\x01\x00\x01"),
    ]
    return c
