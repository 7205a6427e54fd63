# cython: language_level=3
"""The C API of pvboot (pvboot.h), for cimport. Keep it the mirror of the header."""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned short sa_family_t
    struct sockaddr_storage:
        sa_family_t ss_family


cdef extern from "pvboot.h" nogil:
    ctypedef enum pvboot_result_t:
        PVBOOT_OK
        PVBOOT_AGAIN
        PVBOOT_EINVAL
        PVBOOT_EPERM
        PVBOOT_ENODEV
        PVBOOT_EBUSY
        PVBOOT_EADDR
        PVBOOT_EUNSPEC

    enum:
        PVBOOT_NETDEV_TAP
        PVBOOT_NETDEV_AFPACKET
        PVBOOT_NETDEV_SOCKET

    enum:
        PVBOOT_MAX_NETDEVS
        PVBOOT_BATCH
        PVBOOT_FRAME_MAX
        PVBOOT_ERRLEN

    ctypedef struct pvboot_netdev_t:
        pass

    # The structs share their tags with functions: Cython names them with _t.
    ctypedef struct pvboot_netdev_info_t "struct pvboot_netdev_info":
        int kind
        int index
        uint8_t mac[6]
        uint16_t mtu
        char name[32]

    struct pvboot_frame:
        const uint8_t *data
        uint32_t len
        uint32_t peer_len
        sockaddr_storage *peer
        uint32_t flags

    enum:
        PVBOOT_FRAME_CSUM_PARTIAL
        PVBOOT_FRAME_CSUM_VALID

    ctypedef struct pvboot_netdev_stats_t "struct pvboot_netdev_stats":
        uint64_t rx_frames
        uint64_t rx_truncated
        uint64_t rx_dropped
        uint64_t rx_csum_partial
        uint64_t tx_frames
        uint64_t tx_dropped
        uint64_t errors

    pvboot_result_t pvboot_netdev_open(const char *spec, pvboot_netdev_t **out,
                                       char *err, size_t errlen)
    void pvboot_netdev_close(pvboot_netdev_t *nd)
    void pvboot_netdev_info(pvboot_netdev_t *nd, pvboot_netdev_info_t *info)
    pvboot_result_t pvboot_netdev_rx(pvboot_netdev_t *nd, pvboot_frame *frames,
                                     unsigned max, unsigned *n)
    void pvboot_netdev_rx_done(pvboot_netdev_t *nd)
    uint8_t *pvboot_netdev_tx_buffer(pvboot_netdev_t *nd, uint32_t *cap)
    void pvboot_netdev_tx_commit(pvboot_netdev_t *nd, uint32_t len,
                                 const sockaddr_storage *peer, uint32_t peer_len)
    pvboot_result_t pvboot_netdev_tx_flush(pvboot_netdev_t *nd, unsigned *dropped)
    int pvboot_netdev_fd(pvboot_netdev_t *nd)
    void pvboot_netdev_stats(pvboot_netdev_t *nd, pvboot_netdev_stats_t *stats)

    pvboot_result_t pvboot_yield(uint64_t deadline, uint64_t *ready)
    int pvboot_signal_take()
    void pvboot_signals_restore()
    uint64_t pvboot_clock_monotonic()

    # memory (mem.c: linked into the launcher only; reached with dlsym, see netdev.pyx)
    ctypedef struct pvboot_mem_stats_t "struct pvboot_mem_stats":
        size_t reserved
        size_t extents_used
        size_t free_extents
        size_t in_use
        size_t peak
        uint64_t allocations
        uint64_t frees
        uint64_t failures
        uint64_t foreign_frees
        uint64_t kernel_requests
        int hugepages

    # the seal (seal.c)
    pvboot_result_t pvboot_seal(unsigned flags, unsigned *allowed, char *err, size_t errlen)
    enum:
        PVBOOT_SEAL_POWEROFF
    int pvboot_sealed()
