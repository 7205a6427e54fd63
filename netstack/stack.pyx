# cython: language_level=3
"""Our own stack: Ethernet II, ARP, IPv4, ICMP and UDP in front of the answer engine.

One function per layer, each taking the frame where the layer below left it. Responses are
written in place: the stack asks its Sink for a transmit buffer, leaves room for the Ethernet,
IPv4 and UDP headers, lets the engine write the DNS answer straight after them, then fills the
headers in. Nothing here allocates, does I/O or touches a Python object per frame; the loop that
feeds frames from a netdev is in netstack.loop.
"""

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from libc.stdio cimport snprintf
from posix.unistd cimport write
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset

from appliance.engine cimport ENGINE_DROP, TRANSPORT_UDP, Counters, Engine, Table, engine_answer
from netstack.arp cimport (ARP_PENDING, ARP_RESOLVED, ARP_SLOTS, ArpEntry, arp_find,
                           arp_init, arp_learn, arp_lookup, arp_slot)
from netstack.wire cimport *
from pvboot.netdev cimport (Netdev, clock_ns, nd_rx, nd_rx_done, nd_tx_buffer, nd_tx_commit,
                            nd_tx_flush, run_report, signal_take, yield_ns)
from pvboot.pvboot cimport PVBOOT_BATCH, PVBOOT_OK, pvboot_frame, pvboot_netdev_t

from libc.signal cimport SIGUSR1


cdef enum:
    UNREACH_MAX_QUOTE = 548          # RFC 1812 4.3.2.3: at most 576 octets in all
    PENDING_NS = 3000000000          # a response waits 3 s for its next hop, then is dropped
    ARP_MAX_TRIES = 3

cdef uint8_t BROADCAST[6]
memset(BROADCAST, 0xFF, 6)
cdef uint8_t ZERO_MAC[6]
memset(ZERO_MAC, 0, 6)


# -- sending --------------------------------------------------------------------------------

cdef inline void eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src,
                            uint16_t ethertype) noexcept nogil:
    memcpy(f + ETH_DST, dst, 6)
    memcpy(f + ETH_SRC, src, 6)
    put16(f + ETH_TYPE, ethertype)


cdef inline void ip_header(Stack *s, uint8_t *ip, const uint8_t *dst4, uint8_t proto,
                           uint16_t total) noexcept nogil:
    ip[IP_VHL] = 0x45
    ip[IP_TOS] = 0
    put16(ip + IP_LEN, total)
    put16(ip + IP_ID, s.ip_id)
    s.ip_id += 1
    put16(ip + IP_FRAG, IP_DF)
    ip[IP_TTL] = IP_DEFAULT_TTL
    ip[IP_PROTO] = proto
    put16(ip + IP_CSUM, 0)
    memcpy(ip + IP_SRC, s.ip, 4)
    memcpy(ip + IP_DST, dst4, 4)
    put_csum(ip + IP_CSUM, inet_checksum(ip, IP_HLEN))


cdef inline uint32_t next_hop(Stack *s, uint32_t dst) noexcept nogil:
    """The neighbour a packet for ``dst`` goes to: itself on our network, else the gateway."""
    if (dst & s.mask) == (s.addr & s.mask):
        return dst
    return s.gateway


cdef void arp_request(Stack *s, uint32_t target, Sink *out) noexcept nogil:
    """Ask who has ``target`` (a gratuitous announcement when it is our own address)."""
    cdef uint32_t cap
    cdef uint8_t *f = out.buffer(out.ctx, &cap)
    cdef uint8_t *a
    if f == NULL:
        s.c.tx_full += 1
        return
    eth_header(f, BROADCAST, s.mac, ETHERTYPE_ARP)
    a = f + ETH_HLEN
    put16(a + ARP_HTYPE, 1)
    put16(a + ARP_PTYPE, ETHERTYPE_IPV4)
    a[ARP_HLEN] = 6
    a[ARP_PLEN] = 4
    put16(a + ARP_OP, ARP_REQUEST)
    memcpy(a + ARP_SHA, s.mac, 6)
    memcpy(a + ARP_SPA, s.ip, 4)
    memset(a + ARP_THA, 0, 6)
    put32(a + ARP_TPA, target)
    out.commit(out.ctx, ETH_HLEN + ARP_LEN)
    s.c.arp_requests_sent += 1


