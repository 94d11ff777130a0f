#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "ct/client.h"
#include "ct/response.h"
#include "lib/clock.h"
#include "lib/log.h"

#define BACKOFF_BASE_MS 10000

struct log_state {
	int64_t failures;     /* consecutive */
	uint64_t until;       /* mono ms: skipped before this */
};

struct ct_client {
	const struct ct_conf *conf;
	struct log_state st[CT_LOGS_MAX];
	/* Connections, DNS answers and TLS sessions outlive a submission: the next precertificate
	 * reuses the connection to each log instead of a new handshake per log per certificate. */
	CURLSH *share;
};

struct xfer {
	CURL *h;
	struct buf resp;
};

struct ct_submission {
	struct ct_client *cl;
	CURLM *multi;
	const struct ct_leaf *leaf;
	struct buf body;
	struct curl_slist *hdrs;
	const char *what;         /* the policy's name, for messages */
	uint64_t start, deadline;
	int64_t need_scts, need_ops;
	struct ct_log_result res[CT_LOGS_MAX];
	struct xfer xf[CT_LOGS_MAX];
	size_t nres, running;
	size_t kept[CT_LOGS_MAX];
	size_t nkept;
	uint64_t covered;         /* operators with a kept SCT */
	int decided, met;
};

anvil_err
ct_client_new(const struct ct_conf *conf, struct ct_client **out)
{
	*out = NULL;
	/* Reference-counted and thread-safe since curl 7.84 (Debian 12 has 7.88): each client
	 * holds one reference, so threads may create clients at will. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return AE_INTERNAL;
	if ((*out = calloc(1, sizeof(**out))) == NULL) {
		curl_global_cleanup();
		return AE_NOMEM;
	}
	(*out)->conf = conf;
	if (((*out)->share = curl_share_init()) == NULL ||
	    curl_share_setopt((*out)->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt((*out)->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt((*out)->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
	    CURLSHE_OK) {
		ct_client_free(*out);
		*out = NULL;
		return AE_NOMEM;
	}
	return AE_OK;
}

void
ct_client_free(struct ct_client *cl)
{
	if (cl == NULL)
		return;
	if (cl->share != NULL)
		curl_share_cleanup(cl->share);
	free(cl);
	curl_global_cleanup();
}

int64_t
ct_client_failures(const struct ct_client *cl, size_t i, int *backing_off)
{
	if (i >= CT_LOGS_MAX)
		return 0;
	if (backing_off != NULL)
		*backing_off = cl->st[i].until > clock_mono_ms();
	return cl->st[i].failures;
}

/* A log that asked for a pause (429 or 503 with Retry-After, as logs under load answer) gets
 * it at once, up to backoff_max_seconds; otherwise it is skipped after backoff_after_failures
 * failures in a row. */
static void
note(struct ct_client *cl, size_t i, int ok, long retry_after_s)
{
	struct log_state *st = &cl->st[i];
	uint64_t max = (uint64_t)cl->conf->backoff_max_s * 1000, ms = 0, until;
	int64_t over;

	if (ok) {
		st->failures = 0;
		st->until = 0;
		return;
	}
	st->failures++;
	if ((over = st->failures - cl->conf->backoff_after_failures) >= 0) {
		ms = BACKOFF_BASE_MS;
		while (over-- > 0 && ms < max)
			ms *= 2;
	}
	if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > ms)
		ms = (uint64_t)retry_after_s * 1000;
	if (ms == 0)
		return;
	if (ms > max)
		ms = max;
	if ((until = clock_mono_ms() + ms) > st->until)
		st->until = until;
	log_warn("ct: log %s failed %lld times in a row%s: skipped for %llu s",
	    cl->conf->logs[i].name, (long long)st->failures,
	    retry_after_s > 0 ? " and asked for a pause" : "", (unsigned long long)(ms / 1000));
}

static size_t
ops_of(const struct ct_conf *c, uint64_t set)
{
	uint64_t seen = 0;

	for (size_t i = 0; i < c->nlogs; i++)
		if (set & (UINT64_C(1) << i))
			seen |= UINT64_C(1) << c->logs[i].operator;
	return (size_t)__builtin_popcountll(seen);
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	/* A short count makes curl fail the transfer: the log's answer is over its cap. */
	if (n != 0 && size > SIZE_MAX / n)
		return 0;
	return buf_append(b, p, size * n) == AE_OK ? size * n : 0;
}

