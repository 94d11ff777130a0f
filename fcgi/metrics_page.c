/* /metrics: the workers' shared counters (fcgi/metrics.c), then what the database and the
 * signer know, read at scrape time: orders by status, job queues, anvil-jobs' counters and
 * heartbeat, OCSP/CRL freshness, the CT final-certificate backlog, the signer's stats. A
 * source that does not answer is anvil_up{source=...} 0 and its families are left out (a
 * scrape never fails because of it). */
#include "config.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "db/admin.h"
#include "db/ctfinal.h"
#include "db/freshness.h"
#include "db/observe.h"
#include "fcgi/metrics.h"
#include "fcgi/observe.h"

#define METRICS_MAX (1024 * 1024)
#define ISSUERS_MAX 16
#define FRESH_SCAN_MAX 10000
#define SIGNER_TIMEOUT_MS 1000
#define CT "text/plain; version=0.0.4; charset=utf-8"

struct page {
	struct buf *out;
	int64_t now;
	anvil_err e;
	int64_t jobs_issued;
	int header;
};

/* Label values from the database are our own words; anything else is left out. */
static int
label_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static anvil_err
order_row(void *arg, const char *status, int64_t n)
{
	struct page *p = arg;

	if (label_ok(status))
		p->e = buf_printf(p->out, "anvil_orders{status=\"%s\"} %lld\n", status, (long long)n);
	return p->e;
}

struct depth_rows {
	char kind[16][33];
	int64_t queued[16], failed[16], oldest[16];
	size_t n;
};

static anvil_err
depth_row(void *arg, const char *kind, const char *state, int64_t n, int64_t oldest)
{
	struct depth_rows *d = arg;
	size_t i;

	if (!label_ok(kind) || strlen(kind) >= sizeof(d->kind[0]))
		return AE_OK;
	for (i = 0; i < d->n && strcmp(d->kind[i], kind) != 0; i++)
		;
	if (i == d->n) {
		if (d->n == sizeof(d->kind) / sizeof(d->kind[0]))
			return AE_OK;
		snprintf(d->kind[d->n++], sizeof(d->kind[0]), "%s", kind);
		d->queued[i] = d->failed[i] = d->oldest[i] = 0;
	}
	if (strcmp(state, "queued") == 0) {
		d->queued[i] = n;
		d->oldest[i] = oldest;
	} else if (strcmp(state, "failed") == 0) {
		d->failed[i] = n;
	}
	return AE_OK;
}

static anvil_err
counter_row(void *arg, const char *name, const char *labels, int64_t value)
{
	struct page *p = arg;
	char type[64];
	const char *sp;

	if (strcmp(name, "issued") == 0) {
		p->jobs_issued = value;
		return AE_OK;
	}
	if (strcmp(name, "validations") != 0 || (sp = strchr(labels, ' ')) == NULL ||
	    (size_t)(sp - labels) >= sizeof(type))
		return AE_OK;
	memcpy(type, labels, (size_t)(sp - labels));
	type[sp - labels] = '\0';
	if (!label_ok(type) || !label_ok(sp + 1))
		return AE_OK;
	if (!p->header) {
		p->e = buf_printf(p->out, "# HELP anvil_validations_total Challenge validations "
		    "decided by anvil-jobs, by challenge type and result.\n"
		    "# TYPE anvil_validations_total counter\n");
		p->header = 1;
	}
	if (p->e == AE_OK)
		p->e = buf_printf(p->out, "anvil_validations_total{type=\"%s\",result=\"%s\"} %lld\n",
		    type, sp + 1, (long long)value);
	return p->e;
}

static int64_t
age(int64_t now, int64_t t)
{
	return t > 0 && t < now ? now - t : 0;
}

