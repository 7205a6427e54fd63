/* inet.h -- the Internet checksum (RFC 1071) and big-endian field access for the stack.
 *
 * The checksum adds 32-bit words into a 64-bit sum and folds once at the end, the usual way to
 * go fast without SIMD; RFC 1624's incremental update is not needed: every header we send is
 * written whole.
 */
#ifndef NETSTACK_INET_H
#define NETSTACK_INET_H

#include <stdint.h>
#include <string.h>

static inline uint64_t inet_sum(const uint8_t *p, uint32_t n, uint64_t sum)
{
	uint32_t w;

	while (n >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		n -= 2;
	}
	if (n)
		sum += *p;   /* the odd octet, in the low byte: little-endian host order */
	return sum;
}

/* Fold a sum and complement it; the result is in network byte order, ready to store. */
static inline uint16_t inet_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline uint16_t inet_checksum(const uint8_t *p, uint32_t n)
{
	return inet_fold(inet_sum(p, n, 0));
}

/* The UDP (RFC 768) or TCP pseudo-header sum: addresses as stored, protocol, length. */
static inline uint64_t inet_pseudo(const uint8_t *src4, const uint8_t *dst4, uint8_t proto,
                                   uint16_t len)
{
	uint64_t sum = 0;
	uint16_t h;

	sum = inet_sum(src4, 4, sum);
	sum = inet_sum(dst4, 4, sum);
	h = (uint16_t)(proto << 8);          /* network order 0x00 proto, little-endian host */
	sum += h;
	h = (uint16_t)((len >> 8) | (len << 8));
	sum += h;
	return sum;
}

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
/* Store a checksum computed by inet_fold (already in network order). */
static inline void put_csum(uint8_t *p, uint16_t c) { memcpy(p, &c, 2); }

#endif
