/*
 * netdev_afpacket.c -- afpacket:IFACE[,fanout=N]: a TPACKET_V3 receive ring mapped into our
 * memory (frames are read in place) and a sendmmsg transmit path that bypasses the qdisc.
 * See Linux Documentation/networking/packet_mmap.rst and packet(7).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ifaddrs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>

#include "pvboot_impl.h"

/*
 * The ring: 2048 blocks of 4 KiB (8 MiB), cut in nominal 2048-octet frames. TPACKET_V3 packs
 * frames back to back inside a block and hands a block to us when it is full or when
 * retire_blk_tov ms have passed since it got its first frame: a query waits in an open block
 * until one or the other. A 4 KiB block holds ~20 DNS-sized frames, so at 50,000 queries/s a
 * block fills in 0.4 ms (measured mean latency 0.37 ms, against 0.64 ms with 8 KiB or
 * 128 KiB blocks, which wait for the 1 ms timer); at low rates the timer bounds the wait.
 * Smaller blocks cost more wakeups (bench/README.md). 2048 blocks hold ~40k frames.
 */
#define RING_BLOCK_SIZE (4u << 10)
#define RING_BLOCK_NR 2048u
#define RING_FRAME_SIZE 2048u
#define RING_RETIRE_TOV_MS 1u

_Static_assert((RING_BLOCK_SIZE & (RING_BLOCK_SIZE - 1)) == 0, "blocks are a power of two");
_Static_assert(RING_BLOCK_SIZE % 4096 == 0, "blocks are whole pages");
_Static_assert(RING_BLOCK_SIZE % RING_FRAME_SIZE == 0, "blocks hold whole frames");
_Static_assert(RING_FRAME_SIZE % TPACKET_ALIGNMENT == 0, "frames are TPACKET-aligned");
_Static_assert(RING_FRAME_SIZE >= TPACKET3_HDRLEN, "a frame holds its header");
/* The packet header layout we read (ABI since Linux 3.2). */
_Static_assert(sizeof(struct tpacket3_hdr) == 48, "tpacket3_hdr is 48 octets");
_Static_assert(offsetof(struct tpacket3_hdr, tp_next_offset) == 0, "tpacket3_hdr layout");
_Static_assert(offsetof(struct tpacket3_hdr, tp_snaplen) == 12, "tpacket3_hdr layout");
_Static_assert(offsetof(struct tpacket3_hdr, tp_len) == 16, "tpacket3_hdr layout");
_Static_assert(offsetof(struct tpacket3_hdr, tp_status) == 20, "tpacket3_hdr layout");
_Static_assert(offsetof(struct tpacket3_hdr, tp_mac) == 24, "tpacket3_hdr layout");
_Static_assert(offsetof(struct tpacket_block_desc, hdr) == 8, "block descriptor layout");
_Static_assert(offsetof(struct tpacket_hdr_v1, block_status) == 0, "block header layout");
_Static_assert(offsetof(struct tpacket_hdr_v1, num_pkts) == 4, "block header layout");
_Static_assert(offsetof(struct tpacket_hdr_v1, offset_to_first_pkt) == 8, "block header layout");
/* Each packet's sockaddr_ll follows its header at this offset (packet_mmap.rst). */
#define PKT_SLL_OFFSET TPACKET_ALIGN(sizeof(struct tpacket3_hdr))

struct afp {
	struct pvboot_netdev nd;
	uint8_t *ring;
	size_t ring_len;
	/* The receive cursor: the block we are in, its packets left, the next packet. */
	unsigned blk;
	unsigned left;
	bool in_block;
	const uint8_t *pkt;
	/* Blocks wholly read by the last rx, from blk_first on: rx_done gives them back. */
	unsigned blk_first;
	unsigned blk_done;
	struct mmsghdr tx_msg[PVBOOT_BATCH];
	struct iovec tx_iov[PVBOOT_BATCH];
};
_Static_assert(offsetof(struct afp, nd) == 0, "an afp is a netdev");

