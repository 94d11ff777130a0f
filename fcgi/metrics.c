#include "config.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include "fcgi/metrics.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const int statuses[] = { 200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429,
	500, 501, 503 };
#define NSTATUS (N(statuses) + 1)   /* the last: any other */
/* Upper bounds in microseconds: from a nonce (tens of us) to a finalize at its budget. */
static const uint64_t buckets_us[] = { 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000, 10000000 };
#define NBUCKET (N(buckets_us) + 1)  /* the last: +Inf */

static const char *const route_names[MR__COUNT] = {
	"directory", "new-nonce", "new-account", "account", "key-change", "new-order", "order",
	"finalize", "new-authz", "authz", "challenge", "cert", "revoke-cert", "renewal-info",
	"health", "metrics", "status", "other",
};
static const char *const finalize_names[MF__COUNT] = { "issued", "handed_off", "invalid",
	"refused" };

/* Counters only: each is one relaxed fetch_add, a few nanoseconds against a request's tens of
 * microseconds at least. */
struct region {
	_Atomic uint64_t requests[MR__COUNT][NSTATUS];
	_Atomic uint64_t latency[MR__COUNT][NBUCKET];   /* per bucket, not cumulative */
	_Atomic uint64_t latency_sum_us[MR__COUNT];
	_Atomic uint64_t problems[PROB__COUNT];
	_Atomic uint64_t finalize[MF__COUNT];
	_Atomic uint64_t db_errors, db_connects;
	_Atomic uint64_t issued;   /* certificates stored (issue_ctx_on_issued) */
};

static struct region *shm;
static uint64_t seen_errors, seen_connects;   /* this worker's, already added */

