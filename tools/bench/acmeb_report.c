/* anvil-bench: what a run measured: latency samples per step, errors by HTTP status and ACME
 * problem type, CPU seconds of named server processes from /proc/PID/stat, and the report (one
 * JSON object and a human table). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "lib/num.h"
#include "tools/bench/acmeb.h"

#define SAMPLES_MAX (20 * 1000 * 1000)
#define CPU_GROUPS_MAX 16
#define CPU_PIDS_MAX 64

static const char *const names[STEP_COUNT] = {
	"nonce", "new_order", "authz", "challenge", "authz_poll", "finalize", "order_poll",
	"cert", "ocsp", "flow",
};

const char *
step_name(enum step s)
{
	return (unsigned)s < STEP_COUNT ? names[s] : "?";
}

void
stats_init(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	s->by_status = json_object_new_object();
	s->by_type = json_object_new_object();
	s->by_where = json_object_new_object();
}

void
stats_free(struct stats *s)
{
	for (int i = 0; i < STEP_COUNT; i++)
		free(s->step[i].v);
	json_object_put(s->by_status);
	json_object_put(s->by_type);
	json_object_put(s->by_where);
}

void
stats_add(struct stats *s, enum step step, double seconds)
{
	struct samples *p = &s->step[step];
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 4096;
		double *v;
		if (ncap > SAMPLES_MAX || (v = realloc(p->v, ncap * sizeof(*v))) == NULL)
			return;
		p->v = v;
		p->cap = ncap;
	}
	p->v[p->n++] = seconds;
}

static void
bump(json_object *map, const char *key)
{
	json_object *v;
	if (json_object_object_get_ex(map, key, &v))
		json_object_set_int64(v, json_object_get_int64(v) + 1);
	else
		json_object_object_add(map, key, json_object_new_int64(1));
}

void
stats_error(struct stats *s, enum step step, long status, const char *type)
{
	char k[320];
	if (status > 0)
		snprintf(k, sizeof(k), "%ld", status);
	else
		snprintf(k, sizeof(k), "transport");
	bump(s->by_status, k);
	bump(s->by_type, type);
	snprintf(k, sizeof(k), "%s %ld %s", step_name(step), status, type);
	bump(s->by_where, k);
}

/* --- CPU of named processes --- */

struct cpuset {
	unsigned n;
	struct {
		char name[32];
		int pids[CPU_PIDS_MAX];
		unsigned npids;
		double at[2];
	} g[CPU_GROUPS_MAX];
	double self[2];
};

struct cpuset *
cpu_parse(const char *spec)
{
	struct cpuset *c = calloc(1, sizeof(*c));
	const char *p = spec;
	if (c == NULL || spec == NULL)
		return c;
	while (*p != '\0' && c->n < CPU_GROUPS_MAX) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		const char *q;
		if (end == NULL)
			end = p + strlen(p);
		if (eq == NULL || eq > end || (size_t)(eq - p) >= sizeof(c->g[0].name)) {
			fprintf(stderr, "anvil-bench: --pids: expected name=pid[+pid...], ...\n");
			exit(2);
		}
		memcpy(c->g[c->n].name, p, (size_t)(eq - p));
		for (q = eq + 1; q < end;) {
			const char *plus = memchr(q, '+', (size_t)(end - q));
			const char *e = plus != NULL ? plus : end;
			int64_t v;
			if (num_parse_i64_n(q, (size_t)(e - q), 1, 4194304, &v) != AE_OK) {
				fprintf(stderr, "anvil-bench: --pids: bad pid in %s\n", spec);
				exit(2);
			}
			if (c->g[c->n].npids < CPU_PIDS_MAX)
				c->g[c->n].pids[c->g[c->n].npids++] = (int)v;
			q = plus != NULL ? plus + 1 : end;
		}
		c->n++;
		p = *end == ',' ? end + 1 : end;
	}
	return c;
}

