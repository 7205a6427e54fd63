/*
 * netdev_socket.c -- socket:ADDR:PORT, the kernel's UDP as a netdev: a frame is one datagram's
 * payload and carries its peer's address. Batched with recvmmsg/sendmmsg.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "pvboot_impl.h"

#define SOCKET_BUF (4 << 20)

struct sock {
	struct pvboot_netdev nd;
	struct mmsghdr rx_msg[PVBOOT_BATCH];
	struct iovec rx_iov[PVBOOT_BATCH];
	struct sockaddr_storage rx_peer[PVBOOT_BATCH];
	struct mmsghdr tx_msg[PVBOOT_BATCH];
	struct iovec tx_iov[PVBOOT_BATCH];
	_Alignas(64) uint8_t rx_buf[PVBOOT_BATCH][PVB_SLOT];
};
_Static_assert(offsetof(struct sock, nd) == 0, "a sock is a netdev");

static pvboot_result_t sock_rx(pvboot_netdev_t *nd, struct pvboot_frame *frames, unsigned max,
                               unsigned *n)
{
	struct sock *s = (struct sock *)nd;
	unsigned got = 0;
	int k;

	for (unsigned i = 0; i < max; i++) {
		s->rx_msg[i].msg_hdr.msg_namelen = sizeof s->rx_peer[i];
		s->rx_msg[i].msg_hdr.msg_flags = 0;
	}
	do
		k = recvmmsg(nd->fd, s->rx_msg, max, MSG_DONTWAIT, NULL);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return (errno == EAGAIN) ? PVBOOT_AGAIN : PVBOOT_EUNSPEC;

	for (int i = 0; i < k; i++) {
		struct msghdr *h = &s->rx_msg[i].msg_hdr;

		if (h->msg_flags & MSG_TRUNC) {
			nd->stats.rx_truncated++;
			continue;
		}
		frames[got].data = s->rx_buf[i] + PVB_ALIGN_PAD;
		frames[got].len = s->rx_msg[i].msg_len;
		frames[got].peer = &s->rx_peer[i];
		frames[got].peer_len = h->msg_namelen;
		frames[got].flags = 0;
		got++;
	}
	nd->stats.rx_frames += got;
	*n = got;
	return got ? PVBOOT_OK : PVBOOT_AGAIN;
}

static void sock_rx_done(pvboot_netdev_t *nd)
{
	(void)nd;
}

static unsigned sock_flush(pvboot_netdev_t *nd)
{
	struct sock *s = (struct sock *)nd;

	for (unsigned i = 0; i < nd->tx_n; i++) {
		s->tx_iov[i].iov_len = nd->tx_len[i];
		s->tx_msg[i].msg_hdr.msg_namelen = nd->tx_peer_len[i];
	}
	return pvb_send_batch(nd->fd, s->tx_msg, nd->tx_n);
}

static const struct pvb_ops sock_ops = {
	.rx = sock_rx,
	.rx_done = sock_rx_done,
	.flush = sock_flush,
	.close = NULL,
};

/* "1.2.3.4:53" or "[::1]:53" into SA; 0 on success. */
static int parse_addr(const char *args, struct sockaddr_storage *sa, socklen_t *salen)
{
	char host[INET6_ADDRSTRLEN];
	const char *port;
	char *end;
	size_t hl;
	long p;

	if (args[0] == '[') {
		const char *close = strchr(args, ']');

		if (!close || close[1] != ':')
			return -1;
		hl = (size_t)(close - args - 1);
		if (hl == 0 || hl >= sizeof host)
			return -1;
		memcpy(host, args + 1, hl);
		port = close + 2;
	} else {
		const char *colon = strrchr(args, ':');

		if (!colon)
			return -1;
		hl = (size_t)(colon - args);
		if (hl == 0 || hl >= sizeof host)
			return -1;
		memcpy(host, args, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	errno = 0;
	p = strtol(port, &end, 10);
	if (end == port || *end || errno || p < 0 || p > 65535)
		return -1;

	memset(sa, 0, sizeof *sa);
	if (args[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*salen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*salen = sizeof *s4;
	}
	return 0;
}

/* The bound address as ADDR:PORT (the port the kernel chose if we asked for 0). */
static void bound_name(int fd, char *name, size_t len)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	char host[INET6_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		return;
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(name, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(name, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

pvboot_result_t pvb_socket_open(const char *args, pvboot_netdev_t **out, struct pvb_err *e)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	pvboot_result_t r;
	struct sock *s;
	int fd, one = 1, size = SOCKET_BUF;

	if (parse_addr(args, &sa, &salen) < 0)
		return pvb_fail(e, PVBOOT_EINVAL, "bad address (expected socket:A.B.C.D:PORT or "
		                "socket:[V6]:PORT)");
	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pvb_fail(e, pvb_result_of_errno(errno), "socket: %s", strerror(errno));
	if (sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	/* Room for bursts; the kernel caps these at net.core.rmem_max/wmem_max. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
		int err = errno;

		close(fd);
		if (err == EADDRINUSE)
			return pvb_fail(e, PVBOOT_EADDR, "address in use");
		if (err == EADDRNOTAVAIL)
			return pvb_fail(e, PVBOOT_EADDR, "address not available (not on this host)");
		if (err == EACCES || err == EPERM)
			return pvb_fail(e, PVBOOT_EPERM, "permission denied (ports below 1024 need root "
			                "or CAP_NET_BIND_SERVICE)");
		return pvb_fail(e, pvb_result_of_errno(err), "bind: %s", strerror(err));
	}

	s = pvb_netdev_alloc(sizeof *s, &sock_ops, PVBOOT_NETDEV_SOCKET, e, &r);
	if (!s) {
		close(fd);
		return r;
	}
	s->nd.fd = fd;
	s->nd.mtu = PVBOOT_FRAME_MAX;
	bound_name(fd, s->nd.name, sizeof s->nd.name);
	for (unsigned i = 0; i < PVBOOT_BATCH; i++) {
		s->rx_iov[i].iov_base = s->rx_buf[i] + PVB_ALIGN_PAD;
		s->rx_iov[i].iov_len = PVBOOT_FRAME_MAX;
		s->rx_msg[i].msg_hdr.msg_iov = &s->rx_iov[i];
		s->rx_msg[i].msg_hdr.msg_iovlen = 1;
		s->rx_msg[i].msg_hdr.msg_name = &s->rx_peer[i];
		s->tx_iov[i].iov_base = s->nd.tx_buf[i] + PVB_ALIGN_PAD;
		s->tx_msg[i].msg_hdr.msg_iov = &s->tx_iov[i];
		s->tx_msg[i].msg_hdr.msg_iovlen = 1;
		s->tx_msg[i].msg_hdr.msg_name = &s->nd.tx_peer[i];
	}
	*out = &s->nd;
	return PVBOOT_OK;
}