static void
database(struct req *r, struct page *p, int *up)
{
	struct db_freshness f[ISSUERS_MAX];
	struct depth_rows d;
	json_object *is;
	int64_t beat = 0, q = 0, oldest = 0;
	size_t nf = 0;
	int truncated = 0;
	struct buf *o = p->out;

	*up = 0;
	memset(&d, 0, sizeof(d));
	/* The kinds anvil-fcgi queues are always there, at 0 when the table has none. */
	(void)depth_row(&d, "validate", "queued", 0, 0);
	(void)depth_row(&d, "finalize", "queued", 0, 0);
	(void)depth_row(&d, DB_CT_FINAL_KIND, "queued", 0, 0);
	if (db_newest_beat(r->db, &beat) != AE_OK)
		return;
	*up = 1;
	p->e = buf_printf(o, "# HELP anvil_orders Orders in the database, by status.\n"
	    "# TYPE anvil_orders gauge\n");
	if (p->e == AE_OK && db_orders_by_status(r->db, order_row, p) != AE_OK && p->e == AE_OK)
		*up = 0;
	if (p->e == AE_OK && db_jobs_depths(r->db, depth_row, &d) != AE_OK)
		*up = 0;
	if (p->e == AE_OK && d.n > 0) {
		p->e = buf_printf(o, "# HELP anvil_jobs_queued Jobs queued (due or waiting for a "
		    "retry), by kind.\n# TYPE anvil_jobs_queued gauge\n");
		for (size_t i = 0; p->e == AE_OK && i < d.n; i++)
			p->e = buf_printf(o, "anvil_jobs_queued{kind=\"%s\"} %lld\n", d.kind[i],
			    (long long)d.queued[i]);
		if (p->e == AE_OK)
			p->e = buf_printf(o, "# HELP anvil_jobs_failed Jobs failed for good, by kind.\n"
			    "# TYPE anvil_jobs_failed gauge\n");
		for (size_t i = 0; p->e == AE_OK && i < d.n; i++)
			p->e = buf_printf(o, "anvil_jobs_failed{kind=\"%s\"} %lld\n", d.kind[i],
			    (long long)d.failed[i]);
		if (p->e == AE_OK)
			p->e = buf_printf(o, "# HELP anvil_jobs_oldest_due_age_seconds How long the "
			    "earliest due queued job of a kind has been due (0: none due).\n"
			    "# TYPE anvil_jobs_oldest_due_age_seconds gauge\n");
		for (size_t i = 0; p->e == AE_OK && i < d.n; i++)
			p->e = buf_printf(o, "anvil_jobs_oldest_due_age_seconds{kind=\"%s\"} %lld\n",
			    d.kind[i], (long long)(d.queued[i] > 0 ? age(p->now, d.oldest[i]) : 0));
	}
	if (p->e == AE_OK && db_counters(r->db, counter_row, p) != AE_OK)
		*up = 0;
	if (p->e == AE_OK)
		p->e = buf_printf(o, "# HELP anvil_jobs_heartbeat_age_seconds Seconds since the "
		    "newest anvil-jobs heartbeat (-1: none recorded).\n"
		    "# TYPE anvil_jobs_heartbeat_age_seconds gauge\n"
		    "anvil_jobs_heartbeat_age_seconds %lld\n", (long long)(beat > 0 ? p->now - beat : -1));
	if (p->e == AE_OK && db_ct_final_backlog(r->db, p->now, &q, &oldest) == AE_OK)
		p->e = buf_printf(o, "# HELP anvil_ct_final_backlog Final certificates waiting to be "
		    "submitted to CT logs (one job per certificate and log).\n"
		    "# TYPE anvil_ct_final_backlog gauge\nanvil_ct_final_backlog %lld\n"
		    "# HELP anvil_ct_final_oldest_age_seconds Age of the oldest of them.\n"
		    "# TYPE anvil_ct_final_oldest_age_seconds gauge\n"
		    "anvil_ct_final_oldest_age_seconds %lld\n", (long long)q, (long long)oldest);
	memset(f, 0, sizeof(f));
	if (json_object_object_get_ex(r->conf->root, "issuers", &is) &&
	    json_object_is_type(is, json_type_object)) {
		json_object_object_foreach(is, name, v) {
			(void)v;
			if (nf < ISSUERS_MAX && label_ok(name) && strlen(name) < sizeof(f[0].issuer))
				snprintf(f[nf++].issuer, sizeof(f[0].issuer), "%s", name);
		}
	}
	if (p->e != AE_OK || nf == 0)
		return;
	if (db_freshness(r->db, p->now, FRESH_SCAN_MAX, f, nf, &truncated) != AE_OK) {
		*up = 0;
		return;
	}
	{
		static const struct { const char *name, *help; size_t off; int is_age; } fam[] = {
#define F(n, h, m, a) { n, h, offsetof(struct db_freshness, m), a }
			F("anvil_ocsp_oldest_response_age_seconds", "Age of the oldest published OCSP "
			    "response of an unexpired certificate (0: none yet).", oldest_this_update, 1),
			F("anvil_ocsp_unsigned_responses", "Unexpired certificates without an OCSP "
			    "response yet.", unsigned_responses, 0),
			F("anvil_ocsp_past_refresh", "OCSP responses past their refresh point.",
			    past_refresh, 0),
			F("anvil_ocsp_past_next_update", "OCSP responses past nextUpdate (relying "
			    "parties reject them).", past_next_update, 0),
			F("anvil_crl_oldest_age_seconds", "Age of the oldest published CRL shard.",
			    crl_oldest_this_update, 1),
			F("anvil_crl_past_next_update", "CRL shards past nextUpdate.",
			    crl_past_next_update, 0),
			F("anvil_crl_overdue", "CRL shards whose rebuild is due (e.g. after a "
			    "revocation).", crl_overdue, 0),
#undef F
		};
		for (size_t k = 0; p->e == AE_OK && k < sizeof(fam) / sizeof(fam[0]); k++) {
			p->e = buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n", fam[k].name, fam[k].help,
			    fam[k].name);
			for (size_t i = 0; p->e == AE_OK && i < nf; i++) {
				int64_t v = *(const int64_t *)(const void *)((const char *)&f[i] +
				    fam[k].off);
				p->e = buf_printf(o, "%s{issuer=\"%s\"} %lld\n", fam[k].name, f[i].issuer,
				    (long long)(fam[k].is_age ? age(p->now, v) : v));
			}
		}
		if (p->e == AE_OK)
			p->e = buf_printf(o, "# HELP anvil_freshness_truncated Whether the OCSP counts "
			    "are lower bounds (more rows past refresh than one scan reads).\n"
			    "# TYPE anvil_freshness_truncated gauge\nanvil_freshness_truncated %d\n",
			    truncated);
	}
}

