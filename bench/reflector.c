/*
 * reflector.c -- the harness ceiling: a fixed response to every DNS query, over AF_PACKET.
 *
 * Not a DNS server: every IPv4/UDP frame to port 53 goes back to its sender with the
 * addresses and ports swapped and the DNS header marked as a response (QR, AA), the rest of
 * the message unchanged; ARP requests for any address are answered with our MAC. It uses the
 * same pvboot rings and batches as the appliance, so the rate it sustains is what the test
 * set-up (load generator, veth, rings) allows at all, with no DNS work in the way.
 *
 *     reflector IFACE        (prints "reflecting on IFACE" once ready; stops on SIGTERM)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pvboot.h"

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void reflect_udp(uint8_t *f, uint32_t n)
{
	uint8_t tmp[6];
	uint32_t ihl = (f[14] & 0x0f) * 4u;
	uint8_t *ip = f + 14, *udp = ip + ihl;
	uint32_t sum = 0, i;

	memcpy(tmp, f, 6); memcpy(f, f + 6, 6); memcpy(f + 6, tmp, 6);
	memcpy(tmp, ip + 12, 4); memcpy(ip + 12, ip + 16, 4); memcpy(ip + 16, tmp, 4);
	memcpy(tmp, udp, 2); memcpy(udp, udp + 2, 2); memcpy(udp + 2, tmp, 2);
	ip[10] = ip[11] = 0;
	for (i = 0; i < ihl; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	sum = csum_fold(sum);
	ip[10] = (uint8_t)(sum >> 8); ip[11] = (uint8_t)sum;
	udp[6] = udp[7] = 0;                 /* no UDP checksum: allowed for IPv4 (RFC 768) */
	if (n >= 14 + ihl + 8 + 12) {
		udp[8 + 2] |= 0x84;              /* QR, AA */
		udp[8 + 3] &= 0xf0;              /* NOERROR */
	}
}

static int reflect_arp(uint8_t *f, uint32_t n, const uint8_t *mac)
{
	uint8_t ip[4];

	if (n < 42 || f[20] != 0 || f[21] != 1)  /* not a request */
		return 0;
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	f[21] = 2;
	memcpy(ip, f + 38, 4);
	memcpy(f + 32, f + 22, 10);          /* target = the asker */
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, ip, 4);
	return 1;
}

int main(int argc, char **argv)
{
	char spec[64], err[PVBOOT_ERRLEN];
	struct pvboot_frame frames[PVBOOT_BATCH];
	struct pvboot_netdev_info info;
	pvboot_netdev_t *nd;
	uint64_t ready;
	unsigned n, i, dropped;
	int sig = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: reflector IFACE\n");
		return 2;
	}
	snprintf(spec, sizeof(spec), "afpacket:%s", argv[1]);
	if (pvboot_netdev_open(spec, &nd, err, sizeof(err)) != PVBOOT_OK) {
		fprintf(stderr, "reflector: %s\n", err);
		return 1;
	}
	pvboot_netdev_info(nd, &info);
	printf("reflecting on %s\n", argv[1]);
	fflush(stdout);
	while (sig != SIGINT && sig != SIGTERM) {
		pvboot_yield(UINT64_MAX, &ready);
		sig = pvboot_signal_take();
		while (pvboot_netdev_rx(nd, frames, PVBOOT_BATCH, &n) == PVBOOT_OK) {
			for (i = 0; i < n; i++) {
				const uint8_t *f = frames[i].data;
				uint32_t len = frames[i].len, cap;
				uint8_t *out;
				int keep = 0;

				if (len < 14 || len > PVBOOT_FRAME_MAX)
					continue;
				out = pvboot_netdev_tx_buffer(nd, &cap);
				if (out == NULL || cap < len)
					continue;
				memcpy(out, f, len);
				if (out[12] == 0x08 && out[13] == 0x00 && len >= 42 && out[23] == 17 &&
				    out[14 + (out[14] & 0x0f) * 4 + 2] == 0 &&
				    out[14 + (out[14] & 0x0f) * 4 + 3] == 53) {
					reflect_udp(out, len);
					keep = 1;
				} else if (out[12] == 0x08 && out[13] == 0x06) {
					keep = reflect_arp(out, len, info.mac);
				}
				if (keep)
					pvboot_netdev_tx_commit(nd, len, NULL, 0);
			}
			pvboot_netdev_rx_done(nd);
			pvboot_netdev_tx_flush(nd, &dropped);
		}
	}
	pvboot_netdev_close(nd);
	return 0;
}
