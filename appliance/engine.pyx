# cython: language_level=3
"""The answer engine: a query's bytes in, the prepared response's bytes out.

Every answer was encoded when the image was built (appliance.compiler); here a query is parsed,
its name looked up (exact, else its closest encloser: wildcard, referral or NXDOMAIN), and the
ready response copied out with the ID, RD bit and question patched in. The per-query path is C:
no Python object, no allocation, no I/O. ``Engine`` wraps it for tests and tools.
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize


cdef enum:
    HDR = 12
    OPT_RR_LEN = 11
    OUR_UDP_SIZE = 1232      # what we advertise and the most we send over UDP (DNS flag day 2020)
    PLAIN_UDP = 512          # RFC 1035 4.2.1
    MAX_NAME = 255
    MAX_LABELS = 128

    RCODE_NOERROR = 0
    RCODE_FORMERR = 1
    RCODE_NXDOMAIN = 3
    RCODE_NOTIMP = 4
    RCODE_REFUSED = 5
    RCODE_NOTAUTH = 9
    RCODE_BADVERS = 16

    CLASS_IN = 1
    CLASS_CH = 3
    CLASS_ANY = 255
    TYPE_TXT = 16
    TYPE_OPT = 41
    TYPE_TSIG = 250
    TYPE_IXFR = 251
    TYPE_AXFR = 252
    TYPE_ANY = 255

    OPCODE_QUERY = 0
    OPCODE_NOTIFY = 4

    F_QR = 0x8000
    F_OPCODE = 0x7800
    F_AA = 0x0400
    F_TC = 0x0200
    F_RD = 0x0100

    EDNS_NONE = 0
    EDNS_OK = 1
    EDNS_BADVERS = 2

    # table layout (appliance/layout.py)
    HEADER_SIZE = 64
    NODE_BELOW_WILDCARD = 0x01
    NODE_APEX = 0x04
    NO_STRING = 0xFFFF
    ENTRY_HEADER = 12
    VARIANT_SIZE = 20


cdef struct Query:
    uint16_t flags
    uint16_t qtype
    uint16_t qclass
    int qname_len              # wire length of the name, root octet included
    int qsec_len               # the question: name, type, class
    int nlabels
    int edns                   # EDNS_NONE, EDNS_OK or EDNS_BADVERS
    uint16_t edns_size
    uint16_t do_bit
    uint8_t loff[MAX_LABELS + 1]   # offset of each label in the name; loff[nlabels] = root
    uint8_t lname[MAX_NAME + 1]    # the name in lower case (RFC 4343)


cdef uint8_t LOWER[256]
for _i in range(256):
    LOWER[_i] = _i + 32 if 65 <= _i <= 90 else _i


cdef int table_init(Table *t, const uint8_t *base, uint64_t length) noexcept nogil:
    """Check a table's header and bounds; 0 if it can be served from, -1 if not."""
    cdef uint32_t nslots, slots_off, chaos_off
    if length < HEADER_SIZE or memcmp(base, b"DNSTBL\x00\x01", 8) != 0:
        return -1
    nslots = load_le32(base + 8)
    slots_off = load_le32(base + 24)
    chaos_off = load_le32(base + 32)
    if nslots == 0 or (nslots & (nslots - 1)) != 0:
        return -1
    if <uint64_t>slots_off + <uint64_t>nslots * 8 > length or chaos_off + 4 > length:
        return -1
    if load_le32(base + 36) != length:
        return -1
    t.base = base
    t.length = length
    t.seed = load_le64(base + 16)
    t.mask = nslots - 1
    t.max_labels = load_le32(base + 28)
    t.slots = base + slots_off
    t.chaos = base + chaos_off
    return 0


# -- parsing --------------------------------------------------------------------------------

