/*
 * mem.c -- the boot allocator: one region reserved at start, nothing asked of the kernel after.
 *
 * The region is cut into 2 MiB extents (hugepages when the kernel has them, else the range is
 * madvise'd MADV_HUGEPAGE). Small objects (up to 512 octets) come from slabs: 64 KiB runs of
 * one size class with a free list each, as CPython's own pymalloc does. Larger blocks come
 * from power-of-two free lists carved out of extents, and blocks over 1 MiB from runs of whole
 * extents. Freed memory is reused, never returned: the region is all the process will have,
 * so running out is an error the caller handles (NULL, counted), not a request to the kernel.
 *
 * One lock (CPython calls the raw domain without the GIL); uncontended, it costs little.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "pvboot.h"

#define EXTENT (2u << 20)
#define SLAB (64u << 10)
#define SMALL_MAX 512u
#define SMALL_STEP 16u
#define NSMALL (SMALL_MAX / SMALL_STEP)
#define MEDIUM_MIN_SHIFT 10            /* 1 KiB */
#define MEDIUM_MAX_SHIFT 20            /* 1 MiB */
#define NMEDIUM (MEDIUM_MAX_SHIFT - MEDIUM_MIN_SHIFT + 1)
#define ALIGN 16u

_Static_assert(EXTENT % SLAB == 0, "extents hold whole slabs");
_Static_assert((SLAB & (SLAB - 1)) == 0, "slabs are aligned powers of two");

/* Every block starts with a header saying how big it is (the slab header, for small ones). */
struct block {
	uint32_t kind;                 /* KIND_* */
	uint32_t shift;                /* medium: log2 of the block size */
	size_t extents;                /* large: how many extents the run holds */
	struct block *next;            /* on a free list */
};
enum { KIND_MEDIUM = 0x4d454431, KIND_LARGE = 0x4c524731 };
#define HDR ((sizeof(struct block) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

struct slab {
	uint32_t kind;                 /* KIND_SLAB */
	uint32_t size;                 /* the object size of this slab */
};
enum { KIND_SLAB = 0x534c4231 };
#define SLAB_HDR ALIGN

struct freeobj { struct freeobj *next; };

/* What each extent holds, so that free() knows where a block's header is. */
#define MAX_EXTENTS 32768u             /* 64 GiB of region */
enum { EXT_FREE = 0, EXT_SLABS, EXT_MEDIUM, EXT_LARGE };

static struct {
	pthread_mutex_t lock;
	uint8_t *base, *end;           /* the region */
	uint8_t *next_extent;          /* extents not handed out yet start here */
	uint8_t *slab_next, *slab_end; /* slabs cut from the current extent */
	uint8_t *med_next, *med_end;   /* medium blocks cut from the current extent */
	struct freeobj *small_free[NSMALL];
	uint8_t *small_next[NSMALL], *small_end[NSMALL];
	struct block *medium_free[NMEDIUM];
	struct block *large_free;      /* runs of extents, first fit */
	struct pvboot_mem_stats st;
	uint8_t extent_kind[MAX_EXTENTS];
} M = { .lock = PTHREAD_MUTEX_INITIALIZER };

pvboot_result_t pvboot_mem_reserve(size_t bytes, char *err, size_t errlen)
{
	size_t len = (bytes + EXTENT - 1) / EXTENT * EXTENT;
	uint8_t *p;

	if (len < 4 * EXTENT)
		len = 4 * EXTENT;
	if (len / EXTENT > MAX_EXTENTS) {
		snprintf(err, errlen, "%zu MiB is more than the %u MiB a region may have", len >> 20,
		         (MAX_EXTENTS * EXTENT) >> 20);
		return PVBOOT_EINVAL;
	}
	/* Hugepages first: a pool must have been set aside (vm.nr_hugepages); usually not. Not
	 * MAP_NORESERVE: the pages must exist now, or a touch later would be SIGBUS. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
	         -1, 0);
	if (p != MAP_FAILED) {
		M.st.hugepages = 1;
	} else {
		/* Reserve one extent more to align the region on 2 MiB, for transparent hugepages. */
		uint8_t *raw = mmap(NULL, len + EXTENT, PROT_READ | PROT_WRITE,
		                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		uintptr_t a;

		if (raw == MAP_FAILED) {
			snprintf(err, errlen, "cannot reserve %zu MiB: %s", len >> 20, strerror(errno));
			return PVBOOT_EUNSPEC;
		}
		a = ((uintptr_t)raw + EXTENT - 1) & ~(uintptr_t)(EXTENT - 1);
		p = (uint8_t *)a;
		if (p > raw)
			munmap(raw, (size_t)(p - raw));
		munmap(p + len, (size_t)(raw + len + EXTENT - (p + len)));
		madvise(p, len, MADV_HUGEPAGE);
	}
	M.base = M.next_extent = p;
	M.end = p + len;
	M.st.reserved = len;
	M.st.kernel_requests = 1;
	return PVBOOT_OK;
}

/* A fresh run of N extents for blocks of KIND, or NULL when the region is spent. */
static uint8_t *extents(size_t n, uint8_t kind)
{
	uint8_t *p;

	if ((size_t)(M.end - M.next_extent) < n * EXTENT)
		return NULL;
	p = M.next_extent;
	M.next_extent += n * EXTENT;
	M.st.extents_used += n;
	M.extent_kind[(size_t)(p - M.base) / EXTENT] = kind;
	return p;
}

static uint8_t kind_of(const void *p)
{
	return M.extent_kind[(size_t)((const uint8_t *)p - M.base) / EXTENT];
}

