/*
 * pvboot.h -- the one public interface between the appliance and the platform.
 *
 * In the spirit of Solo5's bindings: a few calls with a contract each, one result enum,
 * non-blocking I/O that returns PVBOOT_AGAIN, and one call to wait (pvboot_yield).
 *
 * Netdevs are opened from a spec string:
 *   tap:NAME                  a TAP device (/dev/net/tun, IFF_TAP|IFF_NO_PI), created if absent
 *   afpacket:IFACE[,fanout=N] AF_PACKET on IFACE: TPACKET_V3 receive ring, sendmmsg transmit,
 *                             PACKET_QDISC_BYPASS; with fanout=N, joins PACKET_FANOUT group N
 *   socket:ADDR:PORT          a kernel UDP socket (the socket stack); ADDR may be [v6]
 * Ethernet netdevs (tap, afpacket) carry whole Ethernet II frames. A socket netdev carries UDP
 * payloads; each frame's peer address travels in pvboot_frame.peer.
 *
 * Threading: a netdev belongs to one thread. No call allocates after pvboot_netdev_open.
 */
#ifndef PVBOOT_H
#define PVBOOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum {
	PVBOOT_OK = 0,
	PVBOOT_AGAIN = 1,      /* nothing to do now: no frame, no room; try after pvboot_yield */
	PVBOOT_EINVAL = 2,     /* a bad argument or spec */
	PVBOOT_EPERM = 3,      /* not allowed: needs CAP_NET_RAW / CAP_NET_ADMIN (root) */
	PVBOOT_ENODEV = 4,     /* no such interface */
	PVBOOT_EBUSY = 5,      /* the device is in use (e.g. a TAP another process holds) */
	PVBOOT_EADDR = 6,      /* the interface carries a kernel address, or the address is in use */
	PVBOOT_EUNSPEC = 7     /* anything else; the error text says what */
} pvboot_result_t;

enum { PVBOOT_NETDEV_TAP = 1, PVBOOT_NETDEV_AFPACKET = 2, PVBOOT_NETDEV_SOCKET = 3 };

#define PVBOOT_MAX_NETDEVS 8
#define PVBOOT_BATCH 64            /* most frames one rx call returns, most queued for tx */
#define PVBOOT_FRAME_MAX 2048      /* room in each transmit buffer */
#define PVBOOT_ERRLEN 160

typedef struct pvboot_netdev pvboot_netdev_t;

struct pvboot_netdev_info {
	int kind;                  /* PVBOOT_NETDEV_* */
	int index;                 /* its bit in pvboot_yield's ready set */
	uint8_t mac[6];            /* the interface's MAC (zero for a socket netdev) */
	uint16_t mtu;              /* the largest frame payload (1500 typically) */
	char name[32];             /* the interface name, or ADDR:PORT */
};

/* A received frame: a pointer into the receive ring (no copy) and its length. */
struct pvboot_frame {
	const uint8_t *data;
	uint32_t len;
	uint32_t peer_len;         /* socket netdevs: length of peer, else 0 */
	struct sockaddr_storage *peer;  /* socket netdevs: who sent it (reply goes there) */
	uint32_t flags;            /* PVBOOT_FRAME_* */
};

/*
 * The frame was sent by this host with its L4 (UDP/TCP) checksum left to offload
 * (CHECKSUM_PARTIAL, e.g. a kernel socket in a namespace behind a veth): the checksum field is
 * not final and MUST NOT be verified; the data is intact. (afpacket, TP_STATUS_CSUMNOTREADY)
 */
#define PVBOOT_FRAME_CSUM_PARTIAL 0x1u
/* The kernel or the NIC has verified the L4 checksum (afpacket, TP_STATUS_CSUM_VALID). */
#define PVBOOT_FRAME_CSUM_VALID 0x2u

/*
 * Open a netdev from SPEC. On success *out is set and PVBOOT_OK returned. On failure a result
 * other than OK is returned and ERR (ERRLEN bytes) holds one line saying what is wrong, naming
 * the device ("afpacket:veth1: no such interface", "tap:t0: permission denied (needs root)").
 * MUST be called before pvboot_yield; MAY be called up to PVBOOT_MAX_NETDEVS times.
 */
pvboot_result_t pvboot_netdev_open(const char *spec, pvboot_netdev_t **out,
                                   char *err, size_t errlen);

/* Close a netdev and release its ring and buffers. */
void pvboot_netdev_close(pvboot_netdev_t *nd);

/* Fill INFO with the netdev's kind, index, MAC, MTU and name. */
void pvboot_netdev_info(pvboot_netdev_t *nd, struct pvboot_netdev_info *info);

/*
 * Receive up to MAX (<= PVBOOT_BATCH) frames into FRAMES; *N is set to how many.
 * Returns PVBOOT_AGAIN with *N = 0 when none is waiting. The frames MUST be treated as
 * read-only and stay valid until pvboot_netdev_rx_done, which MUST be called before the next
 * pvboot_netdev_rx on the same netdev (it hands the ring slots back to the kernel).
 * A TAP netdev is read until it would block or MAX frames are in hand.
 */
pvboot_result_t pvboot_netdev_rx(pvboot_netdev_t *nd, struct pvboot_frame *frames,
                                 unsigned max, unsigned *n);
void pvboot_netdev_rx_done(pvboot_netdev_t *nd);

