/* anvil-slowhsm: a PKCS#11 module for tests and benchmarks that forwards every call to a real
 * module (SoftHSM2 by default) and makes C_Sign behave like a slower, capacity-limited HSM.
 *
 *   ANVIL_SLOWHSM_MODULE          the real module (default /usr/lib/softhsm/libsofthsm2.so)
 *   ANVIL_SLOWHSM_SIGN_US         time one signature takes, in microseconds, the real module's
 *                                 own time included (default 0: as fast as the real module)
 *   ANVIL_SLOWHSM_MAX_CONCURRENT  signing units: signatures in progress at once; more wait
 *                                 their turn (default: unlimited)
 *   ANVIL_SLOWHSM_FAIL_FILE       when this file exists, the next C_Sign removes it, closes
 *                                 its session and fails with CKR_SESSION_HANDLE_INVALID, as
 *                                 after a device reset
 *   ANVIL_SLOWHSM_CORRUPT_FILE    while this file exists, every signature comes back with one
 *                                 bit flipped (a faulty device: the call succeeds, the
 *                                 signature does not verify)
 *
 * E.g. SIGN_US=3030 and MAX_CONCURRENT=1 emulate an HSM doing 330 signatures/s. */
#include "config.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <p11-kit-1/p11-kit/pkcs11.h>

#define MAX_SLOTS 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static CK_FUNCTION_LIST ours;
static CK_FUNCTION_LIST *real;
static void *dl;
static long sign_us, max_concurrent;
static const char *fail_file, *corrupt_file;
/* When each of the HSM's max_concurrent signing units is next free. Scheduling against these
 * (rather than sleeping sign_us from "now") keeps the emulated capacity exact: a late wake-up
 * of one signature does not push back the ones after it. */
static struct timespec unit_free[MAX_SLOTS];

static long
env_long(const char *name, long def)
{
	const char *v = getenv(name);
	char *end = NULL;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno == 0 && end != NULL && *end == '\0' && n >= 0 ? n : def;
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void
ts_add_us(struct timespec *t, long us)
{
	t->tv_sec += us / 1000000;
	t->tv_nsec += (us % 1000000) * 1000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

/* Books the earliest free signing unit; returns when this signature will be done. */
static struct timespec
book(void)
{
	struct timespec now, done;
	long best = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (max_concurrent <= 0) {
		done = now;
		ts_add_us(&done, sign_us);
		return done;
	}
	pthread_mutex_lock(&mu);
	for (long i = 1; i < max_concurrent && i < MAX_SLOTS; i++)
		if (ts_before(&unit_free[i], &unit_free[best]))
			best = i;
	done = ts_before(&unit_free[best], &now) ? now : unit_free[best];
	ts_add_us(&done, sign_us);
	unit_free[best] = done;
	pthread_mutex_unlock(&mu);
	return done;
}

static CK_RV
slow_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG dlen, CK_BYTE_PTR sig,
    CK_ULONG_PTR siglen)
{
	struct timespec done;
	CK_RV rv;

	/* A length query (sig == NULL) costs nothing on a real HSM either. */
	if (sig == NULL)
		return real->C_Sign(s, data, dlen, sig, siglen);
	if (fail_file != NULL && unlink(fail_file) == 0) {
		real->C_CloseSession(s);
		return CKR_SESSION_HANDLE_INVALID;
	}
	done = book();
	rv = real->C_Sign(s, data, dlen, sig, siglen);
	if (rv == CKR_OK && corrupt_file != NULL && *siglen > 0 && access(corrupt_file, F_OK) == 0)
		sig[*siglen - 1] ^= 1;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &done, NULL) == EINTR)
		;
	return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	CK_C_GetFunctionList get;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&mu);
	if (real == NULL) {
		const char *path = getenv("ANVIL_SLOWHSM_MODULE");
		if (path == NULL || *path == '\0')
			path = "/usr/lib/softhsm/libsofthsm2.so";
		if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL ||
		    (*(void **)&get = dlsym(dl, "C_GetFunctionList")) == NULL ||
		    get(&real) != CKR_OK || real == NULL) {
			real = NULL;
			rv = CKR_GENERAL_ERROR;
		} else {
			ours = *real;
			ours.C_GetFunctionList = C_GetFunctionList;
			ours.C_Sign = slow_sign;
			sign_us = env_long("ANVIL_SLOWHSM_SIGN_US", 0);
			max_concurrent = env_long("ANVIL_SLOWHSM_MAX_CONCURRENT", 0);
			fail_file = getenv("ANVIL_SLOWHSM_FAIL_FILE");
			corrupt_file = getenv("ANVIL_SLOWHSM_CORRUPT_FILE");
		}
	}
	pthread_mutex_unlock(&mu);
	if (rv == CKR_OK)
		*list = &ours;
	return rv;
}