static void
signer_figures(struct req *r, struct page *p, int *up)
{
	static const struct { const char *key, *name, *type, *help; double scale; } fam[] = {
		{ "signed", "anvil_signer_signatures_total", "counter", "Signatures made.", 1 },
		{ "failed", "anvil_signer_hsm_errors_total", "counter", "Operations the HSM failed.",
		  1 },
		{ "busy", "anvil_signer_busy_total", "counter", "Requests answered busy (queue full).",
		  1 },
		{ "deadline_dropped", "anvil_signer_deadline_dropped_total", "counter", "Requests "
		  "dropped because their deadline passed in the queue.", 1 },
		{ "sessions_reopened", "anvil_signer_relogins_total", "counter", "HSM sessions "
		  "reopened and logged in again (after a device reset).", 1 },
		{ "sessions", "anvil_signer_sessions", "gauge", "HSM sessions configured.", 1 },
		{ "sessions_up", "anvil_signer_sessions_up", "gauge", "HSM sessions logged in.", 1 },
		{ "active", "anvil_signer_active", "gauge", "Operations at the HSM now.", 1 },
		{ "queue_len", "anvil_signer_queue_length", "gauge", "Requests waiting for a session.",
		  1 },
		{ "queue_max", "anvil_signer_queue_capacity", "gauge", "Queue length at which the "
		  "signer answers busy.", 1 },
		{ "queue_delay_p50_us", "anvil_signer_queue_delay_p50_seconds", "gauge", "Median "
		  "wait in the queue (upper bound of a power-of-two bucket).", 1e-6 },
		{ "queue_delay_p99_us", "anvil_signer_queue_delay_p99_seconds", "gauge", "99th "
		  "percentile wait in the queue (upper bound of a power-of-two bucket).", 1e-6 },
		{ "hsm_avg_us", "anvil_signer_hsm_latency_avg_seconds", "gauge", "Average time of an "
		  "HSM operation.", 1e-6 },
	};
	json_object *stats = NULL, *v;
	char detail[256];
	anvil_err e = observe_signer(r->conf, SIGNER_TIMEOUT_MS, &stats, detail, sizeof(detail));

	*up = e == AE_OK ? 1 : e == AE_NOTFOUND ? -1 : 0;
	for (size_t k = 0; stats != NULL && p->e == AE_OK && k < sizeof(fam) / sizeof(fam[0]); k++) {
		if (!json_object_object_get_ex(stats, fam[k].key, &v))
			continue;
		if (fam[k].scale == 1)
			p->e = buf_printf(p->out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", fam[k].name,
			    fam[k].help, fam[k].name, fam[k].type, fam[k].name,
			    (long long)json_object_get_int64(v));
		else
			p->e = buf_printf(p->out, "# HELP %s %s\n# TYPE %s %s\n%s %.6f\n", fam[k].name,
			    fam[k].help, fam[k].name, fam[k].type, fam[k].name,
			    (double)json_object_get_int64(v) * fam[k].scale);
	}
	if (stats != NULL && p->e == AE_OK && json_object_object_get_ex(stats, "signed_by_op", &v) &&
	    json_object_is_type(v, json_type_object)) {
		p->e = buf_printf(p->out, "# HELP anvil_signer_replies_total Successful replies of the "
		    "signer, by signing operation.\n# TYPE anvil_signer_replies_total counter\n");
		json_object_object_foreach(v, op, n) {
			if (p->e == AE_OK && label_ok(op))
				p->e = buf_printf(p->out, "anvil_signer_replies_total{op=\"%s\"} %lld\n",
				    op, (long long)json_object_get_int64(n));
		}
	}
	json_object_put(stats);
}

