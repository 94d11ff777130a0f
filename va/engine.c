/* The engine: task lifecycle, the one wait of the event loop (curl_multi_wait with c-ares' and
 * the TLS sockets as extra descriptors), results as JSON. */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "lib/clock.h"
#include "va/internal.h"

#define VA_EXTRA_MAX 4096   /* descriptors one wait watches besides curl's own */
#define VA_RECORD_MAX 16384  /* records kept per attempt (authorizations.chall_record) */
#define VA_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

int64_t
va_now_ms(void)
{
	return (int64_t)clock_mono_ms();
}

void
va_addr_str(const struct va_addr *a, char *out, size_t outsz)
{
	if (inet_ntop(a->family, a->b, out, (socklen_t)outsz) == NULL && outsz > 0)
		out[0] = '\0';
}

int
va_addr_parse(const char *s, struct va_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -1;
}

anvil_err
va_new(const struct va_conf *conf, struct va **out)
{
	struct ares_options o;
	struct va *va = NULL;
	anvil_err e = AE_NOMEM;
	int optmask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;

	*out = NULL;
	if ((va = calloc(1, sizeof(*va))) == NULL)
		goto out;
	va->conf = conf;
	e = AE_INTERNAL;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		goto out;
	memset(&o, 0, sizeof(o));
	o.timeout = (int)conf->dns_timeout_ms;
	o.tries = (int)conf->dns_tries;
	/* No search list, no /etc/hosts: a validation asks the configured resolvers about exactly
	 * the name in the challenge. */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	if (ares_init_options(&va->ch, &o, optmask) != ARES_SUCCESS) {
		va->ch = NULL;
		goto out;
	}
	if (conf->resolvers[0] != '\0' &&
	    ares_set_servers_ports_csv(va->ch, conf->resolvers) != ARES_SUCCESS) {
		e = AE_CONFIG;
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (va->multi = curl_multi_init()) == NULL)
		goto out;
	if ((va->wait = calloc(VA_EXTRA_MAX, sizeof(*va->wait))) == NULL)
		goto out;
	if ((va->tls = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(va->tls, TLS1_2_VERSION) != 1)
		goto out;
	/* The acme-tls/1 certificate is self-signed by design: its contents are the proof. */
	SSL_CTX_set_verify(va->tls, SSL_VERIFY_NONE, NULL);
	*out = va;
	va = NULL;
	e = AE_OK;
out:
	va_free(va);
	return e;
}

static void
task_destroy(struct va_task *t)
{
	struct va *va = t->va;

	va_dns_cancel(t);
	va_http_cleanup(t);
	va_tls_cleanup(t);
	for (size_t i = 0; i < VA_DNS_SLOTS; i++)
		free(t->dns[i].abuf);
	buf_free(&t->body);
	json_object_put(t->records);
	json_object_put(t->problem);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		va->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	else
		va->tail = t->prev;
	va->ntasks--;
	free(t);
}

void
va_free(struct va *va)
{
	if (va == NULL)
		return;
	while (va->head != NULL)
		task_destroy(va->head);
	if (va->ch != NULL)
		ares_destroy(va->ch);   /* calls the outstanding callbacks, which free their queries */
	if (va->multi != NULL)
		curl_multi_cleanup(va->multi);
	SSL_CTX_free(va->tls);
	free(va->wait);
	free(va);
}

size_t
va_inflight(const struct va *va)
{
	return va->ntasks;
}

static int
copy_str(char *dst, size_t dstsz, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (src == NULL || n >= dstsz)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

anvil_err
va_task_start(struct va *va, const struct va_input *in, va_done_fn cb, void *arg,
    struct va_task **out)
{
	struct va_task *t = NULL;
	int n;

	if (va->ntasks >= VA_TASKS_MAX)
		return AE_BUSY;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return AE_NOMEM;
	t->fd = -1;
	n = snprintf(t->keyauth, sizeof(t->keyauth), "%s.%s", in->token, in->thumbprint);
	if (n < 0 || (size_t)n >= sizeof(t->keyauth) ||
	    copy_str(t->type, sizeof(t->type), in->type) != 0 ||
	    copy_str(t->ident_type, sizeof(t->ident_type), in->ident_type) != 0 ||
	    copy_str(t->ident, sizeof(t->ident), in->ident_value) != 0 ||
	    copy_str(t->profile, sizeof(t->profile), in->profile) != 0) {
		free(t);
		return AE_PARSE;
	}
	if ((t->records = json_object_new_array()) == NULL) {
		free(t);
		return AE_NOMEM;
	}
	t->va = va;
	t->cb = cb;
	t->arg = arg;
	t->wildcard = in->wildcard;
	t->account_id = in->account_id;
	t->caa_only = in->caa_only;
	t->policy = va_policy_for(va->conf, t->profile);
	t->phase = PH_START;
	t->wake = 1;
	t->deadline = va_now_ms() + va->conf->timeout_ms;
	buf_init(&t->body, (size_t)va->conf->body_max);
	t->prev = va->tail;
	if (va->tail != NULL)
		va->tail->next = t;
	else
		va->head = t;
	va->tail = t;
	va->ntasks++;
	*out = t;
	return AE_OK;
}

void
va_task_cancel(struct va *va, struct va_task *t)
{
	(void)va;
	task_destroy(t);
}

void
va_fail(struct va_task *t, const char *type, const char *fmt, ...)
{
	char detail[1024], full[128];
	json_object *p;
	va_list ap;

	if (t->finished)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* Peer-supplied text (URLs, names) in printable ASCII only: the problem document stays
	 * readable and within authorizations.chall_error however it is escaped. */
	for (char *d = detail; *d; d++)
		if ((unsigned char)*d < 0x20 || (unsigned char)*d >= 0x7f)
			*d = '?';
	snprintf(full, sizeof(full), "urn:ietf:params:acme:error:%s", type);
	t->finished = 1;
	t->valid = 0;
	if ((p = json_object_new_object()) != NULL) {
		json_object_object_add(p, "type", json_object_new_string(full));
		json_object_object_add(p, "detail", json_object_new_string(detail));
		json_object_object_add(p, "status", json_object_new_int(
		    strcmp(type, "serverInternal") == 0 ? 500 : 403));
	}
	t->problem = p;
}

void
va_succeed(struct va_task *t)
{
	if (t->finished)
		return;
	t->finished = 1;
	t->valid = 1;
}

json_object *
va_record_new(struct va_task *t)
{
	json_object *r = json_object_new_object();

	if (r != NULL && json_object_array_add(t->records, r) != 0) {
		json_object_put(r);
		r = NULL;
	}
	return r;
}

void
va_method_begin(struct va_task *t)
{
	const struct va_conf *c = t->va->conf;
	int n;

	if (t->caa_only) {
		va_succeed(t);
		return;
	}
	if (strcmp(t->type, "dns-01") == 0) {
		va_dns01_begin(t);
		return;
	}
	if (t->wildcard) {
		/* §7.1.3: a wildcard is proven in DNS only; the base name's web server says
		 * nothing about every name below it. */
		va_fail(t, "malformed", "%s cannot validate a wildcard identifier", t->type);
		return;
	}
	if (copy_str(t->host, sizeof(t->host), t->ident) != 0) {
		va_fail(t, "malformed", "identifier too long");
		return;
	}
	if (strcmp(t->type, "http-01") == 0) {
		t->port = c->http01_port;
		t->scheme_https = 0;
		n = snprintf(t->url, sizeof(t->url), strchr(t->ident, ':') != NULL ?
		    "http://[%s]:%lld/.well-known/acme-challenge/%.*s" :
		    "http://%s:%lld/.well-known/acme-challenge/%.*s", t->ident,
		    (long long)t->port, (int)(strchr(t->keyauth, '.') - t->keyauth), t->keyauth);
		if (n < 0 || (size_t)n >= sizeof(t->url)) {
			va_fail(t, "malformed", "identifier too long");
			return;
		}
	} else if (strcmp(t->type, "tls-alpn-01") == 0) {
		t->port = c->tls_alpn01_port;
	} else {
		va_fail(t, "malformed", "unknown challenge type");
		return;
	}
	va_target_begin(t);
}

void
va_method_connect(struct va_task *t)
{
	if (strcmp(t->type, "http-01") == 0)
		va_http_begin(t);
	else
		va_tls_begin(t);
}

static void
task_step(struct va_task *t)
{
	t->wake = 0;
	switch (t->phase) {
	case PH_START:
		if (t->policy->caa && strcmp(t->ident_type, "dns") == 0)
			va_caa_begin(t);
		else
			va_method_begin(t);
		break;
	case PH_CAA: va_caa_step(t); break;
	case PH_RESOLVE: va_target_step(t); break;
	case PH_HTTP: va_http_step(t); break;
	case PH_TXT: va_dns01_step(t); break;
	case PH_TLS: va_tls_step(t); break;
	}
}

static void
task_complete(struct va_task *t)
{
	struct va_result r;

	memset(&r, 0, sizeof(r));
	r.valid = t->valid;
	r.record = json_object_to_json_string_ext(t->records, VA_JSON_FLAGS);
	/* Many long redirect hops could outgrow the column: keep the first and the last. */
	while (r.record != NULL && strlen(r.record) > VA_RECORD_MAX &&
	    json_object_array_length(t->records) > 2) {
		json_object_array_del_idx(t->records, 1, 1);
		r.record = json_object_to_json_string_ext(t->records, VA_JSON_FLAGS);
	}
	if (!t->valid)
		r.problem = t->problem != NULL ?
		    json_object_to_json_string_ext(t->problem, VA_JSON_FLAGS) :
		    "{\"type\":\"urn:ietf:params:acme:error:serverInternal\",\"status\":500}";
	t->cb(t->arg, &r);
	task_destroy(t);
}

static void
curl_collect(struct va *va)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(va->multi, &left)) != NULL) {
		struct va_task *t = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t) != CURLE_OK ||
		    t == NULL)
			continue;
		t->curl_done = 1;
		t->curl_res = m->data.result;
		t->wake = 1;
	}
}