static void
set_why(struct ct_log_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_why(struct ct_log_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void
finish_xfer(struct ct_submission *s, size_t i, enum ct_log_outcome o)
{
	struct xfer *x = &s->xf[i];

	if (x->h != NULL) {
		curl_multi_remove_handle(s->multi, x->h);
		curl_easy_cleanup(x->h);
		x->h = NULL;
		s->running--;
	}
	buf_free(&x->resp);
	s->res[i].outcome = o;
	s->res[i].ms = clock_mono_ms() - s->start;
}

static void
cancel(struct ct_submission *s, size_t i, const char *why)
{
	if (s->res[i].outcome != CT_LOG_PENDING)
		return;
	finish_xfer(s, i, CT_LOG_CANCELLED);
	set_why(&s->res[i], "%s", why);
}

/* Pending logs that can still give an SCT the policy counts. */
static uint64_t
pending_set(const struct ct_submission *s)
{
	uint64_t set = 0;

	for (size_t i = 0; i < s->nres; i++)
		if (s->res[i].outcome == CT_LOG_PENDING && !s->res[i].informational)
			set |= UINT64_C(1) << s->res[i].log->index;
	return set;
}

static void
decide(struct ct_submission *s, int met, const char *why)
{
	s->decided = 1;
	s->met = met;
	for (size_t i = 0; i < s->nres; i++)
		if (!s->res[i].informational)
			cancel(s, i, why);
}

/* After every answer: keep or drop the SCT, cancel what can no longer help, decide. */
static void
account(struct ct_submission *s)
{
	const struct ct_conf *c = s->cl->conf;
	int64_t k = (int64_t)s->nkept, cov = __builtin_popcountll(s->covered);
	uint64_t pend, pend_ops = 0;

	if (k >= s->need_scts && cov >= s->need_ops) {
		decide(s, 1, "cancelled: the policy was met");
		return;
	}
	/* No room left for a second SCT of an operator: its other requests can only be
	 * discarded, so cancel them now. */
	if (s->need_scts - k <= s->need_ops - cov) {
		for (size_t i = 0; i < s->nres; i++)
			if (!s->res[i].informational &&
			    (s->covered & (UINT64_C(1) << s->res[i].log->operator)))
				cancel(s, i, "cancelled: its operator already gave an SCT");
	}
	pend = pending_set(s);
	for (size_t i = 0; i < c->nlogs; i++)
		if ((pend & (UINT64_C(1) << i)) &&
		    !(s->covered & (UINT64_C(1) << c->logs[i].operator)))
			pend_ops |= UINT64_C(1) << c->logs[i].operator;
	if (cov + __builtin_popcountll(pend_ops) < s->need_ops ||
	    k + __builtin_popcountll(pend) < s->need_scts)
		decide(s, 0, "cancelled: the policy can no longer be met");
}

static void
keep(struct ct_submission *s, size_t i)
{
	int64_t k = (int64_t)s->nkept, cov = __builtin_popcountll(s->covered);
	uint64_t op = UINT64_C(1) << s->res[i].log->operator;

	if (s->res[i].informational || s->decided)
		return;
	if (!(s->covered & op) || s->need_scts - k > s->need_ops - cov) {
		s->covered |= op;
		s->kept[s->nkept++] = i;
		s->res[i].kept = 1;
	}
}

static void
completed(struct ct_submission *s, size_t i, CURLcode rc)
{
	struct ct_log_result *r = &s->res[i];
	struct xfer *x = &s->xf[i];
	long code = 0;
	curl_off_t retry_after = 0;
	char why[120];

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	if (code == 429 || code == 503)
		curl_easy_getinfo(x->h, CURLINFO_RETRY_AFTER, &retry_after);
	curl_easy_getinfo(x->h, CURLINFO_NUM_CONNECTS, &r->connects);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		set_why(r, "no answer within %llu ms",
		    (unsigned long long)(clock_mono_ms() - s->start));
	else if (rc == CURLE_WRITE_ERROR)
		set_why(r, "answer over %d bytes", CT_RESPONSE_MAX);
	else if (rc != CURLE_OK)
		set_why(r, "%s", curl_easy_strerror(rc));
	else if (code != 200)
		set_why(r, "HTTP status %ld", code);
	else if (ct_response_parse((const char *)x->resp.data, x->resp.len, &r->sct, why,
	    sizeof(why)) != AE_OK)
		set_why(r, "bad answer: %s", why);
	else if (ct_sct_verify(&r->sct, &r->log->key, &s->leaf->entry, clock_wall_ms(), why,
	    sizeof(why)) != AE_OK)
		set_why(r, "%s", why);
	else {
		finish_xfer(s, i, CT_LOG_OK);
		note(s->cl, r->log->index, 1, 0);
		keep(s, i);
		log_debug("ct: log=%s sct ms=%llu kept=%d", r->log->name,
		    (unsigned long long)r->ms, r->kept);
		return;
	}
	finish_xfer(s, i, CT_LOG_FAILED);
	note(s->cl, r->log->index, 0, retry_after > 86400 ? 86400 : (long)retry_after);
	log_info("ct: log=%s failed ms=%llu: %s", r->log->name, (unsigned long long)r->ms,
	    r->why);
}

static anvil_err
add_xfer(struct ct_submission *s, const struct ct_log *l, int informational, int64_t timeout)
{
	struct ct_log_result *r = &s->res[s->nres];
	struct xfer *x = &s->xf[s->nres];
	char url[CT_URL_MAX + 32];
	CURL *h;

	r->log = l;
	r->informational = informational;
	r->outcome = CT_LOG_PENDING;
	buf_init(&x->resp, CT_RESPONSE_MAX);
	snprintf(url, sizeof(url), "%s/ct/v1/%s", l->url,
	    s->leaf->entry.type == CT_ENTRY_PRECERT ? "add-pre-chain" : "add-chain");
	if ((h = curl_easy_init()) == NULL)
		return AE_NOMEM;
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SHARE, s->cl->share) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)s->body.data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)s->body.len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "anvil-ct/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->resp) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)&s->res[s->nres]) != CURLE_OK ||
	    curl_multi_add_handle(s->multi, h) != CURLM_OK) {
		curl_easy_cleanup(h);
		return AE_INTERNAL;
	}
	x->h = h;
	s->nres++;
	s->running++;
	return AE_OK;
}

