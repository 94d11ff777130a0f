/* /health and /health/ready. Readiness is three checks, each with its latency: the database
 * (one indexed statement, which also reads the newest anvil-jobs heartbeat), the signer (its
 * health operation, and its queue when the stats operation is allowed: a full queue is
 * "saturated"), and anvil-jobs (a heartbeat within JOBS_STALE seconds). The result is kept for
 * CACHE_MS per worker so a load balancer polling every second from several places costs each
 * worker at most one round of checks a second. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ca/client.h"
#include "db/observe.h"
#include "fcgi/metrics.h"
#include "fcgi/observe.h"
#include "lib/clock.h"

#define CACHE_MS 1000
#define SIGNER_TIMEOUT_MS 500
#define JOBS_STALE 10          /* s; anvil-jobs beats every JOBS_BEAT (jobs/observe.c) */


static struct {
	uint64_t at_ms;         /* 0: nothing cached */
	int ready;
	char body[2048];
} cache;

static const char *
signer_socket(const struct fcgi_conf *conf)
{
	json_object *s, *v;

	if (!json_object_object_get_ex(conf->root, "signer", &s) ||
	    !json_object_object_get_ex(s, "socket", &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

anvil_err
observe_signer(const struct fcgi_conf *conf, int timeout_ms, json_object **stats, char *detail,
    size_t detail_len)
{
	const char *path = signer_socket(conf);
	struct signer_client *signer = NULL;
	struct request q;
	struct buf out;
	uint32_t retry = 0;
	anvil_err e;

	*stats = NULL;
	detail[0] = '\0';
	if (path == NULL) {
		snprintf(detail, detail_len, "no signer section");
		return AE_NOTFOUND;
	}
	/* A connection per check, not one kept per worker: at most one a second per worker, and
	 * the workers' uid keeps its signer.max_connections_per_peer for issuance. */
	if ((e = signer_client_new(path, &signer)) != AE_OK) {
		snprintf(detail, detail_len, "%s", anvil_strerror(e));
		return e;
	}
	buf_init(&out, 8192);
	memset(&q, 0, sizeof(q));
	q.op = OP_HEALTH;
	q.id = 1;
	q.deadline_ms = clock_wall_ms() + (uint64_t)timeout_ms;
	if ((e = signer_call(signer, &q, &out, &retry)) != AE_OK || buf_nul(&out) != AE_OK) {
		snprintf(detail, detail_len, "%s", anvil_strerror(e != AE_OK ? e : AE_NOMEM));
		goto out;
	}
	snprintf(detail, detail_len, "%s", (const char *)out.data);
	buf_reset(&out);
	q.op = OP_STATS;
	q.id = 2;
	/* Refused (this uid is not allowed stats): health alone answers. */
	if (signer_call(signer, &q, &out, &retry) == AE_OK && buf_nul(&out) == AE_OK)
		*stats = json_tokener_parse((const char *)out.data);
	e = AE_OK;
out:
	buf_free(&out);
	signer_client_free(signer);
	return e;
}

static int64_t
stat_i64(json_object *stats, const char *key)
{
	json_object *v;

	return stats != NULL && json_object_object_get_ex(stats, key, &v) ?
	    json_object_get_int64(v) : -1;
}

static json_object *
check(json_object *checks, const char *name, int ok, uint64_t t0_us, const char *detail)
{
	json_object *c = json_object_new_object();

	if (c == NULL)
		return NULL;
	json_object_object_add(c, "ok", json_object_new_boolean(ok));
	json_object_object_add(c, "latency_ms",
	    json_object_new_double((double)(clock_mono_us() - t0_us) / 1000.0));
	json_object_object_add(c, "detail", json_object_new_string(detail));
	json_object_object_add(checks, name, c);
	return c;
}

static void
ready_checks(struct req *r)
{
	json_object *root = json_object_new_object(), *checks = json_object_new_object(), *c;
	json_object *stats = NULL;
	int64_t beat = 0, now = (int64_t)time(NULL);
	char detail[256];
	uint64_t t0 = clock_mono_us();
	int ready = 1, db_ok;
	anvil_err e;

	if (root == NULL || checks == NULL) {
		json_object_put(root);
		json_object_put(checks);
		snprintf(cache.body, sizeof(cache.body), "{\"status\":\"not ready\",\"checks\":{}}\n");
		cache.ready = 0;
		cache.at_ms = 0;   /* not cached: the next poll tries again */
		return;
	}
	/* Once more on a new connection: this worker's may have died with a database restart
	 * that is over (a statement on a dead connection fails once, then reconnects). */
	if ((e = db_newest_beat(r->db, &beat)) == AE_DB_DOWN)
		e = db_newest_beat(r->db, &beat);
	db_ok = e == AE_OK;
	snprintf(detail, sizeof(detail), "%s", db_ok ? "ok" : anvil_strerror(e));
	check(checks, "database", db_ok, t0, detail);
	ready &= db_ok;
	t0 = clock_mono_us();
	e = observe_signer(r->conf, SIGNER_TIMEOUT_MS, &stats, detail, sizeof(detail));
	if (e != AE_NOTFOUND) {
		int64_t ql = stat_i64(stats, "queue_len"), qm = stat_i64(stats, "queue_max");
		int saturated = e == AE_OK && qm > 0 && ql >= qm;

		if (saturated)
			snprintf(detail, sizeof(detail), "saturated: queue %lld of %lld",
			    (long long)ql, (long long)qm);
		c = check(checks, "signer", e == AE_OK && !saturated, t0, detail);
		if (stats != NULL && c != NULL) {
			json_object_object_add(c, "queue_len", json_object_new_int64(ql));
			json_object_object_add(c, "queue_max", json_object_new_int64(qm));
		}
		ready &= e == AE_OK && !saturated;
	}
	json_object_put(stats);
	if (json_object_object_get_ex(r->conf->root, "jobs", NULL)) {
		int ok = db_ok && beat > 0 && now - beat <= JOBS_STALE;

		t0 = clock_mono_us();
		if (!db_ok)
			snprintf(detail, sizeof(detail), "unknown: the database is unreachable");
		else if (beat == 0)
			snprintf(detail, sizeof(detail), "no anvil-jobs heartbeat recorded");
		else
			snprintf(detail, sizeof(detail), "last heartbeat %lld s ago%s",
			    (long long)(now - beat), ok ? "" : " (stale)");
		if ((c = check(checks, "jobs", ok, t0, detail)) != NULL)
			json_object_object_add(c, "heartbeat_age_s",
			    beat > 0 ? json_object_new_int64(now - beat) : NULL);
		ready &= ok;
	}
	json_object_object_add(root, "status", json_object_new_string(ready ? "ready" :
	    "not ready"));
	json_object_object_add(root, "checks", checks);
	/* A check that could not be written (memory) is a check that failed. */
	if (json_object_object_length(checks) < 1 + (e != AE_NOTFOUND) +
	    json_object_object_get_ex(r->conf->root, "jobs", NULL))
		ready = 0;
	snprintf(cache.body, sizeof(cache.body), "%s\n",
	    json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	cache.ready = ready;
	cache.at_ms = clock_mono_ms();
	json_object_put(root);
}

void
observe_text(struct req *r, int status, const char *type, const char *body, size_t len)
{
	char *p = arena_alloc(&r->arena, len + 1);

	r->no_index_link = 1;
	if (p == NULL) {
		req_fail(r, AE_NOMEM, "observe");
		return;
	}
	memcpy(p, body, len);
	p[len] = '\0';
	r->status = status;
	r->resp_type = type;
	r->resp_body = p;
	r->resp_len = len;
}

int
observe_route(struct req *r)
{
	static const char *const paths[] = { "/health", "/health/ready", "/metrics", "/status",
		"/status/data" };
	size_t n, i;
	int get;

	/* Every ACME request passes here first: most leave at the first letter. */
	if (r->uri[1] != 'h' && r->uri[1] != 'm' && r->uri[1] != 's')
		return 0;
	n = strcspn(r->uri, "?#");
	get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strlen(paths[i]) == n && strncmp(r->uri, paths[i], n) == 0)
			break;
	if (i == sizeof(paths) / sizeof(paths[0]))
		return 0;
	r->path = paths[i];
	r->no_index_link = 1;
	if (!get) {
		req_problem(r, PROB_METHOD, "this resource allows GET and HEAD only");
		req_header(r, "Allow", "GET, HEAD");
		return 1;
	}
	switch (i) {
	case 0:
		observe_text(r, 200, "application/json", "{\"status\":\"alive\"}\n", 19);
		break;
	case 1:
		if (cache.at_ms == 0 || clock_mono_ms() - cache.at_ms >= CACHE_MS)
			ready_checks(r);
		observe_text(r, cache.ready ? 200 : 503, "application/json", cache.body,
		    strlen(cache.body));
		break;
	case 2:
		observe_metrics(r);
		break;
	case 3:
		observe_status_page(r);
		break;
	default:
		observe_status_data(r);
	}
	return 1;
}