cdef inline int parse_question(const uint8_t *q, int qlen, Query *r) noexcept nogil:
    """The question name (no compression, RFC 1035 4.1.2), type and class; -1 if malformed."""
    cdef int pos = HDR
    cdef int n = 0
    cdef int lab
    cdef int i
    while True:
        if pos >= qlen:
            return -1
        lab = q[pos]
        if lab == 0:
            break
        if lab & 0xC0:
            return -1           # a pointer or an extended label type in the question
        if pos + lab + 2 > qlen or pos - HDR + lab + 2 > MAX_NAME:
            return -1
        r.loff[n] = <uint8_t>(pos - HDR)
        n += 1
        r.lname[pos - HDR] = <uint8_t>lab
        for i in range(pos + 1, pos + 1 + lab):
            r.lname[i - HDR] = LOWER[q[i]]
        pos += lab + 1
    r.lname[pos - HDR] = 0
    r.loff[n] = <uint8_t>(pos - HDR)
    r.nlabels = n
    r.qname_len = pos - HDR + 1
    if pos + 5 > qlen:
        return -1
    r.qtype = load_be16(q + pos + 1)
    r.qclass = load_be16(q + pos + 3)
    r.qsec_len = r.qname_len + 4
    return 0


cdef inline int skip_name(const uint8_t *q, int qlen, int pos) noexcept nogil:
    """Position after a (possibly compressed) name in a record, or -1."""
    cdef int lab
    while True:
        if pos >= qlen:
            return -1
        lab = q[pos]
        if lab == 0:
            return pos + 1
        if (lab & 0xC0) == 0xC0:
            return pos + 2 if pos + 2 <= qlen else -1
        if lab & 0xC0:
            return -1
        pos += lab + 1


cdef inline int plain_name_end(const uint8_t *q, int qlen, int pos) noexcept nogil:
    """Position after an uncompressed name with ordinary labels, or -1."""
    cdef int lab
    while pos < qlen:
        lab = q[pos]
        if lab == 0:
            return pos + 1
        if lab & 0xC0:
            return -1
        pos += lab + 1
    return -1


cdef inline int parse_opt(const uint8_t *q, int qlen, int pos, Query *r) noexcept nogil:
    """An OPT record at ``pos`` (RFC 6891 6.1.2); its end, 0 if it is not one, -1 if bad."""
    cdef int rdlen, optlen, end, p
    if pos + OPT_RR_LEN > qlen or q[pos] != 0 or load_be16(q + pos + 1) != TYPE_OPT:
        return 0
    rdlen = load_be16(q + pos + 9)
    end = pos + OPT_RR_LEN + rdlen
    if q[pos + 6] != 0:
        r.edns = EDNS_BADVERS     # only version 0 exists (RFC 6891 6.1.3)
        r.do_bit = q[pos + 7] & 0x80
        return end if end <= qlen else qlen
    if end > qlen:
        return -1
    p = pos + OPT_RR_LEN
    while end - p >= 4:
        optlen = load_be16(q + p + 2)
        if p + 4 + optlen > end:
            return -1
        p += 4 + optlen
    if p != end:
        return -1
    r.edns = EDNS_OK
    r.edns_size = load_be16(q + pos + 3)
    r.do_bit = q[pos + 7] & 0x80
    return end


cdef inline int parse_tsig(const uint8_t *q, int qlen, int pos) noexcept nogil:
    """A TSIG record at ``pos`` (RFC 8945 4.2): its end, 0 if it is not one, -1 if malformed."""
    cdef int p = skip_name(q, qlen, pos)
    cdef int end, f
    if p < 0 or p + 10 > qlen:
        return -1 if p < 0 else 0
    if load_be16(q + p) != TYPE_TSIG:
        return 0
    end = p + 10 + load_be16(q + p + 8)
    if end > qlen:
        return -1
    f = skip_name(q, end, p + 10)            # algorithm name
    if f < 0 or f + 10 > end:
        return -1
    f += 10 + load_be16(q + f + 8)           # time signed, fudge, MAC size, MAC
    if f + 6 > end:
        return -1
    f += 6 + load_be16(q + f + 4)            # original ID, error, other length, other data
    return end if f == end else -1


# -- responses ------------------------------------------------------------------------------

cdef enum:
    NO_EDE = -1
    EDE_PROHIBITED = 18        # RFC 8914: a hidden CHAOS identity or version
    EDE_NOT_AUTHORITATIVE = 20
    EDE_NOT_SUPPORTED = 21
    ECHO_MASK = 0x7FDF         # what error replies copy from the query: all but QR, AD, RCODE


