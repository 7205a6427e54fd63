/*
 * netdev_link.c -- what an Ethernet netdev (tap, afpacket) needs from its kernel interface:
 * the link up, its MAC and its MTU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>

#include "pvboot_impl.h"

_Static_assert(sizeof(((struct pvboot_netdev *)0)->name) >= IFNAMSIZ, "an interface name fits");

pvboot_result_t pvb_link_setup(const char *ifname, pvboot_netdev_t *nd, struct pvb_err *e)
{
	struct ifreq ifr;
	pvboot_result_t r = PVBOOT_OK;
	/* Interface ioctls work on any socket; a UDP one needs no privilege to create. */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return pvb_fail(e, PVBOOT_EUNSPEC, "socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);

	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		r = errno == ENODEV ? pvb_fail(e, PVBOOT_ENODEV, "no such interface")
		                    : pvb_fail(e, pvb_result_of_errno(errno), "SIOCGIFFLAGS: %s",
		                               strerror(errno));
		goto out;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			r = (errno == EPERM || errno == EACCES)
			    ? pvb_fail(e, PVBOOT_EPERM, "cannot bring the link up: permission denied "
			               "(needs root or CAP_NET_ADMIN)")
			    : pvb_fail(e, pvb_result_of_errno(errno), "cannot bring the link up: %s",
			               strerror(errno));
			goto out;
		}
	}
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		r = pvb_fail(e, pvb_result_of_errno(errno), "SIOCGIFHWADDR: %s", strerror(errno));
		goto out;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		r = pvb_fail(e, PVBOOT_EINVAL, "not an Ethernet interface (ARPHRD %u)",
		             (unsigned)ifr.ifr_hwaddr.sa_family);
		goto out;
	}
	memcpy(nd->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		r = pvb_fail(e, pvb_result_of_errno(errno), "SIOCGIFMTU: %s", strerror(errno));
		goto out;
	}
	if (ifr.ifr_mtu <= 0 || ifr.ifr_mtu > PVB_MTU_MAX) {
		r = pvb_fail(e, PVBOOT_EINVAL, "MTU %d is more than pvboot carries (at most %d)",
		             ifr.ifr_mtu, PVB_MTU_MAX);
		goto out;
	}
	nd->mtu = (uint16_t)ifr.ifr_mtu;
	strncpy(nd->name, ifname, sizeof nd->name - 1);
out:
	close(s);
	return r;
}
