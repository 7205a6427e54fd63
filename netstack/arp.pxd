# The ARP cache (RFC 826): bounded, with expiry, learned only from what concerns us.
# Pure state: the stack asks it and tells it; frames are written by the stack.

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset


cdef enum:
    ARP_SLOTS = 256                  # a power of two; the cache never holds more
    ARP_PROBE = 16                   # slots looked at from the hashed one
    ARP_FREE = 0
    ARP_PENDING = 1                  # asked, no reply yet
    ARP_RESOLVED = 2


cdef struct ArpEntry:
    uint32_t ip
    uint8_t state
    uint8_t tries
    uint8_t mac[6]
    uint64_t expires                 # resolved: until when to trust it; pending: give up at
    uint64_t asked                   # when we last sent a request for it


cdef struct ArpCache:
    ArpEntry slots[ARP_SLOTS]
    uint64_t ttl_ns                  # how long a learned address is trusted
    uint64_t retry_ns                # between two requests for one address


cdef inline uint32_t arp_hash(uint32_t ip) noexcept nogil:
    return (ip * 0x9E3779B1U) >> 24


cdef inline void arp_init(ArpCache *c, uint64_t ttl_ns, uint64_t retry_ns) noexcept nogil:
    memset(c, 0, sizeof(ArpCache))
    c.ttl_ns = ttl_ns
    c.retry_ns = retry_ns


cdef inline ArpEntry *arp_find(ArpCache *c, uint32_t ip) noexcept nogil:
    cdef uint32_t i = arp_hash(ip)
    cdef int k
    cdef ArpEntry *e
    for k in range(ARP_PROBE):
        e = &c.slots[(i + k) & (ARP_SLOTS - 1)]
        if e.state != ARP_FREE and e.ip == ip:
            return e
    return NULL


cdef inline ArpEntry *arp_slot(ArpCache *c, uint32_t ip, uint64_t now) noexcept nogil:
    """The entry for ``ip``, made if needed; when the probe window is full the entry that
    expires first gives way, so the cache stays bounded whatever it is fed."""
    cdef uint32_t i = arp_hash(ip)
    cdef int k
    cdef ArpEntry *e
    cdef ArpEntry *victim = NULL
    for k in range(ARP_PROBE):
        e = &c.slots[(i + k) & (ARP_SLOTS - 1)]
        if e.state != ARP_FREE and e.ip == ip:
            return e
        if e.state == ARP_FREE:
            if victim == NULL or victim.state != ARP_FREE:
                victim = e
        elif victim == NULL or (victim.state != ARP_FREE and e.expires < victim.expires):
            victim = e
    memset(victim, 0, sizeof(ArpEntry))
    victim.ip = ip
    return victim


cdef inline void arp_learn(ArpCache *c, ArpEntry *e, const uint8_t *mac,
                           uint64_t now) noexcept nogil:
    memcpy(e.mac, mac, 6)
    e.state = ARP_RESOLVED
    e.tries = 0
    e.expires = now + c.ttl_ns


cdef inline const uint8_t *arp_lookup(ArpCache *c, uint32_t ip, uint64_t now) noexcept nogil:
    """The MAC for ``ip`` if we know it and it has not expired."""
    cdef ArpEntry *e = arp_find(c, ip)
    if e == NULL or e.state != ARP_RESOLVED or e.expires < now:
        return NULL
    return e.mac