static int
accepts(const struct ct_log *l, const struct ct_leaf *leaf)
{
	return l->state == CT_LOG_USABLE && leaf->not_after >= l->not_after_start &&
	    leaf->not_after < l->not_after_end;
}

static anvil_err
start(struct ct_client *cl, const char *what, uint64_t required, uint64_t info,
    int64_t need_scts, int64_t need_ops, int use_backoff, int64_t log_timeout_ms,
    uint64_t deadline, const struct ct_leaf *leaf, const uint8_t *const *chain,
    const size_t *chain_len, size_t nchain, struct ct_submission **out, char *why,
    size_t whylen)
{
	const struct ct_conf *c = cl->conf;
	const uint8_t *ders[CT_CHAIN_MAX];
	size_t lens[CT_CHAIN_MAX];
	uint64_t now = clock_mono_ms(), fresh = 0, cand = 0;
	struct ct_submission *s = NULL;
	int64_t timeout;
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if (nchain + 1 > CT_CHAIN_MAX)
		return AE_RANGE;
	for (size_t i = 0; i < c->nlogs; i++) {
		if (!(required & (UINT64_C(1) << i)) || !accepts(&c->logs[i], leaf))
			continue;
		cand |= UINT64_C(1) << i;
		if (!use_backoff || cl->st[i].until <= now)
			fresh |= UINT64_C(1) << i;
	}
	/* Every log must answer (final certificates): those that accept the leaf. */
	if (need_ops == 0)
		need_scts = __builtin_popcountll(cand);
	if (__builtin_popcountll(cand) < need_scts || (int64_t)ops_of(c, cand) < need_ops) {
		snprintf(why, whylen, "CT policy \"%s\" needs %lld SCTs from %lld operators; only "
		    "%d usable logs of %zu operators accept this notAfter", what,
		    (long long)need_scts, (long long)need_ops, __builtin_popcountll(cand),
		    ops_of(c, cand));
		return AE_UNAVAILABLE;
	}
	/* Logs in backoff are asked only when the policy cannot be met without them. */
	if (__builtin_popcountll(fresh) >= need_scts && (int64_t)ops_of(c, fresh) >= need_ops)
		cand = fresh;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->cl = cl;
	s->leaf = leaf;
	s->what = what;
	s->start = now;
	s->deadline = deadline;
	s->need_scts = need_scts;
	s->need_ops = need_ops;
	buf_init(&s->body, 128u << 10);
	ders[0] = leaf->der;
	lens[0] = leaf->der_len;
	for (size_t i = 0; i < nchain; i++) {
		ders[i + 1] = chain[i];
		lens[i + 1] = chain_len[i];
	}
	if ((e = ct_request_chain(&s->body, ders, lens, nchain + 1)) != AE_OK ||
	    (e = buf_nul(&s->body)) != AE_OK)
		goto out;
	e = AE_NOMEM;
	if ((s->multi = curl_multi_init()) == NULL ||
	    (s->hdrs = curl_slist_append(NULL, "Content-Type: application/json")) == NULL)
		goto out;
	timeout = log_timeout_ms;
	if (deadline <= now)
		timeout = 1;
	else if ((int64_t)(deadline - now) < timeout)
		timeout = (int64_t)(deadline - now);
	for (size_t i = 0; i < c->nlogs; i++) {
		const struct ct_log *l = &c->logs[i];
		if ((required & (UINT64_C(1) << i)) && accepts(l, leaf) &&
		    !(cand & (UINT64_C(1) << i))) {
			s->res[s->nres].log = l;
			s->res[s->nres].outcome = CT_LOG_SKIPPED;
			set_why(&s->res[s->nres], "skipped: %lld failures in a row",
			    (long long)cl->st[i].failures);
			s->nres++;
			continue;
		}
		if (((cand | info) & (UINT64_C(1) << i)) && accepts(l, leaf) &&
		    (e = add_xfer(s, l, !(cand & (UINT64_C(1) << i)), timeout)) != AE_OK)
			goto out;
	}
	if (need_scts == 0)
		s->decided = s->met = 1;
	*out = s;
	s = NULL;
	e = AE_OK;
out:
	ct_submit_free(s);
	return e;
}

