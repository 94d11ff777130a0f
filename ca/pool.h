/* The HSM worker pool: one thread per PKCS#11 session, fed by a bounded queue. A full queue
 * answers at once with an estimated wait; a job whose deadline passed while it queued is dropped
 * before it reaches the HSM; a session broken by a device reset or a logout is reopened and
 * logged in again, and the job retried once. */
#ifndef ANVIL_CA_POOL_H
#define ANVIL_CA_POOL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "ca/p11.h"
#include "ca/profile.h"

struct job {
	/* Runs on a worker with the HSM session bound (ca/hsmkey.h); returns 1 on success. */
	int (*fn)(struct job *);
	void *arg;
	struct issuer *issuer;
	uint64_t deadline_ms;   /* Unix ms */
	/* Set by the pool: */
	uint64_t queued_us, hsm_us;
	anvil_err result;
	int done;
	pthread_cond_t cv;  /* the waiting connection thread sleeps on its own job */
	struct job *next;
};

struct pool_stats {
	uint64_t signed_ok, failed, busy, deadline, reopened;
	uint64_t queue_len, queue_max, sessions, sessions_up, active;
	uint64_t qdelay_p50_us, qdelay_p99_us, hsm_avg_us;
};

struct pool;

anvil_err pool_start(struct signer_conf *sc, struct p11_module *m, struct pool **out,
    char *err, size_t errlen);
/* Queues the job and waits for it. AE_BUSY (with *retry_ms) when the queue is full;
 * AE_SIGNER_DEADLINE when the deadline passed before a worker took it. */
anvil_err pool_run(struct pool *p, struct job *j, uint32_t *retry_ms);
void pool_get_stats(struct pool *p, struct pool_stats *st);
void pool_stop(struct pool *p);


#endif