cdef inline int put_opt(uint8_t *out, int pos, const Query *r, int ext_rcode,
                        int ede) noexcept nogil:
    """Our OPT record (RFC 6891 6.1.2): UDP size 1232, DO echoed, an EDE option if asked."""
    out[pos] = 0
    store_be16(out + pos + 1, TYPE_OPT)
    store_be16(out + pos + 3, OUR_UDP_SIZE)
    out[pos + 5] = <uint8_t>ext_rcode
    out[pos + 6] = 0
    out[pos + 7] = <uint8_t>r.do_bit
    out[pos + 8] = 0
    if ede == NO_EDE:
        store_be16(out + pos + 9, 0)
        return pos + OPT_RR_LEN
    store_be16(out + pos + 9, 6)
    store_be16(out + pos + 11, 15)     # EDNS option EDE (RFC 8914), no extra text
    store_be16(out + pos + 13, 2)
    store_be16(out + pos + 15, <uint16_t>ede)
    return pos + OPT_RR_LEN + 6


cdef inline int small(const uint8_t *q, uint8_t *out, uint16_t flags, int rcode, const Query *r,
                      Counters *c, bint question, bint opt, int ede) noexcept nogil:
    """A reply with no records: ID, flags, rcode, the question if ``question``, and our OPT if
    ``opt`` and the query had EDNS (the extended rcode bits go there)."""
    cdef int pos = HDR
    memcpy(out, q, 2)
    store_be16(out + 2, <uint16_t>((flags | F_QR) & 0xFFF0) | (rcode & 0xF))
    memset(out + 4, 0, 8)
    if question:
        store_be16(out + 4, 1)
        memcpy(out + HDR, q + HDR, r.qsec_len)
        pos += r.qsec_len
    if opt and r.edns != EDNS_NONE:
        pos = put_opt(out, pos, r, rcode >> 4, ede)
        store_be16(out + 10, 1)
    c.rcode[rcode] += 1
    return pos


cdef inline int formerr(const uint8_t *q, uint8_t *out, uint16_t flags, const Query *r,
                        Counters *c) noexcept nogil:
    """FORMERR is always the bare header in NSD: no question, no OPT."""
    return small(q, out, flags, RCODE_FORMERR, r, c, False, False, NO_EDE)


cdef int tsig_badkey(const uint8_t *q, int qlen, int tsig_pos, uint8_t *out, const Query *r,
                     Counters *c) noexcept nogil:
    """We hold no TSIG keys: NOTAUTH with the TSIG echoed as BADKEY (RFC 8945 5.2.2)."""
    cdef int pos = small(q, out, r.flags & F_RD, RCODE_NOTAUTH, r, c, False, True, NO_EDE)
    cdef int kend = plain_name_end(q, qlen, tsig_pos)
    cdef int rd = kend + 10
    cdef int aend = plain_name_end(q, qlen, rd) if kend > 0 else -1
    cdef int klen = kend - tsig_pos
    cdef int alen = aend - rd
    if kend < 0 or aend < 0 or aend + 8 > qlen or pos + klen + alen + 26 > 1232:
        return pos                  # names we cannot copy as they are: no TSIG echoed
    memcpy(out + pos, q + tsig_pos, klen)          # key name
    pos += klen
    store_be16(out + pos, TYPE_TSIG)
    store_be16(out + pos + 2, CLASS_ANY)
    memset(out + pos + 4, 0, 4)
    store_be16(out + pos + 8, <uint16_t>(alen + 16))
    pos += 10
    memcpy(out + pos, q + rd, alen)                 # algorithm
    pos += alen
    memcpy(out + pos, q + aend, 8)                  # time signed, fudge
    store_be16(out + pos + 8, 0)                    # no MAC
    memcpy(out + pos + 10, q, 2)                    # original ID
    store_be16(out + pos + 12, 17)                  # BADKEY
    store_be16(out + pos + 14, 0)
    pos += 16
    store_be16(out + 10, load_be16(out + 10) + 1)
    return pos


cdef inline int response_limit(const Query *r, int transport) noexcept nogil:
    """Room for the message, our OPT record excluded (RFC 6891 6.2.5, NSD process_edns)."""
    cdef int size
    if transport == TRANSPORT_TCP:
        size = 65535
    elif r.edns == EDNS_OK and r.edns_size > PLAIN_UDP:
        size = r.edns_size if r.edns_size < OUR_UDP_SIZE else OUR_UDP_SIZE
    else:
        size = PLAIN_UDP
    if r.edns != EDNS_NONE:
        size -= OPT_RR_LEN
    return size


