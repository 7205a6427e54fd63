# The stack's C-level interface: one Stack per netdev, frames in, frames out through a Sink.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from appliance.engine cimport Counters, Table
from netstack.arp cimport ArpCache


# Where frames we send go: the netdev's transmit buffers, or memory (tests).
ctypedef uint8_t *(*sink_buffer_fn)(void *ctx, uint32_t *cap) noexcept nogil
ctypedef void (*sink_commit_fn)(void *ctx, uint32_t length) noexcept nogil

cdef struct Sink:
    sink_buffer_fn buffer
    sink_commit_fn commit
    void *ctx


# Every frame that is not answered is counted under its reason (DESIGN.md section 5).
# The order here is the order of COUNTER_NAMES in stack.pyx.
cdef struct StackCounters:
    uint64_t frames
    uint64_t eth_runt
    uint64_t eth_oversized
    uint64_t eth_not_for_us
    uint64_t eth_bad_source
    uint64_t eth_unknown_type
    uint64_t arp_runt
    uint64_t arp_bad_format
    uint64_t arp_bad_op
    uint64_t arp_not_for_us
    uint64_t arp_requests_answered
    uint64_t arp_replies_learned
    uint64_t arp_unsolicited
    uint64_t arp_requests_sent
    uint64_t arp_queue_full
    uint64_t arp_timeout
    uint64_t ip_runt
    uint64_t ip_bad_version
    uint64_t ip_bad_ihl
    uint64_t ip_bad_length
    uint64_t ip_bad_checksum
    uint64_t ip_not_for_us
    uint64_t ip_bad_source
    uint64_t ip_fragment
    uint64_t ip_unknown_proto
    uint64_t ip_no_route
    uint64_t icmp_runt
    uint64_t icmp_bad_checksum
    uint64_t icmp_echo_answered
    uint64_t icmp_ignored
    uint64_t icmp_unreach_sent
    uint64_t icmp_unreach_limited
    uint64_t udp_runt
    uint64_t udp_bad_length
    uint64_t udp_bad_checksum
    uint64_t udp_bad_port
    uint64_t udp_no_port
    uint64_t dns_answered
    uint64_t dns_dropped
    uint64_t tx_full
    uint64_t mem_exhausted           # a response to park, and no memory left to hold it


cdef enum:
    PENDING_MAX = 1024               # responses held while their next hop is being resolved
    PENDING_FRAME = 1536


cdef struct Pending:
    uint32_t next_hop                # 0: free
    uint32_t length
    uint64_t deadline
    uint8_t frame[PENDING_FRAME]


cdef struct Stack:
    uint8_t mac[6]
    uint8_t ip[4]                    # our address, as on the wire
    uint32_t addr                    # the same, host order
    uint32_t mask
    uint32_t gateway                 # 0: none (only the local network is reachable)
    uint16_t ip_id
    const Table *table
    Counters *engine
    StackCounters c
    ArpCache arp
    double unreach_tokens            # ICMP port unreachable rate limit (token bucket)
    double unreach_rate              # per second, also the burst
    uint64_t unreach_last
    # Each parked response takes memory from the allocator (the launcher's region): the only
    # memory the stack asks for after start-up, and only for neighbours ARP has not answered.
    Pending *pending[PENDING_MAX]
    int npending


# frame flags (pvboot's PVBOOT_FRAME_*): the L4 checksum is not to be checked
cdef enum:
    FRAME_CSUM_PARTIAL = 0x1         # not filled in yet (sent from this host, offloaded)
    FRAME_CSUM_VALID = 0x2           # already verified by the kernel or the NIC


cdef void stack_input(Stack *s, const uint8_t *f, uint32_t n, uint32_t flags, uint64_t now,
                      Sink *out) noexcept nogil
cdef void stack_tick(Stack *s, uint64_t now, Sink *out) noexcept nogil
cdef void stack_announce(Stack *s, Sink *out) noexcept nogil


cdef enum:
    MEM_FRAMES = 64
    MEM_FRAME_SIZE = 2048


cdef struct MemSink:                 # a Sink in memory, for feeding the stack from tests
    uint8_t frames[MEM_FRAMES][MEM_FRAME_SIZE]
    uint32_t lengths[MEM_FRAMES]
    int n


cdef class NetStack:
    cdef Stack s
    cdef public uint64_t tx_dropped
    cdef object engine
    cdef Sink sink
    cdef MemSink mem
    cdef const Table *engine_table(self)
    cdef Counters *engine_counters(self)
    cdef list drain(self)
    cpdef write_counters(self, int fd)