cdef uint8_t *ip_begin(Stack *s, uint32_t dst, uint64_t now, Sink *out, uint32_t *cap,
                       Pending **parked) noexcept nogil:
    """Room to write an IPv4 packet for ``dst`` (Ethernet header included). When the next
    hop's MAC is known this is a transmit buffer; else the packet is parked until ARP answers
    (``*parked`` is set) and a request goes out, at most once a second per neighbour."""
    cdef uint32_t hop = next_hop(s, dst)
    cdef const uint8_t *mac
    cdef uint8_t *f
    cdef ArpEntry *e
    cdef Pending *p
    cdef int i
    parked[0] = NULL
    if hop == 0:
        s.c.ip_no_route += 1
        return NULL
    mac = arp_lookup(&s.arp, hop, now)
    if mac != NULL:
        f = out.buffer(out.ctx, cap)
        if f == NULL:
            s.c.tx_full += 1
            return NULL
        eth_header(f, mac, s.mac, ETHERTYPE_IPV4)
        return f
    e = arp_slot(&s.arp, hop, now)
    if e.state != ARP_RESOLVED or e.expires < now:
        if e.state != ARP_PENDING:
            e.state = ARP_PENDING
            e.tries = 0
            e.asked = 0
            e.expires = now + PENDING_NS
        if e.asked == 0 or now - e.asked >= s.arp.retry_ns:
            e.asked = now
            e.tries += 1
            arp_request(s, hop, out)
    for i in range(PENDING_MAX):
        if s.pending[i] == NULL:
            break
    else:
        s.c.arp_queue_full += 1
        return NULL
    p = <Pending *>PyMem_RawMalloc(sizeof(Pending))
    if p == NULL:
        s.c.mem_exhausted += 1
        return NULL
    s.pending[i] = p
    s.npending += 1
    parked[0] = p
    p.next_hop = hop
    p.length = 0
    p.deadline = now + PENDING_NS
    cap[0] = PENDING_FRAME
    eth_header(p.frame, ZERO_MAC, s.mac, ETHERTYPE_IPV4)
    return p.frame


cdef inline void unpark(Stack *s, int i) noexcept nogil:
    PyMem_RawFree(s.pending[i])
    s.pending[i] = NULL
    s.npending -= 1


cdef inline void ip_end(Stack *s, Sink *out, Pending *parked, uint32_t length) noexcept nogil:
    if parked != NULL:
        parked.length = length
    else:
        out.commit(out.ctx, length)


cdef void release_pending(Stack *s, uint32_t hop, const uint8_t *mac, Sink *out) noexcept nogil:
    """ARP answered for ``hop``: send what waited for it."""
    cdef int i
    cdef uint32_t cap
    cdef uint8_t *f
    cdef Pending *p
    if s.npending == 0:
        return
    for i in range(PENDING_MAX):
        p = s.pending[i]
        if p == NULL or p.next_hop != hop:
            continue
        if p.length:
            f = out.buffer(out.ctx, &cap)
            if f == NULL or cap < p.length:
                s.c.tx_full += 1
            else:
                memcpy(f, p.frame, p.length)
                memcpy(f + ETH_DST, mac, 6)
                out.commit(out.ctx, p.length)
        unpark(s, i)


# -- ARP ------------------------------------------------------------------------------------

