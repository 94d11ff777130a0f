/* Minimal TAP producer for C unit tests: plan, ok, is, done. */
#ifndef ANVIL_TAP_H
#define ANVIL_TAP_H
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define plan(n) printf("1..%d\n", (n))
#define ok(cond, ...)                                                        \
	do {                                                                 \
		int tap_c_ = (cond) ? 1 : 0;                                 \
		tap_n++;                                                     \
		if (!tap_c_)                                                 \
			tap_failed++;                                        \
		printf("%sok %d - ", tap_c_ ? "" : "not ", tap_n);           \
		printf(__VA_ARGS__);                                         \
		printf("\n");                                                \
		if (!tap_c_)                                                 \
			printf("#   failed at %s:%d\n", __FILE__, __LINE__); \
		fflush(stdout);                                              \
	} while (0)
#define is_str(got, want, ...) \
	ok((got) != NULL && strcmp((got), (want)) == 0, __VA_ARGS__)
#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))
/* Ends a test without a fixed plan. */
#define done_testing() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif
