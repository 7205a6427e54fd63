# cython: language_level=3
"""pvboot's netdevs for other extensions: the C calls, exported once from pvboot.netdev.

The C code of pvboot lives in this one extension. Another extension calls it through these
cdef functions (Cython shares them by capsule): from pvboot.netdev cimport nd_rx, ...
and takes a netdev's pointer from a Python Netdev as (<Netdev>obj).nd.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from pvboot.pvboot cimport pvboot_frame, pvboot_netdev_t, pvboot_result_t, sockaddr_storage


cdef pvboot_result_t nd_rx(pvboot_netdev_t *nd, pvboot_frame *frames, unsigned max,
                           unsigned *n) noexcept nogil
cdef void nd_rx_done(pvboot_netdev_t *nd) noexcept nogil
cdef uint8_t *nd_tx_buffer(pvboot_netdev_t *nd, uint32_t *cap) noexcept nogil
cdef void nd_tx_commit(pvboot_netdev_t *nd, uint32_t len, const sockaddr_storage *peer,
                       uint32_t peer_len) noexcept nogil
cdef pvboot_result_t nd_tx_flush(pvboot_netdev_t *nd, unsigned *dropped) noexcept nogil
cdef pvboot_result_t yield_ns(uint64_t deadline, uint64_t *ready) noexcept nogil
cdef int signal_take() noexcept nogil
cdef uint64_t clock_ns() noexcept nogil
cdef bint run_report(object on_signal, int sig) except -1


cdef class Netdev:
    cdef pvboot_netdev_t *nd
    cdef readonly str spec

    cdef int _check(self) except -1
    cdef list _rx(self, unsigned max, int what)
    cdef int _queue(self, bytes frame, object addr) except -1