cdef void arp_input(Stack *s, const uint8_t *f, uint32_t n, uint64_t now,
                    Sink *out) noexcept nogil:
    """RFC 826: answer requests for our address, learn from them and from replies we asked
    for. Nothing else enters the cache, so unrelated ARP traffic cannot fill or poison it."""
    cdef const uint8_t *a = f + ETH_HLEN
    cdef uint32_t spa, tpa, cap
    cdef uint16_t op
    cdef uint8_t *r
    cdef ArpEntry *e
    if n < ETH_HLEN + ARP_LEN:
        s.c.arp_runt += 1
        return
    if (be16(a + ARP_HTYPE) != 1 or be16(a + ARP_PTYPE) != ETHERTYPE_IPV4
            or a[ARP_HLEN] != 6 or a[ARP_PLEN] != 4 or mac_is_multicast(a + ARP_SHA)):
        s.c.arp_bad_format += 1
        return
    op = be16(a + ARP_OP)
    spa = be32(a + ARP_SPA)
    tpa = be32(a + ARP_TPA)
    if op == ARP_REQUEST:
        if tpa != s.addr or spa == s.addr:
            s.c.arp_not_for_us += 1
            return
        if spa != 0:                      # not an address probe (RFC 5227)
            e = arp_slot(&s.arp, spa, now)
            arp_learn(&s.arp, e, a + ARP_SHA, now)
            release_pending(s, spa, e.mac, out)
        r = out.buffer(out.ctx, &cap)
        if r == NULL:
            s.c.tx_full += 1
            return
        eth_header(r, a + ARP_SHA, s.mac, ETHERTYPE_ARP)
        memcpy(r + ETH_HLEN, a, ARP_LEN)
        put16(r + ETH_HLEN + ARP_OP, ARP_REPLY)
        memcpy(r + ETH_HLEN + ARP_SHA, s.mac, 6)
        memcpy(r + ETH_HLEN + ARP_SPA, s.ip, 4)
        memcpy(r + ETH_HLEN + ARP_THA, a + ARP_SHA, 6)
        memcpy(r + ETH_HLEN + ARP_TPA, a + ARP_SPA, 4)
        out.commit(out.ctx, ETH_HLEN + ARP_LEN)
        s.c.arp_requests_answered += 1
    elif op == ARP_REPLY:
        if tpa != s.addr:
            s.c.arp_not_for_us += 1
            return
        e = arp_find(&s.arp, spa)
        if e == NULL:
            s.c.arp_unsolicited += 1
            return
        arp_learn(&s.arp, e, a + ARP_SHA, now)
        s.c.arp_replies_learned += 1
        release_pending(s, spa, e.mac, out)
    else:
        s.c.arp_bad_op += 1


# -- ICMP -----------------------------------------------------------------------------------

cdef void icmp_input(Stack *s, const uint8_t *ip, uint32_t ihl, uint32_t total, uint64_t now,
                     Sink *out) noexcept nogil:
    """RFC 792: echo requests are answered with the same identifier, sequence and data."""
    cdef const uint8_t *m = ip + ihl
    cdef uint32_t n = total - ihl
    cdef uint32_t cap
    cdef Pending *parked
    cdef uint8_t *f
    if n < ICMP_HLEN:
        s.c.icmp_runt += 1
        return
    if inet_checksum(m, n) != 0:
        s.c.icmp_bad_checksum += 1
        return
    if m[ICMP_TYPE] != ICMP_ECHO or m[ICMP_CODE] != 0:
        s.c.icmp_ignored += 1
        return
    f = ip_begin(s, be32(ip + IP_SRC), now, out, &cap, &parked)
    if f == NULL:
        return
    if ETH_HLEN + IP_HLEN + n > cap:
        s.c.tx_full += 1
        return
    memcpy(f + ETH_HLEN + IP_HLEN, m, n)
    f[ETH_HLEN + IP_HLEN + ICMP_TYPE] = ICMP_ECHO_REPLY
    put16(f + ETH_HLEN + IP_HLEN + ICMP_CSUM, 0)
    put_csum(f + ETH_HLEN + IP_HLEN + ICMP_CSUM, inet_checksum(f + ETH_HLEN + IP_HLEN, n))
    ip_header(s, f + ETH_HLEN, ip + IP_SRC, PROTO_ICMP, <uint16_t>(IP_HLEN + n))
    ip_end(s, out, parked, ETH_HLEN + IP_HLEN + n)
    s.c.icmp_echo_answered += 1


