/* clock.c -- the one clock pvboot's deadlines are on. */
#define _GNU_SOURCE
#include <time.h>

#include "pvboot.h"

uint64_t pvboot_clock_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