anvil_err
va_run_once(struct va *va, int extra_fd, int timeout_ms, int *extra_ready)
{
	struct curl_waitfd *w = va->wait;
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct timeval tv, *tvp, maxtv;
	struct va_task *t, *next;
	size_t n = 0, nares, nares_end;
	unsigned bits;
	anvil_err e = AE_NOMEM;
	int running = 0, numfds = 0;
	int64_t now = va_now_ms();

	*extra_ready = 0;
	/* Each entry is filled whole (revents too) as it is added: clearing all VA_EXTRA_MAX of
	 * them (32 KiB) at every turn of the loop wrote far more than the few entries in use. */
	if (extra_fd >= 0) {
		w[n].fd = extra_fd;
		w[n].revents = 0;
		w[n++].events = CURL_WAIT_POLLIN;
	}
	bits = (unsigned)ares_getsock(va->ch, socks, ARES_GETSOCK_MAXNUM);
	nares = n;	/* w[nares..nares_end) are c-ares' sockets */
	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = 0;

		/* By hand: c-ares' own macros shift a signed 1 into the sign bit. */
		if ((bits >> i) & 1u)
			ev |= CURL_WAIT_POLLIN;
		if ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
			ev |= CURL_WAIT_POLLOUT;
		if (ev != 0 && n < VA_EXTRA_MAX) {
			w[n].fd = socks[i];
			w[n].revents = 0;
			w[n++].events = ev;
		}
	}
	nares_end = n;
	for (t = va->head; t != NULL; t = t->next) {
		if (t->wake)
			timeout_ms = 0;
		if (t->deadline - now < timeout_ms)
			timeout_ms = t->deadline - now < 0 ? 0 : (int)(t->deadline - now);
		if (t->phase == PH_TLS && t->fd >= 0 && t->events != 0 && n < VA_EXTRA_MAX) {
			w[n].fd = t->fd;
			w[n].revents = 0;
			w[n++].events = (short)((t->events & POLLIN ? CURL_WAIT_POLLIN : 0) |
			    (t->events & POLLOUT ? CURL_WAIT_POLLOUT : 0));
		}
	}
	maxtv.tv_sec = timeout_ms / 1000;
	maxtv.tv_usec = (timeout_ms % 1000) * 1000;
	if ((tvp = ares_timeout(va->ch, &maxtv, &tv)) != NULL) {
		int64_t ms = (int64_t)tvp->tv_sec * 1000 + tvp->tv_usec / 1000;
		if (ms < timeout_ms)
			timeout_ms = (int)ms;
	}
	if (curl_multi_wait(va->multi, w, (unsigned)n, timeout_ms, &numfds) != CURLM_OK) {
		e = AE_INTERNAL;
		goto out;
	}
	if (extra_fd >= 0 && (w[0].revents & CURL_WAIT_POLLIN))
		*extra_ready = 1;
	for (size_t i = (extra_fd >= 0 ? 1 : 0); i < n; i++) {
		int rd = (w[i].revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI)) != 0;
		int wr = (w[i].revents & CURL_WAIT_POLLOUT) != 0;

		if (i >= nares && i < nares_end) {
			if (rd || wr)
				ares_process_fd(va->ch, rd ? w[i].fd : ARES_SOCKET_BAD,
				    wr ? w[i].fd : ARES_SOCKET_BAD);
		} else if (w[i].revents != 0) {
			for (t = va->head; t != NULL; t = t->next)
				if (t->phase == PH_TLS && t->fd == w[i].fd)
					t->wake = 1;
		}
	}
	/* Timeouts and retransmissions of c-ares. */
	ares_process_fd(va->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	curl_multi_perform(va->multi, &running);
	curl_collect(va);
	now = va_now_ms();
	for (t = va->head; t != NULL; t = next) {
		next = t->next;
		if (!t->finished && now >= t->deadline)
			va_fail(t, "connection", "Timeout during %s validation of %s", t->type,
			    t->ident);
		else if (t->wake)
			task_step(t);
		if (t->finished) {
			/* next may be finished too, but it is still linked: only t goes. */
			task_complete(t);
		}
	}
	e = AE_OK;
out:
	return e;
}