static uint64_t
deadline_of(uint64_t now, int64_t ms, uint64_t caller)
{
	uint64_t d = now + (uint64_t)ms;

	return caller != 0 && caller < d ? caller : d;
}

anvil_err
ct_submit_start(struct ct_client *cl, const struct ct_policy *p, const struct ct_leaf *leaf,
    const uint8_t *const *chain, const size_t *chain_len, size_t nchain,
    uint64_t deadline_mono_ms, struct ct_submission **out, char *why, size_t whylen)
{
	uint64_t dl = deadline_of(clock_mono_ms(), p->deadline_ms, deadline_mono_ms);

	if (leaf->entry.type == CT_ENTRY_PRECERT)
		return start(cl, p->name, p->logs, p->informational,
		    ct_policy_min_scts(p, leaf->not_after - leaf->not_before + 1),
		    p->min_operators, 1, p->log_timeout_ms, dl, leaf, chain, chain_len, nchain,
		    out, why, whylen);
	return start(cl, p->name, p->final_logs, 0, __builtin_popcountll(p->final_logs), 0, 0,
	    p->log_timeout_ms, dl, leaf, chain, chain_len, nchain, out, why, whylen);
}

anvil_err
ct_submit_start_logs(struct ct_client *cl, uint64_t logs, int64_t log_timeout_ms,
    const struct ct_leaf *leaf, const uint8_t *const *chain, const size_t *chain_len,
    size_t nchain, uint64_t deadline_mono_ms, struct ct_submission **out, char *why,
    size_t whylen)
{
	uint64_t dl = deadline_of(clock_mono_ms(), log_timeout_ms, deadline_mono_ms);

	return start(cl, "explicit logs", logs, 0, __builtin_popcountll(logs), 0, 0,
	    log_timeout_ms, dl, leaf, chain, chain_len, nchain, out, why, whylen);
}

