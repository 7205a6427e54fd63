# cython: language_level=3
"""The socket stack: the engine behind a kernel UDP socket, through pvboot's socket netdev.

The same loop shape as the direct stack (netstack.stack): pvboot_yield until datagrams or a
signal, a batch in with recvmmsg, each one answered into a transmit buffer, the batch out with
sendmmsg, all without the GIL or a Python object per query.
"""

from libc.signal cimport SIGUSR1
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdio cimport snprintf
from posix.unistd cimport write

from appliance.engine cimport ENGINE_DROP, TRANSPORT_UDP, Engine, engine_answer
from pvboot.netdev cimport (Netdev, clock_ns, nd_rx, nd_rx_done, nd_tx_buffer,
                            nd_tx_commit, nd_tx_flush, run_report, signal_take,
                            yield_ns)
from pvboot.pvboot cimport PVBOOT_BATCH, PVBOOT_OK, pvboot_frame, pvboot_netdev_t


cdef enum:
    FOREVER = 0xFFFFFFFFFFFFFFFF


cdef class SocketServer:
    """Serve one engine on a socket netdev (``socket:ADDR:PORT``)."""

    cdef Engine engine
    cdef Netdev netdev
    cdef public uint64_t tx_dropped
    cdef public uint64_t no_buffer

    def __init__(self, Engine engine, Netdev netdev):
        self.engine = engine
        self.netdev = netdev

    def serve(self, on_signal=None, double report_every=0):
        """Answer until SIGINT or SIGTERM; return the signal number.

        ``on_signal(signum)`` is called (with the GIL) when SIGUSR1 arrives, and every
        ``report_every`` seconds if that is not 0.
        """
        cdef uint64_t report_ns = <uint64_t>(report_every * 1e9)
        cdef uint64_t next_report = clock_ns() + report_ns if report_ns else FOREVER
        cdef pvboot_netdev_t *nd = self.netdev.nd
        cdef pvboot_frame frames[PVBOOT_BATCH]
        cdef unsigned n = 0
        cdef unsigned i, dropped = 0
        cdef uint32_t cap
        cdef uint64_t ready = 0
        cdef uint8_t *buf
        cdef int r, sig = 0
        if nd == NULL:
            raise ValueError("the netdev is closed")
        while True:
            with nogil:
                while True:
                    yield_ns(next_report, &ready)
                    sig = signal_take()
                    if sig != 0:
                        break
                    if report_ns and clock_ns() >= next_report:
                        next_report = clock_ns() + report_ns
                        sig = SIGUSR1
                        break
                    while nd_rx(nd, frames, PVBOOT_BATCH, &n) == PVBOOT_OK:
                        for i in range(n):
                            buf = nd_tx_buffer(nd, &cap)
                            if buf == NULL:
                                self.no_buffer += 1
                                continue
                            r = engine_answer(&self.engine.table, frames[i].data, frames[i].len,
                                              buf, cap, TRANSPORT_UDP, &self.engine.counts)
                            if r != ENGINE_DROP:
                                nd_tx_commit(nd, r, frames[i].peer, frames[i].peer_len)
                        nd_rx_done(nd)
                        nd_tx_flush(nd, &dropped)
                        self.tx_dropped += dropped
            if sig == SIGUSR1:
                if not run_report(on_signal, sig):
                    self.write_counters(1)         # the region is spent: no Python objects
                continue
            return sig

    cpdef write_counters(self, int fd):
        """The engine's counters as one line on ``fd``, formatted in C (works when the memory
        region is spent and no Python object can be made)."""
        cdef char buf[512]
        cdef int n = snprintf(buf, sizeof(buf),
                              b"counters: queries=%llu truncated=%llu drop_short=%llu "
                              b"drop_response=%llu tx_dropped=%llu\n",
                              <unsigned long long>self.engine.counts.queries,
                              <unsigned long long>self.engine.counts.truncated,
                              <unsigned long long>self.engine.counts.drop_short,
                              <unsigned long long>self.engine.counts.drop_response,
                              <unsigned long long>self.tx_dropped)
        write(fd, buf, n)