cdef void port_unreachable(Stack *s, const uint8_t *ip, uint32_t total, uint64_t now,
                           Sink *out) noexcept nogil:
    """RFC 792/1812: tell the sender nobody listens there, at most ``unreach_rate`` a second."""
    cdef uint32_t quote = total if total < UNREACH_MAX_QUOTE else UNREACH_MAX_QUOTE
    cdef uint32_t cap
    cdef Pending *parked
    cdef uint8_t *f
    cdef uint8_t *m
    s.unreach_tokens += (now - s.unreach_last) * 1e-9 * s.unreach_rate
    s.unreach_last = now
    if s.unreach_tokens > s.unreach_rate:
        s.unreach_tokens = s.unreach_rate
    if s.unreach_tokens < 1.0:
        s.c.icmp_unreach_limited += 1
        return
    s.unreach_tokens -= 1.0
    f = ip_begin(s, be32(ip + IP_SRC), now, out, &cap, &parked)
    if f == NULL:
        return
    m = f + ETH_HLEN + IP_HLEN
    m[ICMP_TYPE] = ICMP_UNREACH
    m[ICMP_CODE] = ICMP_UNREACH_PORT
    memset(m + ICMP_CSUM, 0, 6)
    memcpy(m + ICMP_HLEN, ip, quote)
    put_csum(m + ICMP_CSUM, inet_checksum(m, ICMP_HLEN + quote))
    ip_header(s, f + ETH_HLEN, ip + IP_SRC, PROTO_ICMP,
              <uint16_t>(IP_HLEN + ICMP_HLEN + quote))
    ip_end(s, out, parked, ETH_HLEN + IP_HLEN + ICMP_HLEN + quote)
    s.c.icmp_unreach_sent += 1


# -- UDP and DNS ----------------------------------------------------------------------------

cdef void udp_input(Stack *s, const uint8_t *ip, uint32_t ihl, uint32_t total, uint32_t flags,
                    uint64_t now, Sink *out) noexcept nogil:
    """RFC 768: check length and (when present) checksum; port 53 goes to the engine."""
    cdef const uint8_t *u = ip + ihl
    cdef uint32_t avail = total - ihl
    cdef uint32_t ulen, cap
    cdef uint16_t sport
    cdef int r
    cdef Pending *parked
    cdef uint8_t *f
    cdef uint8_t *ru
    cdef uint16_t csum
    if avail < UDP_HLEN:
        s.c.udp_runt += 1
        return
    ulen = be16(u + UDP_LEN)
    if ulen < UDP_HLEN or ulen > avail:
        s.c.udp_bad_length += 1
        return
    if be16(u + UDP_CSUM) != 0 and not (flags & (FRAME_CSUM_PARTIAL | FRAME_CSUM_VALID)) \
            and inet_fold(inet_sum(
            u, ulen, inet_pseudo(ip + IP_SRC, ip + IP_DST, PROTO_UDP, <uint16_t>ulen))) != 0:
        s.c.udp_bad_checksum += 1
        return
    sport = be16(u + UDP_SPORT)
    if be16(u + UDP_DPORT) != DNS_PORT:
        s.c.udp_no_port += 1
        port_unreachable(s, ip, total, now, out)
        return
    if sport == 0:
        s.c.udp_bad_port += 1
        return
    f = ip_begin(s, be32(ip + IP_SRC), now, out, &cap, &parked)
    if f == NULL:
        return
    if cap > ETH_MAX_FRAME:
        cap = ETH_MAX_FRAME
    r = engine_answer(s.table, u + UDP_HLEN, ulen - UDP_HLEN, f + UDP_PAYLOAD,
                      cap - UDP_PAYLOAD, TRANSPORT_UDP, s.engine)
    if r == ENGINE_DROP:
        s.c.dns_dropped += 1
        if parked != NULL:
            parked.next_hop = 0         # an empty parked slot: stack_tick frees it
        return
    ru = f + ETH_HLEN + IP_HLEN
    put16(ru + UDP_SPORT, DNS_PORT)
    put16(ru + UDP_DPORT, sport)
    put16(ru + UDP_LEN, <uint16_t>(UDP_HLEN + r))
    put16(ru + UDP_CSUM, 0)
    ip_header(s, f + ETH_HLEN, ip + IP_SRC, PROTO_UDP, <uint16_t>(IP_HLEN + UDP_HLEN + r))
    csum = inet_fold(inet_sum(ru, UDP_HLEN + r, inet_pseudo(
        s.ip, ip + IP_SRC, PROTO_UDP, <uint16_t>(UDP_HLEN + r))))
    put_csum(ru + UDP_CSUM, csum if csum != 0 else 0xFFFF)    # 0 means "no checksum"
    ip_end(s, out, parked, UDP_PAYLOAD + r)
    s.c.dns_answered += 1


