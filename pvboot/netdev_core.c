/*
 * netdev_core.c -- the netdev table: spec parsing, open/close, dispatch, the transmit queue.
 *
 * (Not netdev.c: Cython writes the binding pvboot/netdev.pyx out as pvboot/netdev.c.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h>
#include <net/if.h>

#include "pvboot_impl.h"

/* The frame descriptor other extensions index by the array (pvboot.pxd mirrors it). */
_Static_assert(sizeof(struct pvboot_frame) == 32, "struct pvboot_frame is 32 octets");
_Static_assert(offsetof(struct pvboot_frame, flags) == 24, "pvboot_frame layout");

static pvboot_netdev_t *table[PVBOOT_MAX_NETDEVS];

pvboot_netdev_t *pvb_netdev_at(int index)
{
	return (index >= 0 && index < PVBOOT_MAX_NETDEVS) ? table[index] : NULL;
}

/* Copy S into DST for an error line: at most MAX characters, control characters as '?'. */
static void copy_printable(char *dst, size_t dstlen, const char *s, size_t max)
{
	size_t i = 0;

	for (; s[i] && i < max && i + 1 < dstlen; i++)
		dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i] && i + 4 < dstlen && i == max) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

pvboot_result_t pvb_fail(struct pvb_err *e, pvboot_result_t r, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (!e->buf || !e->len)
		return r;
	k = snprintf(e->buf, e->len, "%s: ", e->prefix);
	if (k >= 0 && (size_t)k < e->len) {
		va_start(ap, fmt);
		vsnprintf(e->buf + k, e->len - (size_t)k, fmt, ap);
		va_end(ap);
	}
	/* One line, whatever strerror() or the caller said. */
	for (char *p = e->buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return r;
}

pvboot_result_t pvb_result_of_errno(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return PVBOOT_EPERM;
	case ENODEV:
	case ENXIO:
		return PVBOOT_ENODEV;
	case EBUSY:
		return PVBOOT_EBUSY;
	case EADDRINUSE:
	case EADDRNOTAVAIL:
		return PVBOOT_EADDR;
	case EINVAL:
		return PVBOOT_EINVAL;
	default:
		return PVBOOT_EUNSPEC;
	}
}

/* 0 if NAME can be a Linux interface name (what dev_valid_name() accepts), -1 if not. */
int pvb_check_ifname(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == ':' || name[i] == ',' ||
		    (unsigned char)name[i] <= ' ' || name[i] == 0x7f)
			return -1;
	return 0;
}

/*
 * Map SIZE octets for a netdev, zeroed and faulted in now (MAP_POPULATE) so that nothing is
 * allocated or faulted after open, and put it in the first free slot of the table.
 */
void *pvb_netdev_alloc(size_t size, const struct pvb_ops *ops, int kind, struct pvb_err *e,
                       pvboot_result_t *r)
{
	pvboot_netdev_t *nd;
	int index = -1;

	for (int i = 0; i < PVBOOT_MAX_NETDEVS; i++)
		if (!table[i]) {
			index = i;
			break;
		}
	if (index < 0) {
		*r = pvb_fail(e, PVBOOT_EINVAL, "too many netdevs (at most %d)", PVBOOT_MAX_NETDEVS);
		return NULL;
	}
	nd = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
	          -1, 0);
	if (nd == MAP_FAILED) {
		*r = pvb_fail(e, PVBOOT_EUNSPEC, "cannot map %zu octets of buffers: %s", size,
		              strerror(errno));
		return NULL;
	}
	nd->ops = ops;
	nd->kind = kind;
	nd->index = index;
	nd->fd = -1;
	nd->map_len = size;
	table[index] = nd;
	return nd;
}

/* Undo pvb_netdev_alloc (the kind has released the rest). */
void pvb_netdev_free(pvboot_netdev_t *nd)
{
	table[nd->index] = NULL;
	munmap(nd, nd->map_len);
}

static const char *after_prefix(const char *spec, const char *kind)
{
	size_t n = strlen(kind);

	return (!strncmp(spec, kind, n) && spec[n] == ':') ? spec + n + 1 : NULL;
}

pvboot_result_t pvboot_netdev_open(const char *spec, pvboot_netdev_t **out, char *err,
                                   size_t errlen)
{
	struct pvb_err e = { .buf = err, .len = errlen };
	pvboot_netdev_t *nd = NULL;
	const char *args;
	pvboot_result_t r;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return PVBOOT_EINVAL;
	*out = NULL;
	if (!spec)
		spec = "";
	copy_printable(e.prefix, sizeof e.prefix, spec, 48);

	if ((args = after_prefix(spec, "tap")))
		r = pvb_tap_open(args, &nd, &e);
	else if ((args = after_prefix(spec, "afpacket")))
		r = pvb_afpacket_open(args, &nd, &e);
	else if ((args = after_prefix(spec, "socket")))
		r = pvb_socket_open(args, &nd, &e);
	else
		return pvb_fail(&e, PVBOOT_EINVAL, "unknown netdev (expected tap:NAME, "
		                "afpacket:IFACE[,fanout=N] or socket:ADDR:PORT)");
	if (r != PVBOOT_OK)
		return r;

	if (pvb_poll_add(nd->fd, nd->index) < 0) {
		r = pvb_fail(&e, PVBOOT_EUNSPEC, "cannot add to the epoll set: %s", strerror(errno));
		pvboot_netdev_close(nd);
		return r;
	}
	*out = nd;
	return PVBOOT_OK;
}