static void *small_alloc(size_t size)
{
	unsigned c = (unsigned)((size + SMALL_STEP - 1) / SMALL_STEP) - 1;
	struct freeobj *o = M.small_free[c];
	uint8_t *p;

	if (o) {
		M.small_free[c] = o->next;
		return o;
	}
	if (M.small_end[c] - M.small_next[c] < (ptrdiff_t)((c + 1) * SMALL_STEP)) {
		struct slab *s;

		if (M.slab_next == M.slab_end) {
			uint8_t *e = extents(1, EXT_SLABS);

			if (!e)
				return NULL;
			M.slab_next = e;
			M.slab_end = e + EXTENT;
		}
		s = (struct slab *)M.slab_next;
		M.slab_next += SLAB;
		s->kind = KIND_SLAB;
		s->size = (c + 1) * SMALL_STEP;
		M.small_next[c] = (uint8_t *)s + SLAB_HDR;
		M.small_end[c] = (uint8_t *)s + SLAB;
	}
	p = M.small_next[c];
	M.small_next[c] += (c + 1) * SMALL_STEP;
	return p;
}

static void *medium_alloc(size_t size)
{
	unsigned shift = MEDIUM_MIN_SHIFT;
	struct block *b;
	size_t bs;

	while (((size_t)1 << shift) < size + HDR)
		shift++;
	b = M.medium_free[shift - MEDIUM_MIN_SHIFT];
	if (b) {
		M.medium_free[shift - MEDIUM_MIN_SHIFT] = b->next;
		return (uint8_t *)b + HDR;
	}
	bs = (size_t)1 << shift;
	if ((size_t)(M.med_end - M.med_next) < bs) {
		uint8_t *e = extents(1, EXT_MEDIUM);

		if (!e)
			return NULL;
		M.med_next = e;
		M.med_end = e + EXTENT;
	}
	b = (struct block *)M.med_next;
	M.med_next += bs;
	b->kind = KIND_MEDIUM;
	b->shift = shift;
	return (uint8_t *)b + HDR;
}

static void *large_alloc(size_t size)
{
	size_t n = (size + HDR + EXTENT - 1) / EXTENT;
	struct block **pp, *b;

	for (pp = &M.large_free; (b = *pp) != NULL; pp = &b->next) {
		if (b->extents >= n) {
			*pp = b->next;
			return (uint8_t *)b + HDR;
		}
	}
	b = (struct block *)extents(n, EXT_LARGE);
	if (!b)
		return NULL;
	b->kind = KIND_LARGE;
	b->extents = n;
	return (uint8_t *)b + HDR;
}

/* The usable size of a block we handed out (under the lock). */
static size_t capacity(void *p)
{
	struct block *b = (struct block *)((uint8_t *)p - HDR);

	switch (kind_of(p)) {
	case EXT_SLABS:
		return ((struct slab *)((uintptr_t)p & ~(uintptr_t)(SLAB - 1)))->size;
	case EXT_MEDIUM:
		return ((size_t)1 << b->shift) - HDR;
	default:
		return b->extents * EXTENT - HDR;
	}
}

void *pvboot_mem_alloc(size_t size)
{
	void *p;

	if (size == 0)
		size = 1;
	pthread_mutex_lock(&M.lock);
	if (size <= SMALL_MAX)
		p = small_alloc(size);
	else if (size + HDR <= ((size_t)1 << MEDIUM_MAX_SHIFT))
		p = medium_alloc(size);
	else
		p = large_alloc(size);
	if (p) {
		M.st.allocations++;
		M.st.in_use += capacity(p);
		if (M.st.in_use > M.st.peak)
			M.st.peak = M.st.in_use;
	} else {
		M.st.failures++;
	}
	pthread_mutex_unlock(&M.lock);
	return p;
}

void pvboot_mem_free(void *p)
{
	size_t cap;

	if (!p)
		return;
	pthread_mutex_lock(&M.lock);
	if (!pvboot_mem_owns(p)) {
		M.st.foreign_frees++;          /* not ours: never handed out here, left alone */
		pthread_mutex_unlock(&M.lock);
		return;
	}
	cap = capacity(p);
	M.st.in_use -= cap < M.st.in_use ? cap : M.st.in_use;
	if (kind_of(p) == EXT_SLABS) {
		struct freeobj *o = p;
		unsigned c = (unsigned)(cap / SMALL_STEP) - 1;

		o->next = M.small_free[c];
		M.small_free[c] = o;
	} else {
		struct block *b = (struct block *)((uint8_t *)p - HDR);

		if (kind_of(p) == EXT_MEDIUM) {
			b->next = M.medium_free[b->shift - MEDIUM_MIN_SHIFT];
			M.medium_free[b->shift - MEDIUM_MIN_SHIFT] = b;
		} else {
			b->next = M.large_free;
			M.large_free = b;
		}
	}
	M.st.frees++;
	pthread_mutex_unlock(&M.lock);
}

void *pvboot_mem_calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = pvboot_mem_alloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *pvboot_mem_realloc(void *p, size_t size)
{
	size_t cap;
	void *q;

	if (!p)
		return pvboot_mem_alloc(size);
	if (!pvboot_mem_owns(p))
		return NULL;
	pthread_mutex_lock(&M.lock);
	cap = capacity(p);
	pthread_mutex_unlock(&M.lock);
	if (size <= cap && size > cap / 4)
		return p;
	q = pvboot_mem_alloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, size < cap ? size : cap);
	pvboot_mem_free(p);
	return q;
}

void pvboot_mem_stats(struct pvboot_mem_stats *st)
{
	pthread_mutex_lock(&M.lock);
	*st = M.st;
	st->free_extents = (size_t)(M.end - M.next_extent) / EXTENT;
	pthread_mutex_unlock(&M.lock);
}

int pvboot_mem_owns(const void *p)
{
	return (const uint8_t *)p >= M.base && (const uint8_t *)p < M.end;
}
