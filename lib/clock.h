/* The two clocks Anvil reads: wall time for deadlines and timestamps that cross processes (the
 * signer protocol carries wall-clock deadlines), monotonic time for durations and budgets. */
#ifndef ANVIL_CLOCK_H
#define ANVIL_CLOCK_H
#include <stdint.h>

uint64_t clock_wall_ms(void);
uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);

#endif