cdef int emit(const Table *t, const uint8_t *entry, const uint8_t *q, const Query *r,
              uint8_t *out, int outcap, int transport, Counters *c) noexcept nogil:
    """Copy out a prepared entry: pick the variant that fits, patch ID, flags and question.

    A class ANY query (NSD: no AA, no SOA or NS set in authority) uses the entry's class ANY
    twin, or when it has none, just the answer section of the class IN response.
    """
    cdef uint16_t eflags = load_le16(entry)
    cdef int tlen = load_le16(entry + 2)
    cdef int nvar = load_le16(entry + 4)
    cdef uint32_t twin
    cdef const uint8_t *v = entry + ENTRY_HEADER
    cdef int avail = response_limit(r, transport) - HDR - r.qsec_len
    cdef int i, body_len, nfix, pos, delta, p, an, ns, ar
    cdef bint tc, answer_only = False
    cdef uint16_t flags, ptr
    cdef const uint8_t *data
    if r.qclass == CLASS_ANY:
        twin = load_le32(entry + 8)
        if twin != 0:
            return emit_plain(t, t.base + twin, q, r, out, outcap, transport, c)
        eflags &= ~F_AA
        answer_only = load_le16(v + 14) <= avail
    if not answer_only:
        for _ in range(nvar - 1):
            if load_le16(v) <= avail:
                break
            v += VARIANT_SIZE
    body_len = load_le16(v + 2)
    nfix = load_le16(v + 4)
    tc = load_le16(v + 6) != 0
    an = load_le16(v + 8)
    ns = load_le16(v + 10)
    ar = load_le16(v + 12)
    data = t.base + load_le32(v + 16)
    if answer_only:
        body_len = load_le16(v + 14)
        ns = 0
        ar = 0
        tc = False
    pos = HDR + r.qsec_len
    if pos + body_len + OPT_RR_LEN > outcap:
        c.drop_toolarge += 1
        return ENGINE_DROP
    flags = eflags | (r.flags & F_RD)
    if tc:
        flags |= F_TC
        c.truncated += 1
    memcpy(out, q, 2)
    store_be16(out + 2, flags)
    store_be16(out + 4, 1)
    store_be16(out + 6, <uint16_t>an)
    store_be16(out + 8, <uint16_t>ns)
    memcpy(out + HDR, q + HDR, r.qsec_len)
    memcpy(out + pos, data, body_len)
    delta = r.qname_len - tlen
    if delta != 0:
        # the question moved what follows it: shift every pointer that points past offset 12
        data += load_le16(v + 2)
        for i in range(nfix):
            p = load_le16(data + 2 * i)
            if p >= body_len:
                break                   # fixups are in ascending order
            ptr = load_be16(out + pos + p)
            store_be16(out + pos + p, <uint16_t>(ptr + delta))
    pos += body_len
    if r.edns != EDNS_NONE:
        pos = put_opt(out, pos, r, 0, NO_EDE)
        ar += 1
    store_be16(out + 10, <uint16_t>ar)
    c.rcode[eflags & 0xF] += 1
    return pos


cdef inline int emit_plain(const Table *t, const uint8_t *entry, const uint8_t *q,
                           const Query *r, uint8_t *out, int outcap, int transport,
                           Counters *c) noexcept nogil:
    """``emit`` for an entry that is itself the class ANY answer."""
    cdef Query r2 = r[0]
    r2.qclass = CLASS_IN
    return emit(t, entry, q, &r2, out, outcap, transport, c)


# -- lookup ---------------------------------------------------------------------------------

cdef inline const uint8_t *find_node(const Table *t, const uint8_t *name, int n) noexcept nogil:
    cdef uint64_t h = namehash(name, n, t.seed)
    cdef uint32_t i = <uint32_t>(h >> 32) & t.mask
    cdef uint32_t tag = <uint32_t>h
    cdef uint32_t off
    cdef const uint8_t *node
    while True:
        off = load_le32(t.slots + 8 * i + 4)
        if off == 0:
            return NULL
        if load_le32(t.slots + 8 * i) == tag:
            node = t.base + off
            if node[0] == n and memcmp(node + 12, name, n) == 0:
                return node
        i = (i + 1) & t.mask