void
observe_metrics(struct req *r)
{
	struct buf out;
	struct page p;
	int db_up = 0, signer_up = 0;

	buf_init(&out, METRICS_MAX);
	memset(&p, 0, sizeof(p));
	p.out = &out;
	p.now = (int64_t)time(NULL);
	p.e = metrics_render(&out);
	if (p.e == AE_OK)
		database(r, &p, &db_up);
	if (p.e == AE_OK)
		p.e = buf_printf(&out, "# HELP anvil_certificates_issued_total Certificates issued "
		    "and stored, by the workers (within a finalize request) or by anvil-jobs.\n"
		    "# TYPE anvil_certificates_issued_total counter\n"
		    "anvil_certificates_issued_total{by=\"worker\"} %llu\n"
		    "anvil_certificates_issued_total{by=\"anvil-jobs\"} %lld\n",
		    (unsigned long long)metrics_issued(), (long long)p.jobs_issued);
	if (p.e == AE_OK)
		signer_figures(r, &p, &signer_up);
	if (p.e == AE_OK)
		p.e = buf_printf(&out, "# HELP anvil_up Whether a source of these figures answered "
		    "this scrape.\n# TYPE anvil_up gauge\nanvil_up{source=\"database\"} %d\n", db_up);
	if (p.e == AE_OK && signer_up >= 0)
		p.e = buf_printf(&out, "anvil_up{source=\"signer\"} %d\n", signer_up);
	if (p.e != AE_OK)
		req_fail(r, p.e, "metrics");
	else
		observe_text(r, 200, CT, (const char *)out.data, out.len);
	buf_free(&out);
}
