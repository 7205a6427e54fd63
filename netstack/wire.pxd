# Wire layouts of the protocols the stack speaks: offsets and accessors, no state.
# Ethernet II, ARP (RFC 826), IPv4 (RFC 791), ICMP (RFC 792), UDP (RFC 768).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "include/inet.h" nogil:
    uint64_t inet_sum(const uint8_t *p, uint32_t n, uint64_t sum)
    uint16_t inet_fold(uint64_t sum)
    uint16_t inet_checksum(const uint8_t *p, uint32_t n)
    uint64_t inet_pseudo(const uint8_t *src4, const uint8_t *dst4, uint8_t proto, uint16_t len)
    uint16_t be16(const uint8_t *p)
    uint32_t be32(const uint8_t *p)
    void put16(uint8_t *p, uint16_t v)
    void put32(uint8_t *p, uint32_t v)
    void put_csum(uint8_t *p, uint16_t c)


cdef enum:
    # Ethernet II
    ETH_DST = 0
    ETH_SRC = 6
    ETH_TYPE = 12
    ETH_HLEN = 14
    ETH_MAX_FRAME = 1514          # a 1500-octet payload; longer frames are dropped
    ETHERTYPE_IPV4 = 0x0800
    ETHERTYPE_ARP = 0x0806

    # ARP for IPv4 over Ethernet
    ARP_HTYPE = 0
    ARP_PTYPE = 2
    ARP_HLEN = 4
    ARP_PLEN = 5
    ARP_OP = 6
    ARP_SHA = 8
    ARP_SPA = 14
    ARP_THA = 18
    ARP_TPA = 24
    ARP_LEN = 28
    ARP_REQUEST = 1
    ARP_REPLY = 2

    # IPv4
    IP_VHL = 0
    IP_TOS = 1
    IP_LEN = 2
    IP_ID = 4
    IP_FRAG = 6
    IP_TTL = 8
    IP_PROTO = 9
    IP_CSUM = 10
    IP_SRC = 12
    IP_DST = 16
    IP_HLEN = 20
    IP_MF = 0x2000
    IP_DF = 0x4000
    IP_OFFMASK = 0x1FFF
    PROTO_ICMP = 1
    PROTO_UDP = 17
    IP_DEFAULT_TTL = 64

    # ICMP
    ICMP_TYPE = 0
    ICMP_CODE = 1
    ICMP_CSUM = 2
    ICMP_ID = 4
    ICMP_SEQ = 6
    ICMP_HLEN = 8
    ICMP_ECHO_REPLY = 0
    ICMP_UNREACH = 3
    ICMP_UNREACH_PORT = 3
    ICMP_ECHO = 8

    # UDP
    UDP_SPORT = 0
    UDP_DPORT = 2
    UDP_LEN = 4
    UDP_CSUM = 6
    UDP_HLEN = 8
    DNS_PORT = 53

    # where a UDP payload starts in a frame we write (no IP options on send)
    UDP_PAYLOAD = ETH_HLEN + IP_HLEN + UDP_HLEN


cdef inline bint mac_is_broadcast(const uint8_t *m) noexcept nogil:
    return (m[0] & m[1] & m[2] & m[3] & m[4] & m[5]) == 0xFF


cdef inline bint mac_is_multicast(const uint8_t *m) noexcept nogil:
    return (m[0] & 1) != 0