/* utime + stime of a process (all its threads) in seconds; 0 when it is gone. */
static double
proc_cpu(int pid)
{
	char path[64], buf[1024];
	FILE *fp;
	size_t n;
	const char *p;
	int64_t ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* Fields after the command: state is field 3; utime and stime are 14 and 15. */
	for (int field = 3; field <= 15 && *p != '\0'; field++) {
		const char *s, *e;
		while (*p == ')' || *p == ' ')
			p++;
		s = p;
		while (*p != ' ' && *p != '\0')
			p++;
		e = p;
		if (field == 14)
			num_parse_i64_n(s, (size_t)(e - s), 0, INT64_MAX, &ut);
		else if (field == 15)
			num_parse_i64_n(s, (size_t)(e - s), 0, INT64_MAX, &st);
	}
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void
cpu_sample(struct cpuset *c, int which)
{
	struct rusage ru;
	for (unsigned i = 0; i < c->n; i++) {
		double t = 0;
		for (unsigned k = 0; k < c->g[i].npids; k++)
			t += proc_cpu(c->g[i].pids[k]);
		c->g[i].at[which] = t;
	}
	getrusage(RUSAGE_SELF, &ru);
	c->self[which] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void
cpu_free(struct cpuset *c)
{
	free(c);
}

/* --- the report --- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct_ms(const struct samples *s, double p)
{
	if (s->n == 0)
		return 0;
	return s->v[(size_t)(p * (double)(s->n - 1) + 0.5)] * 1000.0;
}

static json_object *
jdouble(double v, int decimals)
{
	char b[64];
	snprintf(b, sizeof(b), "%.*f", decimals, v);
	return json_object_new_double_s(v, b);
}

int
report_write(struct run *r, struct cpuset *cpu, double elapsed, double window,
    struct http01 *h)
{
	const struct opts *o = r->o;
	struct stats *st = &r->st;
	json_object *j = json_object_new_object(), *steps = json_object_new_object();
	json_object *cpuj = json_object_new_object();
	FILE *jf = stdout, *tf = stderr;
	double rate, span, last_ok, server_cpu = 0;
	long served, nf, bad;
	int rc = 0;

	for (int i = 0; i < STEP_COUNT; i++)
		if (st->step[i].n > 0)
			qsort(st->step[i].v, st->step[i].n, sizeof(double), cmp_double);
	/* Closed loop: every completed flow over the window, or until the last completion when
	 * flows in flight at the end of the window took longer (so a latency near the window
	 * length neither hides work nor inflates the rate). */
	last_ok = r->t_last_ok > r->t0 ? r->t_last_ok - r->t0 : 0;
	span = o->burst > 0 ? last_ok : (last_ok > window ? last_ok : window);
	rate = span > 0 ? (double)st->completed / span : 0;
	if (o->label != NULL)
		json_object_object_add(j, "label", json_object_new_string(o->label));
	json_object_object_add(j, "directory", json_object_new_string(o->directory));
	/* Front-end sets the flows were spread over (--connect-to), 1 without. */
	json_object_object_add(j, "targets",
	    json_object_new_int64(o->nconnect_to > 0 ? (int64_t)o->nconnect_to : 1));
	json_object_object_add(j, "mode", json_object_new_string(o->burst > 0 ? "burst" : "closed"));
	json_object_object_add(j, "concurrency",
	    json_object_new_int64(o->burst > 0 ? o->burst : o->concurrency));
	json_object_object_add(j, "seconds", jdouble(window, 3));
	json_object_object_add(j, "elapsed", jdouble(elapsed, 3));
	json_object_object_add(j, "poll_cap_ms", json_object_new_int64(o->poll_cap_ms));
	/* Whether a flow counted only with a good OCSP response (step "ocsp"). */
	json_object_object_add(j, "ocsp", json_object_new_boolean(o->ocsp));
	json_object_object_add(j, "started", json_object_new_int64(st->started));
	json_object_object_add(j, "completed", json_object_new_int64(st->completed));
	json_object_object_add(j, "completed_in_window",
	    json_object_new_int64(st->completed_in_window));
	json_object_object_add(j, "failed", json_object_new_int64(st->failed));
	json_object_object_add(j, "unfinished", json_object_new_int64(st->unfinished));
	json_object_object_add(j, "requests", json_object_new_int64(st->requests));
	json_object_object_add(j, "certs_per_s", jdouble(rate, 2));
	json_object_object_add(j, "certs_per_s_in_window", jdouble(window > 0 && o->burst == 0 ?
	    (double)st->completed_in_window / window : 0, 2));
	json_object_object_add(j, "last_completion_s", jdouble(last_ok, 3));
	for (int i = 0; i < STEP_COUNT; i++) {
		const struct samples *s = &st->step[i];
		json_object *x = json_object_new_object();
		json_object_object_add(x, "n", json_object_new_int64((int64_t)s->n));
		json_object_object_add(x, "p50_ms", jdouble(pct_ms(s, 0.5), 2));
		json_object_object_add(x, "p90_ms", jdouble(pct_ms(s, 0.9), 2));
		json_object_object_add(x, "p99_ms", jdouble(pct_ms(s, 0.99), 2));
		json_object_object_add(x, "max_ms", jdouble(pct_ms(s, 1.0), 2));
		json_object_object_add(steps, step_name((enum step)i), x);
	}
	json_object_object_add(j, "steps", steps);
	json_object_object_add(j, "errors_by_status", json_object_get(st->by_status));
	json_object_object_add(j, "errors_by_type", json_object_get(st->by_type));
	json_object_object_add(j, "errors_by_step", json_object_get(st->by_where));
	for (unsigned i = 0; cpu != NULL && i < cpu->n; i++) {
		double d = cpu->g[i].at[1] - cpu->g[i].at[0];
		server_cpu += d;
		json_object_object_add(cpuj, cpu->g[i].name, jdouble(d, 3));
	}
	json_object_object_add(j, "cpu_s", cpuj);
	json_object_object_add(j, "server_cpu_s", jdouble(server_cpu, 3));
	json_object_object_add(j, "server_cpu_ms_per_cert",
	    jdouble(st->completed > 0 ? server_cpu * 1000.0 / (double)st->completed : 0, 3));
	json_object_object_add(j, "client_cpu_ms_per_cert", jdouble(cpu != NULL &&
	    st->completed > 0 ? (cpu->self[1] - cpu->self[0]) * 1000.0 / (double)st->completed :
	    0, 3));
	http01_counts(h, &served, &nf, &bad);
	json_object_object_add(j, "http01_served", json_object_new_int64(served));
	json_object_object_add(j, "http01_not_found", json_object_new_int64(nf));
	json_object_object_add(j, "http01_bad", json_object_new_int64(bad));

	if (o->json_path != NULL) {
		if ((jf = fopen(o->json_path, "w")) == NULL) {
			perror(o->json_path);
			rc = -1;
			goto out;
		}
		tf = stdout;
	}
	fprintf(jf, "%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	if (jf != stdout)
		fclose(jf);

	fprintf(tf, "%s%s %s%s, %lld flows%s: %ld completed (%ld in the window), %ld failed, "
	    "%ld unfinished, %.2f certificates/s over %.2f s (last completion at %.2f s)\n",
	    o->label != NULL ? o->label : "", o->label != NULL ? ":" : "",
	    o->burst > 0 ? "burst" : "closed loop", o->ocsp ? " with OCSP" : "",
	    (long long)(o->burst > 0 ? o->burst : o->concurrency), o->burst > 0 ? "" : " at once",
	    st->completed,
	    st->completed_in_window, st->failed, st->unfinished, rate, span, last_ok);
	fprintf(tf, "%-11s %8s %9s %9s %9s %9s\n", "step", "n", "p50 ms", "p90 ms", "p99 ms",
	    "max ms");
	for (int i = 0; i < STEP_COUNT; i++) {
		const struct samples *s = &st->step[i];
		if (s->n == 0)
			continue;
		fprintf(tf, "%-11s %8zu %9.2f %9.2f %9.2f %9.2f\n", step_name((enum step)i), s->n,
		    pct_ms(s, 0.5), pct_ms(s, 0.9), pct_ms(s, 0.99), pct_ms(s, 1.0));
	}
	if (cpu != NULL && cpu->n > 0) {
		fprintf(tf, "server CPU:");
		for (unsigned i = 0; i < cpu->n; i++)
			fprintf(tf, " %s %.2f s", cpu->g[i].name, cpu->g[i].at[1] - cpu->g[i].at[0]);
		fprintf(tf, "; %.3f ms per certificate\n", st->completed > 0 ?
		    server_cpu * 1000.0 / (double)st->completed : 0.0);
	}
	json_object_object_foreach(st->by_where, k, v)
		fprintf(tf, "error: %s: %lld\n", k, (long long)json_object_get_int64(v));
out:
	json_object_put(j);
	return rc;
}