cdef inline const uint8_t *node_entry(const Table *t, const uint8_t *node,
                                      uint16_t qtype) noexcept nogil:
    """The entry a node holds for a type, else its default (NODATA, a chain, a referral)."""
    cdef int ntypes = load_le16(node + 2)
    cdef const uint8_t *ty = node + ((12 + node[0] + 3) & ~3)
    cdef int _
    for _ in range(ntypes):
        if load_le16(ty) == qtype:
            return t.base + load_le32(ty + 4)
        ty += 8
    return t.base + load_le32(node + 4)


cdef const uint8_t *lookup(const Table *t, Query *r) noexcept nogil:
    """The entry for a query, or NULL when no zone we serve holds the name (REFUSED).

    One walk up the labels finds the closest encloser (RFC 4592 3.3.1): the name itself, else
    the first ancestor that is a node, whose ``below`` says referral, wildcard or NXDOMAIN.
    """
    cdef int i = 0
    cdef const uint8_t *node
    if r.nlabels > <int>t.max_labels:
        i = r.nlabels - t.max_labels      # no node has more labels than this
    while i <= r.nlabels:
        node = find_node(t, r.lname + r.loff[i], r.qname_len - r.loff[i])
        if node != NULL:
            if i == 0:
                return node_entry(t, node, r.qtype)
            if node[1] & NODE_BELOW_WILDCARD:
                return node_entry(t, t.base + load_le32(node + 8), r.qtype)
            return t.base + load_le32(node + 8)
        i += 1
    return NULL


cdef int chaos(const Table *t, const uint8_t *q, const Query *r, uint8_t *out, int outcap,
               Counters *c) noexcept nogil:
    """CHAOS TXT id.server, hostname.bind, version.bind, version.server (as NSD answers them);
    REFUSED for the rest, with an Extended DNS Error saying why (RFC 8914)."""
    cdef const uint8_t *s = NULL
    cdef int slen = -1
    cdef int id_len = load_le16(t.chaos)
    cdef int ver_len = load_le16(t.chaos + 2)
    cdef int pos
    cdef uint16_t flags = r.flags & F_RD
    if r.qtype == TYPE_TXT or r.qtype == TYPE_ANY:
        if ((r.qname_len == 11 and memcmp(r.lname, b"\x02id\x06server\x00", 11) == 0) or
                (r.qname_len == 15 and memcmp(r.lname, b"\x08hostname\x04bind\x00", 15) == 0)):
            if id_len == NO_STRING:
                return small(q, out, flags, RCODE_REFUSED, r, c, True, True, EDE_PROHIBITED)
            s = t.chaos + 4
            slen = id_len
        elif ((r.qname_len == 16 and memcmp(r.lname, b"\x07version\x06server\x00", 16) == 0) or
                (r.qname_len == 14 and memcmp(r.lname, b"\x07version\x04bind\x00", 14) == 0)):
            if ver_len == NO_STRING:
                return small(q, out, flags, RCODE_REFUSED, r, c, True, True, EDE_PROHIBITED)
            s = t.chaos + 4 + (id_len if id_len != NO_STRING else 0)
            slen = ver_len
    if slen < 0:
        return small(q, out, flags, RCODE_REFUSED, r, c, True, True, EDE_NOT_SUPPORTED)
    pos = HDR + r.qsec_len
    if pos + 13 + slen + OPT_RR_LEN > outcap:
        return ENGINE_DROP
    small(q, out, flags, RCODE_NOERROR, r, c, True, False, NO_EDE)
    store_be16(out + pos, 0xC00C)
    store_be16(out + pos + 2, TYPE_TXT)
    store_be16(out + pos + 4, CLASS_CH)
    memset(out + pos + 6, 0, 4)
    store_be16(out + pos + 10, <uint16_t>(slen + 1))
    out[pos + 12] = <uint8_t>slen
    memcpy(out + pos + 13, s, slen)
    pos += 13 + slen
    store_be16(out + 6, 1)
    if r.edns != EDNS_NONE:
        pos = put_opt(out, pos, r, 0, NO_EDE)
        store_be16(out + 10, 1)
    return pos