# -- IPv4 and Ethernet ----------------------------------------------------------------------

cdef inline bint bad_source(uint32_t src, uint32_t ours) noexcept nogil:
    """Addresses no packet may come from (RFC 1122 3.2.1.3): us, 0/8, loopback, class D/E,
    broadcast."""
    return src == ours or (src >> 24) == 0 or (src >> 24) == 127 or (src >> 28) >= 14


cdef void ip_input(Stack *s, const uint8_t *f, uint32_t n, uint32_t flags, uint64_t now,
                   Sink *out) noexcept nogil:
    """RFC 791: version, header length, total length against the frame, header checksum,
    our address only, no fragments (a DNS query never needs them)."""
    cdef const uint8_t *ip = f + ETH_HLEN
    cdef uint32_t avail = n - ETH_HLEN
    cdef uint32_t ihl, total
    if avail < IP_HLEN:
        s.c.ip_runt += 1
        return
    if (ip[IP_VHL] >> 4) != 4:
        s.c.ip_bad_version += 1
        return
    ihl = (ip[IP_VHL] & 0x0F) * 4
    if ihl < IP_HLEN or ihl > avail:
        s.c.ip_bad_ihl += 1
        return
    total = be16(ip + IP_LEN)
    if total < ihl or total > avail:       # the frame may be padded, never shorter
        s.c.ip_bad_length += 1
        return
    if inet_checksum(ip, ihl) != 0:
        s.c.ip_bad_checksum += 1
        return
    if be32(ip + IP_DST) != s.addr:
        s.c.ip_not_for_us += 1
        return
    if bad_source(be32(ip + IP_SRC), s.addr):
        s.c.ip_bad_source += 1
        return
    if be16(ip + IP_FRAG) & (IP_MF | IP_OFFMASK):
        s.c.ip_fragment += 1
        return
    if ip[IP_PROTO] == PROTO_UDP:
        udp_input(s, ip, ihl, total, flags, now, out)
    elif ip[IP_PROTO] == PROTO_ICMP:
        icmp_input(s, ip, ihl, total, now, out)
    else:
        s.c.ip_unknown_proto += 1


cdef void stack_input(Stack *s, const uint8_t *f, uint32_t n, uint32_t flags, uint64_t now,
                      Sink *out) noexcept nogil:
    """One received Ethernet frame: for our MAC or broadcast, then ARP or IPv4."""
    cdef uint16_t ethertype
    s.c.frames += 1
    if n < ETH_HLEN:
        s.c.eth_runt += 1
        return
    if n > ETH_MAX_FRAME:
        s.c.eth_oversized += 1
        return
    if memcmp(f + ETH_DST, s.mac, 6) != 0 and not mac_is_broadcast(f + ETH_DST):
        s.c.eth_not_for_us += 1
        return
    if mac_is_multicast(f + ETH_SRC):
        s.c.eth_bad_source += 1
        return
    ethertype = be16(f + ETH_TYPE)
    if ethertype == ETHERTYPE_IPV4:
        ip_input(s, f, n, flags, now, out)
    elif ethertype == ETHERTYPE_ARP:
        arp_input(s, f, n, now, out)
    else:
        s.c.eth_unknown_type += 1


