#include "config.h"
#include <time.h>
#include "lib/clock.h"

static uint64_t
read_clock(clockid_t id, uint64_t per_s)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * per_s + (uint64_t)ts.tv_nsec / (1000000000u / per_s);
}

uint64_t
clock_wall_ms(void)
{
	return read_clock(CLOCK_REALTIME, 1000);
}

uint64_t
clock_mono_ms(void)
{
	return read_clock(CLOCK_MONOTONIC, 1000);
}

uint64_t
clock_mono_us(void)
{
	return read_clock(CLOCK_MONOTONIC, 1000000);
}