cdef inline int skip_rr(const uint8_t *q, int qlen, int pos) noexcept nogil:
    """Position after a whole record, or -1."""
    pos = skip_name(q, qlen, pos)
    if pos < 0 or pos + 10 > qlen:
        return -1
    pos += 10 + load_be16(q + pos + 8)
    return pos if pos <= qlen else -1


cdef int engine_answer(const Table *t, const uint8_t *q, int qlen, uint8_t *out, int outcap,
                       int transport, Counters *c) noexcept nogil:
    """Answer one query into ``out``; the response length, or ENGINE_DROP for no response.

    The checks and their order follow NSD 4.6.1's query_process, so that every malformed or
    unusual query gets the reply NSD gives (tests/NSD_BEHAVIOUR.md item 12).
    ``outcap`` must hold the largest response for the transport (1232 over UDP).
    """
    cdef Query r
    cdef const uint8_t *entry
    cdef int pos, end, arcount, nscount, opcode, _
    c.queries += 1
    if qlen < HDR:
        c.drop_short += 1
        return ENGINE_DROP
    r.flags = load_be16(q + 2)
    if r.flags & F_QR:
        c.drop_response += 1
        return ENGINE_DROP
    r.edns = EDNS_NONE
    r.do_bit = 0
    r.qsec_len = 0
    opcode = (r.flags & F_OPCODE) >> 11
    if opcode != OPCODE_QUERY:
        if opcode == OPCODE_NOTIFY:
            # no zone transfers here: refuse NOTIFY for a zone we serve, as NSD does without ACL
            if parse_question(q, qlen, &r) < 0:
                return formerr(q, out, r.flags & (F_RD | F_OPCODE), &r, c)
            entry = find_node(t, r.lname, r.qname_len)
            return small(q, out, r.flags & ECHO_MASK,
                         RCODE_REFUSED if entry != NULL and entry[1] & NODE_APEX
                         else RCODE_NXDOMAIN, &r, c, False, False, NO_EDE)
        return small(q, out, r.flags & ECHO_MASK, RCODE_NOTIMP, &r, c, False, False, NO_EDE)
    if parse_question(q, qlen, &r) < 0:
        return formerr(q, out, r.flags & F_RD, &r, c)
    if r.flags & 0xF:
        return formerr(q, out, r.flags & F_RD, &r, c)
    if load_be16(q + 4) != 1:
        if (load_be16(q + 4) == 0 and load_be16(q + 6) == 0 and load_be16(q + 8) == 0
                and load_be16(q + 10) == 1 and parse_opt(q, qlen, HDR, &r) > 0
                and r.edns == EDNS_OK):
            # an OPT alone (a DNS cookie probe, RFC 7873 5.4): NOERROR with our OPT
            r.qsec_len = 0
            return small(q, out, r.flags & F_RD, RCODE_NOERROR, &r, c, False, True, NO_EDE)
        return formerr(q, out, 0, &r, c)
    nscount = load_be16(q + 8)
    if load_be16(q + 6) != 0 or (nscount != 0 and r.qtype != TYPE_IXFR):
        return formerr(q, out, r.flags & F_RD, &r, c)
    pos = HDR + r.qsec_len
    for _ in range(nscount):
        pos = skip_rr(q, qlen, pos)     # an IXFR query's SOA (RFC 1995 3)
        if pos < 0:
            return formerr(q, out, r.flags & F_RD, &r, c)
    arcount = load_be16(q + 10)
    if arcount > 0:
        # one OPT, then at most one TSIG, which must come last (RFC 8945 5.1)
        end = parse_opt(q, qlen, pos, &r)
        if end < 0:
            return formerr(q, out, r.flags & F_RD, &r, c)
        if end > 0:
            arcount -= 1
            pos = end
        if arcount > 0:
            end = parse_tsig(q, qlen, pos)
            if end <= 0 or arcount > 1:
                return formerr(q, out, r.flags & F_RD, &r, c)
            return tsig_badkey(q, qlen, pos, out, &r, c)
    if r.edns == EDNS_BADVERS:
        r.do_bit = 0
        return small(q, out, r.flags & ECHO_MASK, RCODE_BADVERS, &r, c, True, True, NO_EDE)
    if r.edns == EDNS_OK:
        c.edns += 1
    if r.qclass != CLASS_IN and r.qclass != CLASS_ANY:
        if r.qclass == CLASS_CH:
            return chaos(t, q, &r, out, outcap, c)
        return small(q, out, r.flags & F_RD, RCODE_REFUSED, &r, c, False, True,
                     EDE_NOT_SUPPORTED)
    if r.qtype == TYPE_AXFR:
        return small(q, out, r.flags & F_RD, RCODE_NOTIMP, &r, c, True, True, NO_EDE)
    if r.qtype == TYPE_IXFR:
        entry = find_node(t, r.lname, r.qname_len)
        return small(q, out, r.flags & F_RD,
                     RCODE_REFUSED if entry != NULL and entry[1] & NODE_APEX else RCODE_NOTAUTH,
                     &r, c, True, True, NO_EDE)
    entry = lookup(t, &r)
    if entry == NULL:
        return small(q, out, r.flags & F_RD, RCODE_REFUSED, &r, c, True, True,
                     EDE_NOT_AUTHORITATIVE)
    return emit(t, entry, q, &r, out, outcap, transport, c)