cdef void stack_tick(Stack *s, uint64_t now, Sink *out) noexcept nogil:
    """Timers: ask again for neighbours still unresolved, drop what waited too long."""
    cdef int i
    cdef ArpEntry *e
    cdef Pending *p
    if s.npending == 0:
        return
    for i in range(PENDING_MAX):
        p = s.pending[i]
        if p == NULL:
            continue
        if p.next_hop == 0:
            unpark(s, i)
            continue
        if p.deadline <= now:
            unpark(s, i)
            s.c.arp_timeout += 1
            continue
        e = arp_find(&s.arp, p.next_hop)
        if (e != NULL and e.state == ARP_PENDING and e.tries < ARP_MAX_TRIES
                and now - e.asked >= s.arp.retry_ns):
            e.asked = now
            e.tries += 1
            arp_request(s, e.ip, out)


cdef void stack_announce(Stack *s, Sink *out) noexcept nogil:
    """A gratuitous ARP (RFC 5227 2.3): neighbours learn, or relearn, our MAC."""
    arp_request(s, s.addr, out)


# -- Python side ----------------------------------------------------------------------------

COUNTER_NAMES = (
    "frames", "eth_runt", "eth_oversized", "eth_not_for_us", "eth_bad_source",
    "eth_unknown_type", "arp_runt", "arp_bad_format", "arp_bad_op", "arp_not_for_us",
    "arp_requests_answered", "arp_replies_learned", "arp_unsolicited", "arp_requests_sent",
    "arp_queue_full", "arp_timeout", "ip_runt", "ip_bad_version", "ip_bad_ihl",
    "ip_bad_length", "ip_bad_checksum", "ip_not_for_us", "ip_bad_source", "ip_fragment",
    "ip_unknown_proto", "ip_no_route", "icmp_runt", "icmp_bad_checksum", "icmp_echo_answered",
    "icmp_ignored", "icmp_unreach_sent", "icmp_unreach_limited", "udp_runt", "udp_bad_length",
    "udp_bad_checksum", "udp_bad_port", "udp_no_port", "dns_answered", "dns_dropped", "tx_full",
    "mem_exhausted",
)
assert len(COUNTER_NAMES) * 8 == sizeof(StackCounters)

cdef extern from "<dlfcn.h>" nogil:
    void *RTLD_DEFAULT
    void *dlsym(void *handle, const char *symbol)

cdef extern from "pvboot.h" nogil:
    ctypedef struct mem_stats_t "struct pvboot_mem_stats":
        size_t in_use
        uint64_t failures
        uint64_t kernel_requests

ctypedef void (*mem_stats_fn)(mem_stats_t *st) noexcept nogil
# the launcher's allocator counters, when this process runs under it (pvboot/mem.c)
cdef mem_stats_fn MEM_STATS = <mem_stats_fn>dlsym(RTLD_DEFAULT, "pvboot_mem_stats")

# the names as C strings, for write_counters (made at import, while memory is plentiful)
cdef const char *COUNTER_CNAMES[64]
cdef tuple _CNAMES = tuple(n.encode() for n in COUNTER_NAMES)


cdef void _point_cnames():
    cdef bytes b
    cdef int i
    for i in range(len(_CNAMES)):
        b = _CNAMES[i]
        COUNTER_CNAMES[i] = b


_point_cnames()


cdef uint8_t *mem_buffer(void *ctx, uint32_t *cap) noexcept nogil:
    cdef MemSink *m = <MemSink *>ctx
    if m.n >= MEM_FRAMES:
        return NULL
    cap[0] = MEM_FRAME_SIZE
    return m.frames[m.n]


