# cython: language_level=3
"""The socket stack: the engine behind a kernel UDP socket, batched with recvmmsg/sendmmsg.

The loop runs without the GIL. SIGINT, SIGTERM and SIGUSR1 are blocked while it works and
unblocked only inside ppoll(), so a signal is never lost between a check and a wait (the same
shape as pvboot's yield). SIGUSR1 asks for the counters; SIGINT/SIGTERM stop the loop.
"""

from libc.errno cimport EAGAIN, EINTR, errno
from libc.signal cimport SIGINT, SIGTERM, SIGUSR1
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memset
from posix.signal cimport (SIG_BLOCK, SIG_SETMASK, sigaction, sigaction_t, sigaddset,
                           sigemptyset, sigprocmask, sigset_t)

from .engine cimport ENGINE_DROP, TRANSPORT_UDP, Engine, engine_answer


cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    enum: POLLIN
    int ppoll(pollfd *fds, unsigned long nfds, const void *tmo, const sigset_t *sigmask)

cdef extern from "<sys/socket.h>" nogil:
    struct sockaddr_storage:
        pass
    struct iovec:
        void *iov_base
        size_t iov_len
    struct msghdr:
        void *msg_name
        unsigned int msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    enum: MSG_DONTWAIT
    enum: MSG_TRUNC
    int recvmmsg(int fd, mmsghdr *vec, unsigned int vlen, int flags, void *timeout)
    int sendmmsg(int fd, mmsghdr *vec, unsigned int vlen, int flags)


cdef enum:
    BATCH = 64
    RX_SIZE = 4096           # larger queries are truncated by the kernel and dropped
    TX_SIZE = 1280           # 1232 + our OPT, rounded: the largest UDP answer we send


cdef volatile int stop_signal = 0
cdef volatile int dump_signal = 0


cdef void on_signal(int signum) noexcept nogil:
    global stop_signal, dump_signal
    if signum == SIGUSR1:
        dump_signal = 1
    else:
        stop_signal = signum


cdef class UDPServer:
    """Serve one engine on one bound, non-blocking UDP socket (IPv4 or IPv6)."""

    cdef Engine engine
    cdef int fd
    cdef mmsghdr rx[BATCH]
    cdef mmsghdr tx[BATCH]
    cdef iovec rx_iov[BATCH]
    cdef iovec tx_iov[BATCH]
    cdef sockaddr_storage addrs[BATCH]
    cdef uint8_t rx_buf[BATCH][RX_SIZE]
    cdef uint8_t tx_buf[BATCH][TX_SIZE]
    cdef public uint64_t drop_truncated_query
    cdef public uint64_t send_errors

    def __init__(self, Engine engine, int fd):
        cdef int i
        self.engine = engine
        self.fd = fd
        memset(self.rx, 0, sizeof(self.rx))
        memset(self.tx, 0, sizeof(self.tx))
        for i in range(BATCH):
            self.rx_iov[i].iov_base = self.rx_buf[i]
            self.rx_iov[i].iov_len = RX_SIZE
            self.rx[i].msg_hdr.msg_iov = &self.rx_iov[i]
            self.rx[i].msg_hdr.msg_iovlen = 1
            self.rx[i].msg_hdr.msg_name = &self.addrs[i]
            self.tx_iov[i].iov_base = self.tx_buf[i]
            self.tx[i].msg_hdr.msg_iov = &self.tx_iov[i]
            self.tx[i].msg_hdr.msg_iovlen = 1

    def serve(self, on_dump=None):
        """Answer until SIGINT or SIGTERM; return the signal number that stopped it.

        ``on_dump`` is called (with the GIL) when SIGUSR1 arrives.
        """
        global stop_signal, dump_signal
        cdef sigset_t block, old
        cdef sigaction_t act, old_int, old_term, old_usr1
        cdef int n, i, k, r, sent
        cdef pollfd pfd
        memset(&act, 0, sizeof(act))
        act.sa_handler = on_signal
        sigemptyset(&act.sa_mask)
        sigemptyset(&block)
        sigaddset(&block, SIGINT)
        sigaddset(&block, SIGTERM)
        sigaddset(&block, SIGUSR1)
        stop_signal = 0
        dump_signal = 0
        sigprocmask(SIG_BLOCK, &block, &old)
        sigaction(SIGINT, &act, &old_int)
        sigaction(SIGTERM, &act, &old_term)
        sigaction(SIGUSR1, &act, &old_usr1)
        pfd.fd = self.fd
        pfd.events = POLLIN
        try:
            while True:
                with nogil:
                    while stop_signal == 0 and dump_signal == 0:
                        for i in range(BATCH):
                            self.rx[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage)
                            self.rx[i].msg_hdr.msg_flags = 0
                        n = recvmmsg(self.fd, self.rx, BATCH, MSG_DONTWAIT, NULL)
                        if n <= 0:
                            if n < 0 and errno != EAGAIN and errno != EINTR:
                                break
                            # wait for traffic with the signals let through (domainpoll)
                            ppoll(&pfd, 1, NULL, &old)
                            continue
                        k = 0
                        for i in range(n):
                            if self.rx[i].msg_hdr.msg_flags & MSG_TRUNC:
                                self.drop_truncated_query += 1
                                continue
                            r = engine_answer(&self.engine.table, self.rx_buf[i],
                                              self.rx[i].msg_len, self.tx_buf[k], TX_SIZE,
                                              TRANSPORT_UDP, &self.engine.counts)
                            if r == ENGINE_DROP:
                                continue
                            self.tx_iov[k].iov_len = r
                            self.tx[k].msg_hdr.msg_name = &self.addrs[i]
                            self.tx[k].msg_hdr.msg_namelen = self.rx[i].msg_hdr.msg_namelen
                            k += 1
                        i = 0
                        while i < k:
                            sent = sendmmsg(self.fd, &self.tx[i], k - i, 0)
                            if sent <= 0:
                                if sent < 0 and errno == EINTR:
                                    continue
                                # a full send buffer: these answers are lost, count them
                                self.send_errors += k - i
                                break
                            i += sent
                if dump_signal:
                    dump_signal = 0
                    if on_dump is not None:
                        on_dump()
                    continue
                if stop_signal:
                    return stop_signal
                raise OSError(errno, "recvmmsg failed")
        finally:
            sigaction(SIGINT, &old_int, NULL)
            sigaction(SIGTERM, &old_term, NULL)
            sigaction(SIGUSR1, &old_usr1, NULL)
            sigprocmask(SIG_SETMASK, &old, NULL)