/*
 * Transmit in place: pvboot_netdev_tx_buffer returns room for one frame (*CAP octets, at least
 * the MTU plus the link header) or NULL when PVBOOT_BATCH frames are already queued.
 * The caller writes the frame there and queues it with pvboot_netdev_tx_commit(LEN), or drops
 * the buffer by not committing (the next tx_buffer call returns the same room). PEER is used
 * by socket netdevs only (the address to send the datagram to) and may be NULL otherwise.
 * pvboot_netdev_tx_flush sends every queued frame in one batch (sendmmsg, or one write per
 * frame on TAP); frames the kernel will not take are counted in *dropped (may be NULL).
 */
uint8_t *pvboot_netdev_tx_buffer(pvboot_netdev_t *nd, uint32_t *cap);
void pvboot_netdev_tx_commit(pvboot_netdev_t *nd, uint32_t len,
                             const struct sockaddr_storage *peer, uint32_t peer_len);
pvboot_result_t pvboot_netdev_tx_flush(pvboot_netdev_t *nd, unsigned *dropped);

/* The file descriptor pvboot_yield waits on (for tests and diagnostics only). */
int pvboot_netdev_fd(pvboot_netdev_t *nd);

/* Counters since open; every frame pvboot does not hand over or send is counted once. */
struct pvboot_netdev_stats {
	uint64_t rx_frames;        /* frames handed to the caller by pvboot_netdev_rx */
	uint64_t rx_truncated;     /* longer than PVBOOT_FRAME_MAX (socket: MSG_TRUNC); skipped */
	uint64_t rx_dropped;       /* dropped by the kernel before we saw them (ring or buffer full;
	                              afpacket and socket only) */
	uint64_t rx_csum_partial;  /* frames handed over with PVBOOT_FRAME_CSUM_PARTIAL */
	uint64_t tx_frames;        /* frames the kernel took at pvboot_netdev_tx_flush */
	uint64_t tx_dropped;       /* frames it would not take (and socket commits with no peer) */
	uint64_t errors;           /* socket errors (SO_ERROR) pvboot_yield cleared */
};

/* Fill STATS with the netdev's counters (MAY make a system call: not for the per-frame path). */
void pvboot_netdev_stats(pvboot_netdev_t *nd, struct pvboot_netdev_stats *stats);

/*
 * Wait until a netdev has frames or DEADLINE (pvboot_clock_monotonic time, ns) passes, with
 * SIGINT, SIGTERM and SIGUSR1 let through only while waiting (they are blocked otherwise, so
 * one can never be lost between a check and the wait). *READY gets bit (1 << index) set for
 * each netdev with frames waiting. Returns PVBOOT_OK when something is ready, PVBOOT_AGAIN on
 * timeout or when a signal arrived (see pvboot_signal_take).
 * The first call blocks the three signals for the calling thread and installs handlers.
 */
pvboot_result_t pvboot_yield(uint64_t deadline, uint64_t *ready);

/* The signal that arrived since the last call (0 if none), clearing it. */
int pvboot_signal_take(void);

/* Restore the signal mask and handlers pvboot_yield changed. */
void pvboot_signals_restore(void);

/* Monotonic time in nanoseconds. */
uint64_t pvboot_clock_monotonic(void);

/*
 * Memory (mem.c, linked into the launcher): one region reserved at boot and cut in 2 MiB
 * extents (hugepages where the kernel has them), slabs for small objects, free lists for the
 * rest. The launcher installs these as CPython's allocators before the interpreter starts.
 * Nothing is asked of the kernel after pvboot_mem_reserve: when the region is spent an
 * allocation returns NULL and is counted in failures.
 */
struct pvboot_mem_stats {
	size_t reserved;           /* octets in the region */
	size_t extents_used;       /* 2 MiB extents handed out */
	size_t free_extents;       /* extents never handed out yet */
	size_t in_use;             /* octets in blocks handed out and not freed */
	size_t peak;
	uint64_t allocations;
	uint64_t frees;
	uint64_t failures;         /* allocations refused: the region was spent */
	uint64_t foreign_frees;    /* frees of memory the region never handed out (ignored) */
	uint64_t kernel_requests;  /* mmap calls for memory: 1, the reservation, ever */
	int hugepages;             /* 1 if the region is hugetlb pages */
};

pvboot_result_t pvboot_mem_reserve(size_t bytes, char *err, size_t errlen);
void *pvboot_mem_alloc(size_t size);
void *pvboot_mem_calloc(size_t n, size_t size);
void *pvboot_mem_realloc(void *p, size_t size);
void pvboot_mem_free(void *p);
void pvboot_mem_stats(struct pvboot_mem_stats *st);
int pvboot_mem_owns(const void *p);

/*
 * The seal (seal.c): the Linux analogue of the paper's seal hypercall. Refuses (EINVAL, one
 * line in ERR naming the mapping) if any mapping is writable and executable; then locks
 * memory (mlockall), sets no_new_privs and installs a seccomp-bpf filter that allows only the
 * system calls the serving loop makes (listed in seal.c with the reason for each), refuses
 * mmap/mprotect/brk without PROT_EXEC (EPERM: no new memory) and kills the process on
 * mmap/mprotect with PROT_EXEC and on any other call. It MUST be called after the image is
 * open and the netdevs are up; nothing can undo it. *ALLOWED gets the number of system calls
 * the filter lets through (may be NULL). FLAGS: PVBOOT_SEAL_POWEROFF or 0.
 */
pvboot_result_t pvboot_seal(unsigned flags, unsigned *allowed, char *err, size_t errlen);
#define PVBOOT_SEAL_POWEROFF 0x1u  /* also allow reboot(POWER_OFF): PID 1 of the VM image */

/* 1 once pvboot_seal has succeeded in this process. */
int pvboot_sealed(void);

#endif /* PVBOOT_H */