void pvboot_netdev_close(pvboot_netdev_t *nd)
{
	if (!nd)
		return;
	if (nd->fd >= 0) {
		pvb_poll_del(nd->fd);
		close(nd->fd);
	}
	if (nd->ops->close)
		nd->ops->close(nd);
	pvb_netdev_free(nd);
}

void pvboot_netdev_info(pvboot_netdev_t *nd, struct pvboot_netdev_info *info)
{
	info->kind = nd->kind;
	info->index = nd->index;
	memcpy(info->mac, nd->mac, sizeof info->mac);
	info->mtu = nd->mtu;
	_Static_assert(sizeof info->name == sizeof nd->name, "names are copied whole");
	memcpy(info->name, nd->name, sizeof info->name);
}

int pvboot_netdev_fd(pvboot_netdev_t *nd)
{
	return nd->fd;
}

pvboot_result_t pvboot_netdev_rx(pvboot_netdev_t *nd, struct pvboot_frame *frames, unsigned max,
                                 unsigned *n)
{
	*n = 0;
	if (max > PVBOOT_BATCH)
		max = PVBOOT_BATCH;
	if (max == 0)
		return PVBOOT_AGAIN;
	return nd->ops->rx(nd, frames, max, n);
}

void pvboot_netdev_rx_done(pvboot_netdev_t *nd)
{
	nd->ops->rx_done(nd);
}

uint8_t *pvboot_netdev_tx_buffer(pvboot_netdev_t *nd, uint32_t *cap)
{
	if (nd->tx_n >= PVBOOT_BATCH)
		return NULL;
	*cap = PVBOOT_FRAME_MAX;
	return nd->tx_buf[nd->tx_n] + PVB_ALIGN_PAD;
}

void pvboot_netdev_tx_commit(pvboot_netdev_t *nd, uint32_t len,
                             const struct sockaddr_storage *peer, uint32_t peer_len)
{
	unsigned i = nd->tx_n;

	if (i >= PVBOOT_BATCH || len == 0 || len > PVBOOT_FRAME_MAX)
		return;
	if (nd->kind == PVBOOT_NETDEV_SOCKET) {
		/* A datagram with nowhere to go: not queued, but not silently lost either. */
		if (!peer || peer_len == 0 || peer_len > sizeof nd->tx_peer[i]) {
			nd->stats.tx_dropped++;
			return;
		}
		memcpy(&nd->tx_peer[i], peer, peer_len);
		nd->tx_peer_len[i] = peer_len;
	}
	nd->tx_len[i] = len;
	nd->tx_n = i + 1;
}

pvboot_result_t pvboot_netdev_tx_flush(pvboot_netdev_t *nd, unsigned *dropped)
{
	unsigned lost = 0, n = nd->tx_n;

	if (n)
		lost = nd->ops->flush(nd);
	nd->tx_n = 0;
	nd->stats.tx_frames += n - lost;
	nd->stats.tx_dropped += lost;
	if (dropped)
		*dropped = lost;
	return PVBOOT_OK;
}

/* The kernel's count of frames it dropped on this socket (ring or receive buffer full). */
void pvb_refresh_drops(pvboot_netdev_t *nd)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof mem;

	if (getsockopt(nd->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof mem[0])
		nd->stats.rx_dropped = mem[SK_MEMINFO_DROPS];
}

void pvboot_netdev_stats(pvboot_netdev_t *nd, struct pvboot_netdev_stats *stats)
{
	if (nd->kind != PVBOOT_NETDEV_TAP)
		pvb_refresh_drops(nd);
	*stats = nd->stats;
}

/*
 * sendmmsg all N messages; return how many the kernel refused. A message refused on its own
 * (bad address, unreachable) is skipped; when the kernel is out of room (EAGAIN, ENOBUFS) the
 * rest of the batch is dropped rather than retried, as a full device queue would.
 */
unsigned pvb_send_batch(int fd, struct mmsghdr *msgs, unsigned n)
{
	unsigned off = 0, lost = 0;

	while (off < n) {
		int k = sendmmsg(fd, msgs + off, n - off, MSG_DONTWAIT);

		if (k > 0) {
			off += (unsigned)k;
		} else if (k < 0 && errno == EINTR) {
			continue;
		} else if (k < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			lost += n - off;
			break;
		} else {
			lost++;
			off++;
		}
	}
	return lost;
}
