/* The status page (fcgi/status.html, embedded at build time as status_html[]) and its data:
 * the samples anvil-jobs writes once a minute (jobs/observe.c, migrations/0008) over the last
 * `minutes` (1..2880, default 360), as JSON arrays, one per series, plus the figures of today (UTC). */
#include "config.h"
#include <string.h>
#include <time.h>
#include "db/observe.h"
#include "fcgi/observe.h"
#include "fcgi/observe_uri.h"

#define DATA_MAX (1024 * 1024)

extern const char status_html[];
extern const unsigned long status_html_len;

void
observe_status_page(struct req *r)
{
	observe_text(r, 200, "text/html; charset=utf-8", status_html, (size_t)status_html_len);
	req_header(r, "Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; "
	    "style-src 'unsafe-inline'; connect-src 'self'; img-src data:");
}

struct series {
	json_object *at, *issued, *vfail, *vok, *depth, *qage, *slat, *ocsp;
	int64_t today_start, today_issued, today_vfail, today_vok;
	int64_t first_vfail, first_vok, last_vfail, last_vok;
	int seen_today;
};

static json_object *
opt_i64(int64_t v)
{
	return v < 0 ? NULL : json_object_new_int64(v);
}

static anvil_err
sample(void *arg, const struct db_sample *s)
{
	struct series *x = arg;

	json_object_array_add(x->at, json_object_new_int64(s->at));
	json_object_array_add(x->issued, json_object_new_int64(s->issued));
	json_object_array_add(x->vfail, json_object_new_int64(s->validations_invalid));
	json_object_array_add(x->vok, json_object_new_int64(s->validations_valid));
	json_object_array_add(x->depth, json_object_new_int64(s->queue_depth));
	json_object_array_add(x->qage, json_object_new_int64(s->queue_oldest_age));
	json_object_array_add(x->slat, opt_i64(s->signer_latency_us));
	json_object_array_add(x->ocsp, opt_i64(s->ocsp_oldest_age));
	if (s->at >= x->today_start) {
		x->today_issued += s->issued;
		x->today_vfail += s->validations_invalid;
		x->today_vok += s->validations_valid;
		x->seen_today = 1;
	}
	return AE_OK;
}

void
observe_status_data(struct req *r)
{
	json_object *root = json_object_new_object(), *series = json_object_new_object(), *today;
	int64_t now = (int64_t)time(NULL), minutes = observe_query_int(r->uri, "minutes", 1,
	    2880, 360), since;
	struct series x;
	anvil_err e;

	memset(&x, 0, sizeof(x));
	req_keep(r, root);
	/* Today's figures need today's samples even when fewer hours are plotted. */
	x.today_start = now - now % 86400;
	since = now - minutes * 60;
	if (x.today_start < since)
		since = x.today_start;
	x.at = json_object_new_array();
	x.issued = json_object_new_array();
	x.vfail = json_object_new_array();
	x.vok = json_object_new_array();
	x.depth = json_object_new_array();
	x.qage = json_object_new_array();
	x.slat = json_object_new_array();
	x.ocsp = json_object_new_array();
	if (root == NULL || series == NULL || x.at == NULL || x.issued == NULL || x.vfail == NULL ||
	    x.vok == NULL || x.depth == NULL || x.qage == NULL || x.slat == NULL || x.ocsp == NULL) {
		json_object_put(series);
		json_object_put(x.at);
		json_object_put(x.issued);
		json_object_put(x.vfail);
		json_object_put(x.vok);
		json_object_put(x.depth);
		json_object_put(x.qage);
		json_object_put(x.slat);
		json_object_put(x.ocsp);
		req_fail(r, AE_NOMEM, "status data");
		return;
	}
	json_object_object_add(series, "at", x.at);
	json_object_object_add(series, "issued", x.issued);
	json_object_object_add(series, "validation_failures", x.vfail);
	json_object_object_add(series, "validations_valid", x.vok);
	json_object_object_add(series, "queue_depth", x.depth);
	json_object_object_add(series, "queue_oldest_age_s", x.qage);
	json_object_object_add(series, "signer_latency_us", x.slat);
	json_object_object_add(series, "ocsp_oldest_age_s", x.ocsp);
	if ((e = db_samples(r->db, since, sample, &x)) != AE_OK) {
		req_fail(r, e, "status samples");
		return;
	}
	if ((today = json_object_new_object()) == NULL) {
		req_fail(r, AE_NOMEM, "status data");
		return;
	}
	json_object_object_add(today, "issued", json_object_new_int64(x.today_issued));
	json_object_object_add(today, "validation_failures", json_object_new_int64(x.today_vfail));
	json_object_object_add(today, "validations_valid", json_object_new_int64(x.today_vok));
	json_object_object_add(root, "now", json_object_new_int64(now));
	json_object_object_add(root, "from", json_object_new_int64(now - minutes * 60));
	json_object_object_add(root, "minutes", json_object_new_int64(minutes));
	json_object_object_add(root, "series", series);
	json_object_object_add(root, "today", today);
	req_json(r, 200, json_object_get(root));
}