static struct tpacket_block_desc *block(struct afp *a, unsigned i)
{
	return (struct tpacket_block_desc *)(a->ring + (size_t)i * RING_BLOCK_SIZE);
}

/*
 * Hand out the frames of user-owned blocks in order. A batch may end inside a block: the
 * cursor stays there, and the block stays ours until all its frames have been handed out.
 */
static pvboot_result_t afp_rx(pvboot_netdev_t *nd, struct pvboot_frame *frames, unsigned max,
                              unsigned *n)
{
	struct afp *a = (struct afp *)nd;
	unsigned got = 0;

	while (got < max) {
		if (!a->in_block) {
			struct tpacket_block_desc *bd = block(a, a->blk);

			if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
			      TP_STATUS_USER))
				break;
			a->left = bd->hdr.bh1.num_pkts;
			a->pkt = (const uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
			a->in_block = true;
		}
		while (a->left && got < max) {
			const struct tpacket3_hdr *h = (const struct tpacket3_hdr *)a->pkt;
			const struct sockaddr_ll *sll =
				(const struct sockaddr_ll *)(a->pkt + PKT_SLL_OFFSET);

			a->pkt += h->tp_next_offset;
			a->left--;
			/* Another socket's transmission (PACKET_IGNORE_OUTGOING covers most). */
			if (sll->sll_pkttype == PACKET_OUTGOING)
				continue;
			/* A tag the NIC stripped: a VLAN we do not serve. */
			if (h->tp_status & TP_STATUS_VLAN_VALID)
				continue;
			if (h->tp_snaplen != h->tp_len || h->tp_snaplen > PVBOOT_FRAME_MAX) {
				nd->stats.rx_truncated++;
				continue;
			}
			frames[got].data = (const uint8_t *)h + h->tp_mac;
			frames[got].len = h->tp_snaplen;
			frames[got].peer_len = 0;
			frames[got].peer = NULL;
			frames[got].flags = 0;
			if (h->tp_status & TP_STATUS_CSUMNOTREADY) {
				frames[got].flags = PVBOOT_FRAME_CSUM_PARTIAL;
				nd->stats.rx_csum_partial++;
			} else if (h->tp_status & TP_STATUS_CSUM_VALID) {
				frames[got].flags = PVBOOT_FRAME_CSUM_VALID;
			}
			got++;
		}
		if (a->left == 0) {
			a->in_block = false;
			a->blk_done++;
			a->blk = (a->blk + 1) % RING_BLOCK_NR;
		}
	}
	nd->stats.rx_frames += got;
	*n = got;
	return got ? PVBOOT_OK : PVBOOT_AGAIN;
}

static void afp_rx_done(pvboot_netdev_t *nd)
{
	struct afp *a = (struct afp *)nd;

	for (; a->blk_done; a->blk_done--) {
		__atomic_store_n(&block(a, a->blk_first)->hdr.bh1.block_status, TP_STATUS_KERNEL,
		                 __ATOMIC_RELEASE);
		a->blk_first = (a->blk_first + 1) % RING_BLOCK_NR;
	}
}

static unsigned afp_flush(pvboot_netdev_t *nd)
{
	struct afp *a = (struct afp *)nd;

	for (unsigned i = 0; i < nd->tx_n; i++)
		a->tx_iov[i].iov_len = nd->tx_len[i];
	return pvb_send_batch(nd->fd, a->tx_msg, nd->tx_n);
}

static void afp_close(pvboot_netdev_t *nd)
{
	struct afp *a = (struct afp *)nd;

	if (a->ring)
		munmap(a->ring, a->ring_len);
	a->ring = NULL;
}

static const struct pvb_ops afp_ops = {
	.rx = afp_rx,
	.rx_done = afp_rx_done,
	.flush = afp_flush,
	.close = afp_close,
};