static void
drain_messages(struct ct_submission *s)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
		struct ct_log_result *r;
		char *priv = NULL;
		if (m->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
		    priv == NULL)
			continue;
		r = (struct ct_log_result *)(void *)priv;
		completed(s, (size_t)(r - s->res), m->data.result);
		if (!s->decided && !r->informational)
			account(s);
	}
}

anvil_err
ct_submit_perform(struct ct_submission *s, int wait_ms)
{
	int still;
	uint64_t now;

	if (curl_multi_perform(s->multi, &still) != CURLM_OK)
		return AE_INTERNAL;
	drain_messages(s);
	now = clock_mono_ms();
	if (now >= s->deadline) {
		for (size_t i = 0; i < s->nres; i++)
			cancel(s, i, "no answer before the deadline");
		if (!s->decided)
			decide(s, 0, "no answer before the deadline");
		return AE_OK;
	}
	if (s->running == 0)
		return AE_OK;
	if (wait_ms > 0) {
		if ((uint64_t)wait_ms > s->deadline - now)
			wait_ms = (int)(s->deadline - now);
		if (curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL) != CURLM_OK ||
		    curl_multi_perform(s->multi, &still) != CURLM_OK)
			return AE_INTERNAL;
		drain_messages(s);
	}
	return AE_OK;
}

int
ct_submit_decided(const struct ct_submission *s)
{
	return s->decided;
}

int
ct_submit_idle(const struct ct_submission *s)
{
	return s->running == 0;
}

anvil_err
ct_submit_run(struct ct_submission *s, int drain)
{
	anvil_err e;

	/* Without a transfer left the outcome is whatever account() decided. */
	while (!(s->decided && (!drain || s->running == 0))) {
		if ((e = ct_submit_perform(s, 100)) != AE_OK)
			return e;
		if (s->running == 0 && !s->decided)
			decide(s, 0, "cancelled");
	}
	return AE_OK;
}

anvil_err
ct_submit_result(const struct ct_submission *s, struct buf *list, char *why, size_t whylen)
{
	const struct ct_sct *scts[CT_LOGS_MAX];
	size_t off;
	int n;

	if (!s->decided)
		return AE_BUSY;
	if (s->met) {
		if (s->leaf->entry.type != CT_ENTRY_PRECERT || list == NULL)
			return AE_OK;
		for (size_t i = 0; i < s->nkept; i++)
			scts[i] = &s->res[s->kept[i]].sct;
		return ct_sct_list_encode(scts, s->nkept, list);
	}
	if (s->need_ops == 0)
		n = snprintf(why, whylen, "CT logs of \"%s\": %zu of %lld logged the certificate",
		    s->what, s->nkept, (long long)s->need_scts);
	else
		n = snprintf(why, whylen, "CT policy \"%s\" not met: %zu of %lld SCTs, %d of "
		    "%lld operators", s->what, s->nkept, (long long)s->need_scts,
		    __builtin_popcountll(s->covered), (long long)s->need_ops);
	off = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < s->nres && off < whylen; i++) {
		const struct ct_log_result *r = &s->res[i];
		if (r->informational || r->outcome == CT_LOG_OK)
			continue;
		n = snprintf(why + off, whylen - off, "; %s: %s", r->log->name, r->why);
		off += n < 0 ? 0 : (size_t)n;
	}
	return AE_UNAVAILABLE;
}

size_t
ct_submit_nlogs(const struct ct_submission *s)
{
	return s->nres;
}

const struct ct_log_result *
ct_submit_log(const struct ct_submission *s, size_t i)
{
	return i < s->nres ? &s->res[i] : NULL;
}

void
ct_submit_free(struct ct_submission *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nres; i++) {
		if (s->xf[i].h != NULL) {
			curl_multi_remove_handle(s->multi, s->xf[i].h);
			curl_easy_cleanup(s->xf[i].h);
		}
		buf_free(&s->xf[i].resp);
	}
	curl_slist_free_all(s->hdrs);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	buf_free(&s->body);
	free(s);
}
