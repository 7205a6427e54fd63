# The answer engine's C-level interface: what the socket server and the stack call per packet.
# Pure: the same query bytes and table give the same response bytes; no I/O, no allocation.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "include/namehash.h" nogil:
    uint64_t namehash(const uint8_t *p, int n, uint64_t seed)
    uint16_t load_le16(const uint8_t *p)
    uint32_t load_le32(const uint8_t *p)
    uint64_t load_le64(const uint8_t *p)
    uint16_t load_be16(const uint8_t *p)
    void store_be16(uint8_t *p, uint16_t v)


cdef enum:
    ENGINE_DROP = -1
    TRANSPORT_UDP = 0
    TRANSPORT_TCP = 1
    # every response fits this: the largest UDP answer, or a TCP one (RFC 1035 4.2.2)
    ENGINE_MAX_RESPONSE = 65535
    NCOUNT_RCODES = 24


# Counters kept by the caller, one set per serving thread (no sharing, no atomics).
cdef struct Counters:
    uint64_t queries            # every datagram handed to the engine
    uint64_t rcode[NCOUNT_RCODES]   # responses by rcode (16 = BADVERS)
    uint64_t truncated          # responses with TC=1
    uint64_t edns               # queries with a valid OPT record
    uint64_t drop_short         # shorter than a DNS header
    uint64_t drop_response      # QR=1: a response, never answered (RFC 1035 4.1.1)
    uint64_t drop_toolarge      # no room for the response in the caller's buffer


cdef struct Table:
    const uint8_t *base
    uint64_t length
    uint64_t seed
    uint32_t mask
    uint32_t max_labels
    const uint8_t *slots
    const uint8_t *chaos


cdef int table_init(Table *t, const uint8_t *base, uint64_t length) noexcept nogil

cdef int engine_answer(const Table *t, const uint8_t *q, int qlen, uint8_t *out, int outcap,
                       int transport, Counters *c) noexcept nogil


cdef class Engine:
    cdef Table table
    cdef Counters counts
    cdef object _owner
    cdef const uint8_t[::1] _view
    cdef uint8_t out[ENGINE_MAX_RESPONSE + 11]