cdef void mem_commit(void *ctx, uint32_t length) noexcept nogil:
    cdef MemSink *m = <MemSink *>ctx
    m.lengths[m.n] = length
    m.n += 1


cdef enum:
    TICK_NS = 100000000              # timers run every 100 ms at most


cdef uint8_t *netdev_buffer(void *ctx, uint32_t *cap) noexcept nogil:
    """A transmit buffer of the netdev; when its batch is full, send the batch first."""
    cdef pvboot_netdev_t *nd = <pvboot_netdev_t *>ctx
    cdef uint8_t *b = nd_tx_buffer(nd, cap)
    cdef unsigned dropped = 0
    if b == NULL:
        nd_tx_flush(nd, &dropped)
        b = nd_tx_buffer(nd, cap)
    return b


cdef void netdev_commit(void *ctx, uint32_t length) noexcept nogil:
    nd_tx_commit(<pvboot_netdev_t *>ctx, length, NULL, 0)


def parse_ipv4(text):
    import ipaddress
    return int(ipaddress.IPv4Address(text))


cdef class NetStack:
    """The stack for one netdev. ``feed``/``tick``/``announce`` run it over memory (tests);
    the netdev loop runs the same functions over a pvboot ring (netstack.loop)."""

    def __init__(self, engine, mac, address, int prefix, gateway=None,
                 double unreach_rate=100.0, double arp_ttl=300.0, double arp_retry=1.0):
        from appliance.engine import Engine
        if not isinstance(engine, Engine):
            raise TypeError("engine must be an appliance.engine.Engine")
        if len(mac) != 6:
            raise ValueError("a MAC is 6 octets")
        if not 0 <= prefix <= 32:
            raise ValueError("prefix length must be 0..32")
        self.engine = engine
        memset(&self.s, 0, sizeof(Stack))
        memcpy(self.s.mac, <const uint8_t *>mac, 6)
        self.s.addr = parse_ipv4(address)
        put32(self.s.ip, self.s.addr)
        self.s.mask = 0 if prefix == 0 else (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
        self.s.gateway = parse_ipv4(gateway) if gateway else 0
        self.s.table = self.engine_table()
        self.s.engine = self.engine_counters()
        self.s.unreach_rate = unreach_rate
        self.s.unreach_tokens = unreach_rate
        arp_init(&self.s.arp, <uint64_t>(arp_ttl * 1e9), <uint64_t>(arp_retry * 1e9))
        self.mem.n = 0
        self.sink.buffer = mem_buffer
        self.sink.commit = mem_commit
        self.sink.ctx = &self.mem

    cdef const Table *engine_table(self):
        return &(<Engine>self.engine).table

    cdef Counters *engine_counters(self):
        return &(<Engine>self.engine).counts

    cdef list drain(self):
        out = [self.mem.frames[i][:self.mem.lengths[i]] for i in range(self.mem.n)]
        self.mem.n = 0
        return out

    def __dealloc__(self):
        cdef int i
        for i in range(PENDING_MAX):
            if self.s.pending[i] != NULL:
                PyMem_RawFree(self.s.pending[i])
                self.s.pending[i] = NULL

    def feed(self, bytes frame, uint64_t now=0, uint32_t flags=0):
        """Hand the stack one frame at time ``now`` (ns); the frames it sends in return."""
        stack_input(&self.s, <const uint8_t *>frame, len(frame), flags, now, &self.sink)
        return self.drain()

    def tick(self, uint64_t now):
        stack_tick(&self.s, now, &self.sink)
        return self.drain()

    def announce(self):
        stack_announce(&self.s, &self.sink)
        return self.drain()

    cpdef write_counters(self, int fd):
        """The stack's and the engine's counters as one line on ``fd``, formatted in C: it
        works when the memory region is spent and no Python object can be made."""
        cdef char buf[4096]
        cdef int n = 0, i
        cdef const uint64_t *v = <const uint64_t *>&self.s.c
        cdef mem_stats_t st
        n = snprintf(buf, sizeof(buf), b"counters: queries=%llu",
                     <unsigned long long>self.s.engine.queries)
        for i in range(sizeof(StackCounters) // 8):
            if v[i] and n < <int>sizeof(buf) - 64:
                n += snprintf(buf + n, sizeof(buf) - n, b" %s=%llu",
                              COUNTER_CNAMES[i], <unsigned long long>v[i])
        if MEM_STATS != NULL:
            MEM_STATS(&st)
            n += snprintf(buf + n, sizeof(buf) - n,
                          b" mem_in_use=%llu mem_failures=%llu mem_kernel_requests=%llu",
                          <unsigned long long>st.in_use, <unsigned long long>st.failures,
                          <unsigned long long>st.kernel_requests)
        n += snprintf(buf + n, sizeof(buf) - n, b"\n")
        write(fd, buf, n)

    def counters(self):
        cdef const uint64_t *v = <const uint64_t *>&self.s.c
        out = {name: v[i] for i, name in enumerate(COUNTER_NAMES)}
        out["tx_dropped"] = self.tx_dropped
        return out

    def serve(self, Netdev netdev, on_signal=None, double report_every=0):
        """Run on a netdev until SIGINT or SIGTERM, and return that signal's number.

        The loop is pvboot's: yield until frames or a timer, take a batch from the ring,
        handle each frame, send the batch. ``on_signal(signum)`` runs (with the GIL) on
        SIGUSR1, and every ``report_every`` seconds if that is not 0. A gratuitous ARP goes
        out first (RFC 5227 2.3).
        """
        cdef uint64_t report_ns = <uint64_t>(report_every * 1e9)
        cdef uint64_t next_report = 0
        cdef Sink sink
        cdef pvboot_netdev_t *nd = netdev.nd
        cdef pvboot_frame frames[PVBOOT_BATCH]
        cdef unsigned n = 0
        cdef unsigned i, dropped = 0
        cdef uint64_t now, next_tick, ready = 0
        cdef int sig = 0
        if nd == NULL:
            raise ValueError("the netdev is closed")
        sink.buffer = netdev_buffer
        sink.commit = netdev_commit
        sink.ctx = nd
        with nogil:
            stack_announce(&self.s, &sink)
            nd_tx_flush(nd, &dropped)
            next_tick = clock_ns() + TICK_NS
            next_report = clock_ns() + report_ns
        while True:
            with nogil:
                while True:
                    yield_ns(next_tick, &ready)
                    sig = signal_take()
                    if sig != 0:
                        break
                    now = clock_ns()
                    while nd_rx(nd, frames, PVBOOT_BATCH, &n) == PVBOOT_OK:
                        for i in range(n):
                            stack_input(&self.s, frames[i].data, frames[i].len,
                                        frames[i].flags, now, &sink)
                        nd_rx_done(nd)
                        nd_tx_flush(nd, &dropped)
                        self.tx_dropped += dropped
                    if now >= next_tick:
                        stack_tick(&self.s, now, &sink)
                        nd_tx_flush(nd, &dropped)
                        self.tx_dropped += dropped
                        next_tick = now + TICK_NS
                        if report_ns and now >= next_report:
                            next_report = now + report_ns
                            sig = SIGUSR1
                            break
            if sig == SIGUSR1:
                if not run_report(on_signal, sig):
                    self.write_counters(1)         # the region is spent: no Python objects
                continue
            return sig

    @property
    def mac(self):
        return bytes(self.s.mac[:6])

    def arp_table(self, uint64_t now=0):
        """The neighbours we know, {address: MAC} (for tests and diagnostics)."""
        import ipaddress
        out = {}
        for i in range(ARP_SLOTS):
            e = &self.s.arp.slots[i]
            if e.state == ARP_RESOLVED and e.expires >= now:
                out[str(ipaddress.IPv4Address(e.ip))] = bytes(e.mac[:6])
        return out
