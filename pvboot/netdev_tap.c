/*
 * netdev_tap.c -- tap:NAME, a TAP device: one read() per received frame, one write() per sent
 * frame, into and out of buffers mapped at open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>

#include "pvboot_impl.h"

struct tap {
	struct pvboot_netdev nd;
	_Alignas(64) uint8_t rx_buf[PVBOOT_BATCH][PVB_SLOT];
};
_Static_assert(offsetof(struct tap, nd) == 0, "a tap is a netdev");

/*
 * Read until the device would block or MAX frames are in hand. A frame longer than the slot
 * is cut by tun_put_user() yet read() reports its full length: such frames are skipped.
 */
static pvboot_result_t tap_rx(pvboot_netdev_t *nd, struct pvboot_frame *frames, unsigned max,
                              unsigned *n)
{
	struct tap *t = (struct tap *)nd;
	unsigned got = 0;

	while (got < max) {
		uint8_t *buf = t->rx_buf[got] + PVB_ALIGN_PAD;
		ssize_t len = read(nd->fd, buf, PVBOOT_FRAME_MAX + 1);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			*n = got;
			return got ? PVBOOT_OK : PVBOOT_EUNSPEC;  /* e.g. EBADFD: device deleted */
		}
		if (len == 0)
			break;
		if (len > PVBOOT_FRAME_MAX) {
			nd->stats.rx_truncated++;
			continue;
		}
		frames[got].data = buf;
		frames[got].len = (uint32_t)len;
		frames[got].peer_len = 0;
		frames[got].peer = NULL;
		frames[got].flags = 0;
		got++;
	}
	nd->stats.rx_frames += got;
	*n = got;
	return got ? PVBOOT_OK : PVBOOT_AGAIN;
}

/* The buffers are reused by the next tap_rx: nothing to hand back. */
static void tap_rx_done(pvboot_netdev_t *nd)
{
	(void)nd;
}

static unsigned tap_flush(pvboot_netdev_t *nd)
{
	unsigned lost = 0;

	for (unsigned i = 0; i < nd->tx_n; i++) {
		ssize_t w;

		do
			w = write(nd->fd, nd->tx_buf[i] + PVB_ALIGN_PAD, nd->tx_len[i]);
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)nd->tx_len[i])
			lost++;
	}
	return lost;
}

static const struct pvb_ops tap_ops = {
	.rx = tap_rx,
	.rx_done = tap_rx_done,
	.flush = tap_flush,
	.close = NULL,
};

pvboot_result_t pvb_tap_open(const char *name, pvboot_netdev_t **out, struct pvb_err *e)
{
	struct ifreq ifr;
	pvboot_result_t r;
	struct tap *t;
	int fd;

	if (pvb_check_ifname(name) < 0)
		return pvb_fail(e, PVBOOT_EINVAL, "bad interface name (1 to %d characters, no '/', "
		                "':', ',' or spaces)", IFNAMSIZ - 1);

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			return pvb_fail(e, PVBOOT_EPERM, "permission denied (needs root or "
			                "CAP_NET_ADMIN)");
		if (errno == ENOENT || errno == ENODEV)
			return pvb_fail(e, PVBOOT_ENODEV, "/dev/net/tun: %s (is the tun module "
			                "loaded?)", strerror(errno));
		return pvb_fail(e, PVBOOT_EUNSPEC, "/dev/net/tun: %s", strerror(errno));
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		close(fd);
		if (err == EBUSY)
			return pvb_fail(e, PVBOOT_EBUSY, "the device is in use by another process");
		if (err == EPERM || err == EACCES)
			return pvb_fail(e, PVBOOT_EPERM, "permission denied (needs root or "
			                "CAP_NET_ADMIN)");
		if (err == EINVAL)
			return pvb_fail(e, PVBOOT_EINVAL, "%s exists and is not a tap device", name);
		return pvb_fail(e, pvb_result_of_errno(err), "TUNSETIFF: %s", strerror(err));
	}

	t = pvb_netdev_alloc(sizeof *t, &tap_ops, PVBOOT_NETDEV_TAP, e, &r);
	if (!t) {
		close(fd);
		return r;
	}
	t->nd.fd = fd;
	/* The kernel may have filled in a name template ("pvb%d"): use the name it chose. */
	r = pvb_link_setup(ifr.ifr_name, &t->nd, e);
	if (r != PVBOOT_OK) {
		close(fd);
		pvb_netdev_free(&t->nd);
		return r;
	}
	*out = &t->nd;
	return PVBOOT_OK;
}