int
metrics_init(void)
{
	void *p;

	if (shm != NULL)
		return 0;
	p = mmap(NULL, sizeof(struct region), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	shm = p;   /* zero-filled by the kernel */
	return 0;
}

void
metrics_request(enum metrics_route route, int status, enum prob problem, uint64_t usec)
{
	size_t s = N(statuses), b = N(buckets_us);

	if (shm == NULL || (unsigned)route >= MR__COUNT)
		return;
	for (size_t i = 0; i < N(statuses); i++)
		if (statuses[i] == status) {
			s = i;
			break;
		}
	for (size_t i = 0; i < N(buckets_us); i++)
		if (usec <= buckets_us[i]) {
			b = i;
			break;
		}
	atomic_fetch_add_explicit(&shm->requests[route][s], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->latency[route][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->latency_sum_us[route], usec, memory_order_relaxed);
	if (problem != PROB_NONE && (unsigned)problem < PROB__COUNT)
		atomic_fetch_add_explicit(&shm->problems[problem], 1, memory_order_relaxed);
}

void
metrics_finalize(enum metrics_finalize outcome)
{
	if (shm != NULL && (unsigned)outcome < MF__COUNT)
		atomic_fetch_add_explicit(&shm->finalize[outcome], 1, memory_order_relaxed);
}

void
metrics_finalize_result(anvil_err e)
{
	switch (e) {
	case AE_OK:
		metrics_finalize(MF_ISSUED);
		break;
	case AE_BUSY: case AE_TIMEOUT: case AE_UNAVAILABLE: case AE_DB_DOWN: case AE_DB:
	case AE_NOMEM:
		metrics_finalize(MF_HANDED_OFF);
		break;
	default:
		metrics_finalize(MF_INVALID);
	}
}

void
metrics_db(uint64_t errors, uint64_t connects)
{
	if (shm == NULL)
		return;
	if (errors > seen_errors)
		atomic_fetch_add_explicit(&shm->db_errors, errors - seen_errors, memory_order_relaxed);
	if (connects > seen_connects)
		atomic_fetch_add_explicit(&shm->db_connects, connects - seen_connects,
		    memory_order_relaxed);
	seen_errors = errors;
	seen_connects = connects;
}

static uint64_t
get(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

void
metrics_cert_issued(void)
{
	if (shm != NULL)
		atomic_fetch_add_explicit(&shm->issued, 1, memory_order_relaxed);
}

uint64_t
metrics_issued(void)
{
	return shm != NULL ? get(&shm->issued) : 0;
}

/* "urn:ietf:params:acme:error:badCSR" -> "badCSR". */
static const char *
short_type(const char *t)
{
	const char *c = strrchr(t, ':');

	return c ? c + 1 : t;
}

static anvil_err
render_problems(struct buf *out)
{
	anvil_err e = buf_printf(out, "# HELP anvil_problems_total Problem documents answered, by "
	    "ACME error type.\n# TYPE anvil_problems_total counter\n");

	/* Several of our problems share one ACME type: one series per type. */
	for (int p = 1; e == AE_OK && p < PROB__COUNT; p++) {
		const char *t = short_type(prob_type((enum prob)p));
		uint64_t sum = 0;
		int first = 1;

		for (int q = 1; q < PROB__COUNT; q++) {
			if (strcmp(short_type(prob_type((enum prob)q)), t) != 0)
				continue;
			if (q < p)
				first = 0;
			sum += get(&shm->problems[q]);
		}
		if (first)
			e = buf_printf(out, "anvil_problems_total{type=\"%s\"} %llu\n", t,
			    (unsigned long long)sum);
	}
	return e;
}

static anvil_err
render_requests(struct buf *out)
{
	anvil_err e;

	e = buf_printf(out, "# HELP anvil_http_requests_total Requests answered by the workers, by "
	    "route and status.\n# TYPE anvil_http_requests_total counter\n");
	for (int r = 0; e == AE_OK && r < MR__COUNT; r++)
		for (size_t s = 0; e == AE_OK && s < NSTATUS; s++) {
			uint64_t v = get(&shm->requests[r][s]);
			char code[8];

			if (v == 0)
				continue;
			if (s < N(statuses))
				snprintf(code, sizeof(code), "%d", statuses[s]);
			else
				snprintf(code, sizeof(code), "other");
			e = buf_printf(out, "anvil_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
			    route_names[r], code, (unsigned long long)v);
		}
	if (e == AE_OK)
		e = buf_printf(out, "# HELP anvil_http_request_duration_seconds Time from the request "
		    "reaching a worker to its answer written, by route.\n"
		    "# TYPE anvil_http_request_duration_seconds histogram\n");
	for (int r = 0; e == AE_OK && r < MR__COUNT; r++) {
		uint64_t cum = 0;

		for (size_t b = 0; e == AE_OK && b < NBUCKET; b++) {
			cum += get(&shm->latency[r][b]);
			if (b < N(buckets_us))
				e = buf_printf(out, "anvil_http_request_duration_seconds_bucket{route=\"%s\","
				    "le=\"%g\"} %llu\n", route_names[r], (double)buckets_us[b] / 1e6,
				    (unsigned long long)cum);
			else
				e = buf_printf(out, "anvil_http_request_duration_seconds_bucket{route=\"%s\","
				    "le=\"+Inf\"} %llu\n", route_names[r], (unsigned long long)cum);
		}
		if (e == AE_OK)
			e = buf_printf(out, "anvil_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
			    "anvil_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
			    route_names[r], (double)get(&shm->latency_sum_us[r]) / 1e6, route_names[r],
			    (unsigned long long)cum);
	}
	return e;
}

anvil_err
metrics_render(struct buf *out)
{
	anvil_err e;

	e = buf_printf(out, "# HELP anvil_metrics_shared Whether the workers' counters are shared "
	    "(0: the region could not be mapped and they are missing).\n"
	    "# TYPE anvil_metrics_shared gauge\nanvil_metrics_shared %d\n", shm != NULL);
	if (e != AE_OK || shm == NULL)
		return e;
	if ((e = render_requests(out)) != AE_OK || (e = render_problems(out)) != AE_OK)
		return e;
	e = buf_printf(out, "# HELP anvil_finalize_total Finalize requests by outcome: issued "
	    "within the budget, handed off to anvil-jobs (processing), the order invalid, "
	    "refused with a problem.\n"
	    "# TYPE anvil_finalize_total counter\n");
	for (int i = 0; e == AE_OK && i < MF__COUNT; i++)
		e = buf_printf(out, "anvil_finalize_total{outcome=\"%s\"} %llu\n", finalize_names[i],
		    (unsigned long long)get(&shm->finalize[i]));
	if (e == AE_OK)
		e = buf_printf(out, "# HELP anvil_db_errors_total Failed database statements and connection attempts "
		    "of the workers.\n# TYPE anvil_db_errors_total counter\nanvil_db_errors_total %llu\n"
		    "# HELP anvil_db_connects_total Database connections the workers opened (one per "
		    "worker at start, then one per reconnect).\n# TYPE anvil_db_connects_total counter\n"
		    "anvil_db_connects_total %llu\n",
		    (unsigned long long)get(&shm->db_errors),
		    (unsigned long long)get(&shm->db_connects));
	return e;
}