/* "IFACE[,fanout=N]" into IFNAME and *FANOUT (-1 without). */
static int parse_args(const char *args, char *ifname, long *fanout, struct pvb_err *e,
                      pvboot_result_t *r)
{
	const char *comma = strchr(args, ',');
	size_t len = comma ? (size_t)(comma - args) : strlen(args);

	*fanout = -1;
	if (len == 0 || len >= IFNAMSIZ) {
		*r = pvb_fail(e, PVBOOT_EINVAL, "bad interface name (1 to %d characters)",
		              IFNAMSIZ - 1);
		return -1;
	}
	memcpy(ifname, args, len);
	ifname[len] = '\0';
	if (pvb_check_ifname(ifname) < 0) {
		*r = pvb_fail(e, PVBOOT_EINVAL, "bad interface name");
		return -1;
	}
	if (comma) {
		const char *opt = comma + 1;
		char *end;

		if (strncmp(opt, "fanout=", 7) != 0) {
			*r = pvb_fail(e, PVBOOT_EINVAL, "unknown option (expected fanout=N)");
			return -1;
		}
		errno = 0;
		*fanout = strtol(opt + 7, &end, 10);
		if (end == opt + 7 || *end || errno || *fanout < 0 || *fanout > 0xffff) {
			*r = pvb_fail(e, PVBOOT_EINVAL, "fanout=N needs a group id from 0 to 65535");
			return -1;
		}
	}
	return 0;
}

/*
 * Our stack answers ARP and owns the address: if the kernel also had an IPv4 address here it
 * would answer ARP, ICMP and UDP for it too. Return 1 (and the address) if it has one.
 */
static int kernel_ipv4(const char *ifname, char *addr, size_t addrlen)
{
	struct ifaddrs *all, *ifa;
	size_t n = strlen(ifname);
	int found = 0;

	if (getifaddrs(&all) < 0)
		return 0;
	for (ifa = all; ifa && !found; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET)
			continue;
		/* Addresses with a label ("eth0:1") are listed under the label. */
		if (strncmp(ifa->ifa_name, ifname, n) != 0 ||
		    (ifa->ifa_name[n] != '\0' && ifa->ifa_name[n] != ':'))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, addr,
		          (socklen_t)addrlen);
		found = 1;
	}
	freeifaddrs(all);
	return found;
}

static pvboot_result_t setup_ring(struct afp *a, struct pvb_err *e)
{
	int fd = a->nd.fd, v = TPACKET_V3;
	struct tpacket_req3 req = {
		.tp_block_size = RING_BLOCK_SIZE,
		.tp_block_nr = RING_BLOCK_NR,
		.tp_frame_size = RING_FRAME_SIZE,
		.tp_frame_nr = RING_BLOCK_SIZE / RING_FRAME_SIZE * RING_BLOCK_NR,
		.tp_retire_blk_tov = RING_RETIRE_TOV_MS,
		.tp_sizeof_priv = 0,
		.tp_feature_req_word = 0,
	};
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0 || RING_BLOCK_SIZE % (unsigned long)page)
		return pvb_fail(e, PVBOOT_EUNSPEC, "page size %ld does not divide the ring block",
		                page);
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0)
		return pvb_fail(e, PVBOOT_EUNSPEC, "PACKET_VERSION TPACKET_V3: %s", strerror(errno));
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0)
		return pvb_fail(e, PVBOOT_EUNSPEC, "PACKET_RX_RING (%u x %u KiB): %s",
		                RING_BLOCK_NR, RING_BLOCK_SIZE >> 10, strerror(errno));
	a->ring_len = (size_t)RING_BLOCK_SIZE * RING_BLOCK_NR;
	a->ring = mmap(NULL, a->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (a->ring == MAP_FAILED) {
		a->ring = NULL;
		return pvb_fail(e, PVBOOT_EUNSPEC, "mmap of the receive ring: %s", strerror(errno));
	}
	return PVBOOT_OK;
}

