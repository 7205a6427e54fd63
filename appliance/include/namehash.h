/* namehash.h -- the hash of a lower-cased wire name, shared by the compiler and the engine.
 *
 * A multiply-xorshift over 8-octet words (little-endian loads; the table is built and served on
 * the same architecture). The seed comes from the image, so names cannot be chosen offline to
 * collide; the table is static, so the worst probe length is known when it is built.
 */
#ifndef APPLIANCE_NAMEHASH_H
#define APPLIANCE_NAMEHASH_H

#include <stdint.h>
#include <string.h>

static inline uint64_t namehash(const uint8_t *p, int n, uint64_t seed)
{
	uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL);
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, p, (size_t)n);
		h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	h *= 0xC4CEB9FE1A85EC53ULL;
	h ^= h >> 33;
	return h;
}

static inline uint16_t load_le16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t load_le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t load_le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint16_t load_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline void store_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

#endif
