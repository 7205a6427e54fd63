# cython: language_level=3
"""pvboot's netdevs: the C calls for other extensions, and a Python Netdev for tests and tools.

The Python side copies every frame; the data path (netstack) calls the nd_* functions below
on the pointer a Netdev holds, without the GIL and without copies.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from pvboot.pvboot cimport (
    PVBOOT_AGAIN, PVBOOT_BATCH, PVBOOT_EADDR, PVBOOT_EBUSY, PVBOOT_EINVAL, PVBOOT_ENODEV,
    PVBOOT_EPERM, PVBOOT_ERRLEN, PVBOOT_EUNSPEC, PVBOOT_FRAME_CSUM_PARTIAL, PVBOOT_FRAME_CSUM_VALID,
    PVBOOT_NETDEV_AFPACKET, PVBOOT_NETDEV_SOCKET, PVBOOT_NETDEV_TAP, PVBOOT_OK,
    PVBOOT_SEAL_POWEROFF, pvboot_clock_monotonic, pvboot_frame, pvboot_netdev_close,
    pvboot_netdev_fd, pvboot_netdev_info, pvboot_netdev_info_t, pvboot_netdev_open,
    pvboot_netdev_rx, pvboot_netdev_rx_done, pvboot_netdev_stats, pvboot_netdev_stats_t,
    pvboot_netdev_t, pvboot_netdev_tx_buffer, pvboot_netdev_tx_commit, pvboot_netdev_tx_flush,
    pvboot_result_t, pvboot_mem_stats_t, pvboot_seal, pvboot_sealed, pvboot_signal_take,
    pvboot_signals_restore, pvboot_yield, sockaddr_storage)


cdef extern from "<dlfcn.h>" nogil:
    void *RTLD_DEFAULT
    void *dlsym(void *handle, const char *symbol)


cdef extern from "<arpa/inet.h>" nogil:
    enum: AF_INET
    enum: AF_INET6
    enum: INET6_ADDRSTRLEN
    struct in_addr:
        pass
    struct in6_addr:
        pass
    struct sockaddr_in:
        unsigned short sin_family
        uint16_t sin_port
        in_addr sin_addr
    struct sockaddr_in6:
        unsigned short sin6_family
        uint16_t sin6_port
        in6_addr sin6_addr
    int inet_pton(int af, const char *src, void *dst)
    const char *inet_ntop(int af, const void *src, char *dst, unsigned int size)
    uint16_t htons(uint16_t)
    uint16_t ntohs(uint16_t)


# -- the C calls, exported for cimport (see netdev.pxd) --------------------------------------

cdef pvboot_result_t nd_rx(pvboot_netdev_t *nd, pvboot_frame *frames, unsigned max,
                           unsigned *n) noexcept nogil:
    return pvboot_netdev_rx(nd, frames, max, n)


cdef void nd_rx_done(pvboot_netdev_t *nd) noexcept nogil:
    pvboot_netdev_rx_done(nd)


cdef uint8_t *nd_tx_buffer(pvboot_netdev_t *nd, uint32_t *cap) noexcept nogil:
    return pvboot_netdev_tx_buffer(nd, cap)


cdef void nd_tx_commit(pvboot_netdev_t *nd, uint32_t len, const sockaddr_storage *peer,
                       uint32_t peer_len) noexcept nogil:
    pvboot_netdev_tx_commit(nd, len, peer, peer_len)


cdef pvboot_result_t nd_tx_flush(pvboot_netdev_t *nd, unsigned *dropped) noexcept nogil:
    return pvboot_netdev_tx_flush(nd, dropped)


cdef pvboot_result_t yield_ns(uint64_t deadline, uint64_t *ready) noexcept nogil:
    return pvboot_yield(deadline, ready)


cdef int signal_take() noexcept nogil:
    return pvboot_signal_take()


cdef uint64_t clock_ns() noexcept nogil:
    return pvboot_clock_monotonic()


cdef bint run_report(object on_signal, int sig) except -1:
    """The serve loops' SIGUSR1 (and periodic) report: ``on_signal(sig)``, with the GIL.
    False when the memory region ran out while it ran: the caller then writes its counters in
    C, without Python objects."""
    if on_signal is None:
        return True
    try:
        on_signal(sig)
    except MemoryError:
        return False
    return True


# -- Python ---------------------------------------------------------------------------------

RESULTS = {
    PVBOOT_OK: "PVBOOT_OK",
    PVBOOT_AGAIN: "PVBOOT_AGAIN",
    PVBOOT_EINVAL: "PVBOOT_EINVAL",
    PVBOOT_EPERM: "PVBOOT_EPERM",
    PVBOOT_ENODEV: "PVBOOT_ENODEV",
    PVBOOT_EBUSY: "PVBOOT_EBUSY",
    PVBOOT_EADDR: "PVBOOT_EADDR",
    PVBOOT_EUNSPEC: "PVBOOT_EUNSPEC",
}
KINDS = {PVBOOT_NETDEV_TAP: "tap", PVBOOT_NETDEV_AFPACKET: "afpacket",
         PVBOOT_NETDEV_SOCKET: "socket"}
BATCH = PVBOOT_BATCH
FRAME_CSUM_PARTIAL = PVBOOT_FRAME_CSUM_PARTIAL
FRAME_CSUM_VALID = PVBOOT_FRAME_CSUM_VALID

cdef enum:
    RX_DATA = 0
    RX_FLAGS = 1
    RX_PEERS = 2


class NetdevError(OSError):
    """A netdev could not be opened or used; .result names the pvboot result."""

    def __init__(self, message, result="PVBOOT_EUNSPEC"):
        super().__init__(message)
        self.result = result


cdef object peer_to_tuple(const sockaddr_storage *ss):
    cdef char host[INET6_ADDRSTRLEN]
    cdef const sockaddr_in *s4
    cdef const sockaddr_in6 *s6
    if ss.ss_family == AF_INET:
        s4 = <const sockaddr_in *>ss
        inet_ntop(AF_INET, &s4.sin_addr, host, sizeof(host))
        return (host.decode(), ntohs(s4.sin_port))
    if ss.ss_family == AF_INET6:
        s6 = <const sockaddr_in6 *>ss
        inet_ntop(AF_INET6, &s6.sin6_addr, host, sizeof(host))
        return (host.decode(), ntohs(s6.sin6_port))
    return None


cdef uint32_t tuple_to_peer(object addr, sockaddr_storage *ss) except 0:
    cdef sockaddr_in *s4 = <sockaddr_in *>ss
    cdef sockaddr_in6 *s6 = <sockaddr_in6 *>ss
    host, port = addr[0], int(addr[1])
    if not 0 <= port <= 65535:
        raise ValueError(f"bad port {port}")
    b = host.encode()
    memset(ss, 0, sizeof(sockaddr_storage))
    if inet_pton(AF_INET, b, &s4.sin_addr) == 1:
        s4.sin_family = AF_INET
        s4.sin_port = htons(port)
        return sizeof(sockaddr_in)
    if inet_pton(AF_INET6, b, &s6.sin6_addr) == 1:
        s6.sin6_family = AF_INET6
        s6.sin6_port = htons(port)
        return sizeof(sockaddr_in6)
    raise ValueError(f"bad address {host!r}")


cdef class Netdev:
    """One open pvboot netdev (tap:NAME, afpacket:IFACE[,fanout=N] or socket:ADDR:PORT)."""

    def __cinit__(self, str spec):
        cdef char err[PVBOOT_ERRLEN]
        cdef pvboot_result_t r
        cdef bytes b = spec.encode()
        cdef const char *cspec = b
        self.nd = NULL
        self.spec = spec
        if b"\0" in b:
            raise NetdevError(f"{spec!r}: bad spec", RESULTS[PVBOOT_EINVAL])
        err[0] = 0
        with nogil:
            r = pvboot_netdev_open(cspec, &self.nd, err, sizeof(err))
        if r != PVBOOT_OK:
            self.nd = NULL
            raise NetdevError(err.decode("utf-8", "replace"), RESULTS.get(r, str(r)))

    def __dealloc__(self):
        if self.nd != NULL:
            pvboot_netdev_close(self.nd)
            self.nd = NULL

    cdef int _check(self) except -1:
        if self.nd == NULL:
            raise NetdevError(f"{self.spec}: closed", RESULTS[PVBOOT_EINVAL])
        return 0

    def close(self):
        """Release the device, its ring and its buffers."""
        if self.nd != NULL:
            pvboot_netdev_close(self.nd)
            self.nd = NULL

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self.nd == NULL

    @property
    def fd(self):
        """The file descriptor pvboot_yield waits on."""
        self._check()
        return pvboot_netdev_fd(self.nd)

    @property
    def info(self):
        """dict(kind, index, mac, mtu, name)."""
        cdef pvboot_netdev_info_t i
        self._check()
        pvboot_netdev_info(self.nd, &i)
        return {"kind": KINDS.get(i.kind, i.kind), "index": i.index,
                "mac": PyBytes_FromStringAndSize(<char *>i.mac, 6), "mtu": i.mtu,
                "name": i.name.decode("utf-8", "replace")}

    @property
    def stats(self):
        """The netdev's counters (pvboot_netdev_stats) as a dict."""
        cdef pvboot_netdev_stats_t s
        self._check()
        pvboot_netdev_stats(self.nd, &s)
        return s

    cdef list _rx(self, unsigned max, int what):
        cdef pvboot_frame frames[PVBOOT_BATCH]
        cdef unsigned n = 0, i
        cdef pvboot_result_t r
        cdef list out = []
        self._check()
        if max > PVBOOT_BATCH:
            max = PVBOOT_BATCH
        r = pvboot_netdev_rx(self.nd, frames, max, &n)
        try:
            if r != PVBOOT_OK and r != PVBOOT_AGAIN:
                raise NetdevError(f"{self.spec}: receive failed", RESULTS.get(r, str(r)))
            for i in range(n):
                data = PyBytes_FromStringAndSize(<const char *>frames[i].data, frames[i].len)
                if what == RX_PEERS:
                    out.append((data, peer_to_tuple(frames[i].peer)
                                if frames[i].peer != NULL else None))
                elif what == RX_FLAGS:
                    out.append((data, frames[i].flags))
                else:
                    out.append(data)
        finally:
            pvboot_netdev_rx_done(self.nd)
        return out

    def recv(self, unsigned max=64):
        """The frames waiting now (at most MAX), copied; [] when none is."""
        return self._rx(max, RX_DATA)

    def recv_flags(self, unsigned max=64):
        """Like recv, as (frame, flags) pairs (FRAME_CSUM_PARTIAL, FRAME_CSUM_VALID)."""
        return self._rx(max, RX_FLAGS)

    def recvfrom(self, unsigned max=64):
        """Like recv, as (payload, (host, port)) pairs: for socket netdevs."""
        return self._rx(max, RX_PEERS)

    cdef int _queue(self, bytes frame, object addr) except -1:
        cdef uint32_t cap = 0, peer_len = 0
        cdef uint8_t *buf
        cdef sockaddr_storage peer
        cdef Py_ssize_t n = PyBytes_GET_SIZE(frame)
        self._check()
        if addr is not None:
            peer_len = tuple_to_peer(addr, &peer)
        buf = pvboot_netdev_tx_buffer(self.nd, &cap)
        if buf == NULL:
            raise NetdevError(f"{self.spec}: transmit queue full (flush first)",
                              RESULTS[PVBOOT_AGAIN])
        if n == 0 or n > cap:
            raise ValueError(f"a frame is 1 to {cap} octets, not {n}")
        memcpy(buf, PyBytes_AS_STRING(frame), n)
        pvboot_netdev_tx_commit(self.nd, <uint32_t>n, &peer if peer_len else NULL, peer_len)
        return 0

    def flush(self):
        """Send every queued frame; return how many the kernel would not take."""
        cdef unsigned dropped = 0
        self._check()
        with nogil:
            pvboot_netdev_tx_flush(self.nd, &dropped)
        return dropped

    def send(self, bytes frame, bint flush=True):
        """Queue FRAME (copied) and, unless flush=False, send the queue; return frames dropped."""
        self._queue(frame, None)
        return self.flush() if flush else 0

    def sendto(self, bytes payload, addr, bint flush=True):
        """Send PAYLOAD to ADDR (host, port): for socket netdevs."""
        self._queue(payload, addr)
        return self.flush() if flush else 0


