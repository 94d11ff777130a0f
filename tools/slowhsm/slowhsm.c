/* anvil-slowhsm: a PKCS#11 module for tests and benchmarks that forwards every call to a real
 * module (SoftHSM2 by default) and makes C_Sign behave like a slower, capacity-limited HSM.
 *
 *   ANVIL_SLOWHSM_MODULE          the real module (default /usr/lib/softhsm/libsofthsm2.so)
 *   ANVIL_SLOWHSM_SIGN_US         time one signature takes, in microseconds, the real module's
 *                                 own time included (default 0: as fast as the real module)
 *   ANVIL_SLOWHSM_MAX_CONCURRENT  signatures in flight at once (default: unlimited)
 *   ANVIL_SLOWHSM_FAIL_FILE       when this file exists, the next C_Sign removes it, closes
 *                                 its session and fails with CKR_SESSION_HANDLE_INVALID, as
 *                                 after a device reset
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

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_free = PTHREAD_COND_INITIALIZER;
static CK_FUNCTION_LIST ours;
static CK_FUNCTION_LIST *real;
static void *dl;
static long sign_us, max_concurrent, in_flight;
static const char *fail_file;

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

/* Sleeps until start + us (absolute, so that the real signature's time counts). */
static void
sleep_until(const struct timespec *start, long us)
{
	struct timespec until = *start;

	until.tv_sec += us / 1000000;
	until.tv_nsec += (us % 1000000) * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

static CK_RV
slow_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG dlen, CK_BYTE_PTR sig,
    CK_ULONG_PTR siglen)
{
	struct timespec start;
	CK_RV rv;

	/* A length query (sig == NULL) costs nothing on a real HSM either. */
	if (sig == NULL)
		return real->C_Sign(s, data, dlen, sig, siglen);
	if (fail_file != NULL && unlink(fail_file) == 0) {
		real->C_CloseSession(s);
		return CKR_SESSION_HANDLE_INVALID;
	}
	pthread_mutex_lock(&mu);
	while (max_concurrent > 0 && in_flight >= max_concurrent)
		pthread_cond_wait(&slot_free, &mu);
	in_flight++;
	pthread_mutex_unlock(&mu);
	clock_gettime(CLOCK_MONOTONIC, &start);
	rv = real->C_Sign(s, data, dlen, sig, siglen);
	if (sign_us > 0)
		sleep_until(&start, sign_us);
	pthread_mutex_lock(&mu);
	in_flight--;
	pthread_cond_signal(&slot_free);
	pthread_mutex_unlock(&mu);
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
		}
	}
	pthread_mutex_unlock(&mu);
	if (rv == CKR_OK)
		*list = &ours;
	return rv;
}