static pvboot_result_t setup_socket(struct afp *a, int ifindex, long fanout, struct pvb_err *e)
{
	int fd = a->nd.fd, one = 1, sndbuf = 4 << 20;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};

	/* Straight to the driver: our frames are final and our stack does its own queueing. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)
		return pvb_fail(e, PVBOOT_EUNSPEC, "PACKET_QDISC_BYPASS: %s", strerror(errno));
	/* Keep other sockets' transmissions out of the ring (Linux 4.20+; rx also checks). */
	(void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
		if (errno == ENODEV)
			return pvb_fail(e, PVBOOT_ENODEV, "no such interface");
		return pvb_fail(e, pvb_result_of_errno(errno), "bind: %s", strerror(errno));
	}
	/*
	 * Frames that arrive between bind and joining the group come to us alone; once joined,
	 * the kernel hashes each flow to one member of group N.
	 */
	if (fanout >= 0) {
		int arg = (int)fanout | (PACKET_FANOUT_HASH << 16);

		if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0)
			return pvb_fail(e, pvb_result_of_errno(errno), "cannot join fanout group %ld: "
			                "%s", fanout, strerror(errno));
	}
	/* Unaddressed messages go out of the bound interface. */
	for (unsigned i = 0; i < PVBOOT_BATCH; i++) {
		a->tx_iov[i].iov_base = a->nd.tx_buf[i] + PVB_ALIGN_PAD;
		a->tx_msg[i].msg_hdr.msg_iov = &a->tx_iov[i];
		a->tx_msg[i].msg_hdr.msg_iovlen = 1;
	}
	return PVBOOT_OK;
}

pvboot_result_t pvb_afpacket_open(const char *args, pvboot_netdev_t **out, struct pvb_err *e)
{
	char ifname[IFNAMSIZ], addr[INET_ADDRSTRLEN];
	pvboot_result_t r;
	struct afp *a;
	long fanout;
	int fd, ifindex;

	if (parse_args(args, ifname, &fanout, e, &r) < 0)
		return r;
	/* Errors about the device name it as "afpacket:IFACE", whatever the options. */
	snprintf(e->prefix, sizeof e->prefix, "afpacket:%s", ifname);

	/*
	 * Protocol 0: the socket receives nothing until bind() names the interface, so no frame
	 * from another interface lands in the ring first.
	 */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == EPERM || errno == EACCES)
			return pvb_fail(e, PVBOOT_EPERM, "permission denied (needs root or "
			                "CAP_NET_RAW)");
		return pvb_fail(e, PVBOOT_EUNSPEC, "socket(AF_PACKET): %s", strerror(errno));
	}
	ifindex = (int)if_nametoindex(ifname);
	if (ifindex == 0) {
		close(fd);
		return pvb_fail(e, PVBOOT_ENODEV, "no such interface");
	}
	if (kernel_ipv4(ifname, addr, sizeof addr)) {
		close(fd);
		return pvb_fail(e, PVBOOT_EADDR, "the interface has the kernel address %s; our stack "
		                "must own the address: remove it (ip addr flush dev %s)", addr, ifname);
	}

	a = pvb_netdev_alloc(sizeof *a, &afp_ops, PVBOOT_NETDEV_AFPACKET, e, &r);
	if (!a) {
		close(fd);
		return r;
	}
	a->nd.fd = fd;
	r = pvb_link_setup(ifname, &a->nd, e);
	if (r == PVBOOT_OK)
		r = setup_ring(a, e);
	if (r == PVBOOT_OK)
		r = setup_socket(a, ifindex, fanout, e);
	if (r != PVBOOT_OK) {
		afp_close(&a->nd);
		close(fd);
		pvb_netdev_free(&a->nd);
		return r;
	}
	*out = &a->nd;
	return PVBOOT_OK;
}
