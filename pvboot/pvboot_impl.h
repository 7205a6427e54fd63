/*
 * pvboot_impl.h -- what the netdev kinds share inside pvboot (not part of the public API).
 *
 * A netdev is one anonymous mapping made at open: the common part (struct pvboot_netdev, with
 * the transmit queue every kind uses) first, then whatever its kind needs after it. Each kind
 * supplies a small vtable; pvboot_netdev_tx_buffer/commit never go through it.
 */
#ifndef PVBOOT_IMPL_H
#define PVBOOT_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pvboot.h"

#define PVB_HIDDEN __attribute__((visibility("hidden")))

/*
 * Buffers pvboot owns (tap rx, every tx queue, socket rx) are slots of PVB_SLOT octets; a frame
 * starts PVB_ALIGN_PAD octets in, so that behind a 14-octet Ethernet header the IP header sits
 * on a 4-octet boundary (the kernel's NET_IP_ALIGN).
 */
#define PVB_ALIGN_PAD 2
#define PVB_SLOT (PVBOOT_FRAME_MAX + 64)
_Static_assert(PVB_SLOT % 64 == 0, "buffer slots are whole cache lines");
_Static_assert(PVB_SLOT >= PVBOOT_FRAME_MAX + PVB_ALIGN_PAD, "a slot holds a whole frame");
_Static_assert(PVBOOT_MAX_NETDEVS <= 64, "the ready set is a 64-bit mask");
_Static_assert(PVBOOT_BATCH <= 1024, "sendmmsg/recvmmsg take at most UIO_MAXIOV messages");

/* The largest MTU a netdev may have: a full Ethernet frame must fit in PVBOOT_FRAME_MAX. */
#define PVB_ETH_HLEN 14
#define PVB_MTU_MAX (PVBOOT_FRAME_MAX - PVB_ETH_HLEN)

/* Where an open failure is described: "PREFIX: message", one line, ERRLEN at most. */
struct pvb_err {
	char *buf;
	size_t len;
	char prefix[64];
};

struct pvb_ops {
	pvboot_result_t (*rx)(pvboot_netdev_t *nd, struct pvboot_frame *frames, unsigned max,
	                      unsigned *n);
	void (*rx_done)(pvboot_netdev_t *nd);
	/* Send nd->tx_n queued frames; return how many the kernel would not take. */
	unsigned (*flush)(pvboot_netdev_t *nd);
	/* Release what the kind holds besides nd->fd and the mapping (e.g. the ring). */
	void (*close)(pvboot_netdev_t *nd);
};

struct pvboot_netdev {
	const struct pvb_ops *ops;
	int kind;
	int index;                 /* slot in the netdev table; bit in the ready set */
	int fd;
	uint8_t mac[6];
	uint16_t mtu;
	char name[32];
	size_t map_len;            /* the whole mapping this netdev lives in */
	struct pvboot_netdev_stats stats;

	/* The transmit queue: tx_n frames committed, tx_buf[tx_n] is the next one offered. */
	unsigned tx_n;
	uint32_t tx_len[PVBOOT_BATCH];
	uint32_t tx_peer_len[PVBOOT_BATCH];
	struct sockaddr_storage tx_peer[PVBOOT_BATCH];
	_Alignas(64) uint8_t tx_buf[PVBOOT_BATCH][PVB_SLOT];
};

/* netdev.c: the table, allocation and errors. */
PVB_HIDDEN void *pvb_netdev_alloc(size_t size, const struct pvb_ops *ops, int kind,
                                  struct pvb_err *e, pvboot_result_t *r);
PVB_HIDDEN void pvb_netdev_free(pvboot_netdev_t *nd);
PVB_HIDDEN pvboot_result_t pvb_fail(struct pvb_err *e, pvboot_result_t r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
PVB_HIDDEN pvboot_result_t pvb_result_of_errno(int err);
PVB_HIDDEN int pvb_check_ifname(const char *name);
PVB_HIDDEN void pvb_refresh_drops(pvboot_netdev_t *nd);
struct mmsghdr;
PVB_HIDDEN unsigned pvb_send_batch(int fd, struct mmsghdr *msgs, unsigned n);

/* netdev_link.c: what an Ethernet netdev asks of its kernel interface. */
PVB_HIDDEN pvboot_result_t pvb_link_setup(const char *ifname, pvboot_netdev_t *nd,
                                          struct pvb_err *e);

/* The kinds. NAME/ARGS is the spec after "kind:". */
PVB_HIDDEN pvboot_result_t pvb_tap_open(const char *args, pvboot_netdev_t **out,
                                        struct pvb_err *e);
PVB_HIDDEN pvboot_result_t pvb_afpacket_open(const char *args, pvboot_netdev_t **out,
                                             struct pvb_err *e);
PVB_HIDDEN pvboot_result_t pvb_socket_open(const char *args, pvboot_netdev_t **out,
                                           struct pvb_err *e);

/* yield.c: the epoll set pvboot_yield waits on. */
PVB_HIDDEN int pvb_poll_add(int fd, int index);
PVB_HIDDEN void pvb_poll_del(int fd);
PVB_HIDDEN pvboot_netdev_t *pvb_netdev_at(int index);

#endif /* PVBOOT_IMPL_H */