# -- Python side ----------------------------------------------------------------------------

def hash_name(bytes name, uint64_t seed):
    """The table hash of a lower-cased wire name (the compiler places names with it)."""
    return namehash(<const uint8_t *>PyBytes_AS_STRING(name), len(name), seed)


COUNTER_NAMES = ("queries", "truncated", "edns", "drop_short", "drop_response",
                 "drop_toolarge")
RCODE_NAMES = {0: "noerror", 1: "formerr", 2: "servfail", 3: "nxdomain", 4: "notimp",
               5: "refused", 9: "notauth", 16: "badvers"}


cdef dict counters_dict(const Counters *c):
    d = {"queries": c.queries, "truncated": c.truncated, "edns": c.edns,
         "drop_short": c.drop_short, "drop_response": c.drop_response,
         "drop_toolarge": c.drop_toolarge}
    for code, name in RCODE_NAMES.items():
        d["rcode_" + name] = c.rcode[code]
    return d


cdef class Engine:
    """Serves answers from a table held in any buffer (bytes, or a read-only mmap)."""

    def __init__(self, buffer):
        self._owner = buffer
        self._view = memoryview(buffer).cast("B")
        memset(&self.counts, 0, sizeof(Counters))
        if (self._view.shape[0] == 0
                or table_init(&self.table, &self._view[0], self._view.shape[0]) != 0):
            raise ValueError("not an answer table (bad magic, size or layout)")

    def answer(self, bytes query, transport="udp"):
        """The response to one query as bytes, or None when the engine drops it."""
        cdef int n = engine_answer(&self.table, <const uint8_t *>PyBytes_AS_STRING(query),
                                   len(query), self.out, sizeof(self.out),
                                   TRANSPORT_TCP if transport == "tcp" else TRANSPORT_UDP,
                                   &self.counts)
        if n < 0:
            return None
        return PyBytes_FromStringAndSize(<char *>self.out, n)

    def counters(self):
        return counters_dict(&self.counts)

    def bench(self, list queries, long rounds):
        """Answer every query ``rounds`` times in a C loop; (answers, nanoseconds)."""
        cdef int nq = len(queries)
        cdef int i
        cdef long _
        cdef int64_t answered = 0
        cdef timespec t0, t1
        cdef const uint8_t **ptrs
        cdef int *lens
        cdef bytes b
        cdef bytearray keep = bytearray(nq * (sizeof(void *) + sizeof(int)))
        ptrs = <const uint8_t **><char *>keep
        lens = <int *>(<char *>keep + nq * sizeof(void *))
        for i in range(nq):
            b = queries[i]
            ptrs[i] = <const uint8_t *>PyBytes_AS_STRING(b)
            lens[i] = len(b)
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for _ in range(rounds):
                for i in range(nq):
                    if engine_answer(&self.table, ptrs[i], lens[i], self.out,
                                     sizeof(self.out), TRANSPORT_UDP, &self.counts) > 0:
                        answered += 1
            clock_gettime(CLOCK_MONOTONIC, &t1)
        return answered, (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