def monotonic_ns():
    """pvboot's clock: monotonic nanoseconds, the time base of yield_until deadlines."""
    return pvboot_clock_monotonic()


def yield_until(uint64_t deadline):
    """Wait for a netdev or DEADLINE (monotonic ns); return (result name, ready bitmask).

    The first call blocks SIGINT/SIGTERM/SIGUSR1 outside the wait and installs pvboot's
    handlers: call restore_signals() to give them back.
    """
    cdef uint64_t ready = 0
    cdef pvboot_result_t r
    with nogil:
        r = pvboot_yield(deadline, &ready)
    return RESULTS.get(r, str(r)), ready


def take_signal():
    """The signal that arrived during a wait (0 if none), clearing it."""
    return pvboot_signal_take()


def restore_signals():
    """Give back the signal mask and handlers yield_until changed."""
    pvboot_signals_restore()


# -- the launcher's memory, and the seal -------------------------------------------------------

ctypedef void (*mem_stats_fn)(pvboot_mem_stats_t *st) noexcept nogil

cdef struct launch_info_t:
    size_t memory
    int hugepages
    int pid1


class SealError(OSError):
    """The seal was refused (a writable and executable mapping) or could not be applied."""


def seal(bint poweroff=False):
    """Seal the process (pvboot_seal): no new code, no new memory, a short list of system
    calls (with ``poweroff``, also reboot(POWER_OFF): PID 1 of the VM image). Returns how many
    system calls stay allowed; raises SealError."""
    cdef char err[PVBOOT_ERRLEN]
    cdef unsigned allowed = 0
    cdef pvboot_result_t r
    err[0] = 0
    r = pvboot_seal(PVBOOT_SEAL_POWEROFF if poweroff else 0, &allowed, err, sizeof(err))
    if r != PVBOOT_OK:
        raise SealError(err.decode("utf-8", "replace"))
    return allowed


def sealed():
    return bool(pvboot_sealed())


def launched():
    """What appliance-launch reserved, if this process runs under it: dict(memory,
    hugepages), else None (a plain Python process, with the C library's allocator)."""
    cdef launch_info_t *info = <launch_info_t *>dlsym(RTLD_DEFAULT, "pvboot_launch_info")
    if info == NULL:
        return None
    return {"memory": info.memory, "hugepages": bool(info.hugepages), "pid1": bool(info.pid1)}


def mem_stats():
    """The launcher's allocator counters (pvboot_mem_stats), or None outside the launcher."""
    cdef mem_stats_fn fn = <mem_stats_fn>dlsym(RTLD_DEFAULT, "pvboot_mem_stats")
    cdef pvboot_mem_stats_t st
    if fn == NULL:
        return None
    fn(&st)
    return {"reserved": st.reserved, "extents_used": st.extents_used,
            "free_extents": st.free_extents, "in_use": st.in_use, "peak": st.peak,
            "allocations": st.allocations, "frees": st.frees, "failures": st.failures,
            "foreign_frees": st.foreign_frees, "kernel_requests": st.kernel_requests,
            "hugepages": bool(st.hugepages)}
