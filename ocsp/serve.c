/* A responder worker: one FastCGI request at a time. GET (RFC 6960 A.1: the raw REQUEST_URI,
 * never nginx's decoded and slash-merged $uri, since base64 has '/' and '+') or POST
 * (application/ocsp-request) → CertID → issuer → ocsp.dir/<issuer>/<serial> → the response
 * bytes with RFC 5019 §2.2 caching headers. Unknown issuer or serial: unauthorized; anything
 * unparsable: malformedRequest; both as 200 application/ocsp-response (RFC 6960 §2.3). */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcgiapp.h>
#include "lib/log.h"
#include "lib/num.h"
#include "ocsp/request.h"
#include "ocsp/responder.h"
#include "ocsp/store.h"

#define URI_MAX 8192

/* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } without responseBytes. */
static const uint8_t RESP_MALFORMED[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
static const uint8_t RESP_INTERNAL[] = { 0x30, 0x03, 0x0a, 0x01, 0x02 };
static const uint8_t RESP_UNAUTHORIZED[] = { 0x30, 0x03, 0x0a, 0x01, 0x06 };

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Headers and body in one write (libfcgi's own printf knows neither %zu nor %lld). */
static void
reply(FCGX_Request *fr, const char *head, int hlen, const uint8_t *body, size_t len)
{
	char out[1024 + OCSP_RESPONSE_MAX];

	if (hlen <= 0 || (size_t)hlen >= 1024 || len > OCSP_RESPONSE_MAX)
		return;
	memcpy(out, head, (size_t)hlen);
	memcpy(out + hlen, body, len);
	FCGX_PutStr(out, hlen + (int)len, fr->out);
}

static void
send_status(FCGX_Request *fr, const uint8_t *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "Content-Type: application/ocsp-response\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\nX-Accel-Expires: 0\r\n\r\n", len);

	reply(fr, head, n, body, len);
}

static void
send_resp(FCGX_Request *fr, const struct ocsp_resp *r, int64_t now)
{
	const char *inm = FCGX_GetParam("HTTP_IF_NONE_MATCH", fr->envp);
	/* Two seconds under nextUpdate: nginx's micro-cache may hand this answer out for up to
	 * a second after it was made, and both clocks count whole seconds. */
	int64_t max_age = r->next_update - now - 2;
	int not_modified = inm != NULL && strcmp(inm, r->etag) == 0, n;
	char head[1024];

	/* RFC 5019 §6.2: a cache may keep it until nextUpdate, not longer. */
	if (max_age < 0)
		max_age = 0;
	n = snprintf(head, sizeof(head), "%sContent-Type: application/ocsp-response\r\n"
	    "Content-Length: %zu\r\nLast-Modified: %s\r\nExpires: %s\r\nETag: %s\r\n"
	    "Cache-Control: max-age=%lld, public, no-transform, must-revalidate\r\n\r\n",
	    not_modified ? "Status: 304 Not Modified\r\n" : "",
	    not_modified ? (size_t)0 : r->len, r->last_modified, r->expires, r->etag,
	    (long long)max_age);

	reply(fr, head, n, r->body, not_modified ? 0 : r->len);
}

/* The DER request of a GET or POST into der; -1 when there is none to parse. */
static int
read_request(FCGX_Request *fr, const char *method, uint8_t *der, size_t *len)
{
	const char *uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	const char *prefix = FCGX_GetParam("OCSP_PREFIX", fr->envp);
	const char *ct, *cl;
	int64_t want = 0;
	size_t got = 0, plen;

	/* HEAD: nginx converts it to GET for its cache, and drops the body itself. */
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		if (prefix == NULL)
			prefix = "/";
		plen = strlen(prefix);
		if (uri == NULL || strlen(uri) > URI_MAX || strncmp(uri, prefix, plen) != 0)
			return -1;
		uri += plen;
		return ocsp_get_decode(uri, strcspn(uri, "?#"), der, OCSP_REQUEST_MAX, len);
	}
	ct = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	if (ct == NULL || strcasecmp(ct, "application/ocsp-request") != 0 || cl == NULL ||
	    num_parse_i64(cl, 1, OCSP_REQUEST_MAX, &want) != AE_OK)
		return -1;
	while (got < (size_t)want) {
		int n = FCGX_GetStr((char *)der + got, (int)((size_t)want - got), fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return got == (size_t)want ? 0 : -1;
}

static void
handle(FCGX_Request *fr, const struct responder_conf *c, struct ocsp_store *store)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	const struct ocsp_issuer *is;
	const struct ocsp_resp *r = NULL;
	struct ocsp_certid id;
	uint8_t der[OCSP_REQUEST_MAX];
	size_t len = 0;
	const char *what;

	if (method == NULL || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    strcmp(method, "POST") != 0)) {
		FCGX_PutS("Status: 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\n"
		    "Content-Length: 0\r\n\r\n", fr->out);
		return;
	}
	if (read_request(fr, method, der, &len) != 0) {
		what = "malformed";
		send_status(fr, RESP_MALFORMED, sizeof(RESP_MALFORMED));
		goto out;
	}
	switch (ocsp_request_parse(der, len, &id)) {
	case OCSP_PARSE_OK:
		break;
	case OCSP_PARSE_HASH:
		what = "unauthorized hash";
		send_status(fr, RESP_UNAUTHORIZED, sizeof(RESP_UNAUTHORIZED));
		goto out;
	default:
		what = "malformed";
		send_status(fr, RESP_MALFORMED, sizeof(RESP_MALFORMED));
		goto out;
	}
	if (id.serial_negative || (is = ocsp_issuers_find(&c->issuers, &id)) == NULL) {
		what = "unauthorized issuer";
		send_status(fr, RESP_UNAUTHORIZED, sizeof(RESP_UNAUTHORIZED));
		goto out;
	}
	switch (ocsp_store_get(store, is->name, &id, &r)) {
	case OCSP_FOUND:
		what = "ok";
		send_resp(fr, r, (int64_t)time(NULL));
		break;
	case OCSP_NO_FILE:
		what = "unauthorized serial";
		send_status(fr, RESP_UNAUTHORIZED, sizeof(RESP_UNAUTHORIZED));
		break;
	default:
		what = "internal";
		send_status(fr, RESP_INTERNAL, sizeof(RESP_INTERNAL));
		break;
	}
out:
	log_debug("request method=%.8s result=\"%s\"", method, what);
}

int
responder_worker_run(const struct responder_conf *c, int listen_fd)
{
	struct ocsp_store *store = NULL;
	struct sigaction sa;
	sigset_t term, none;
	FCGX_Request fr;
	int rc = 1, inited = 0;

	memset(&fr, 0, sizeof(fr));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;  /* no SA_RESTART: SIGTERM must interrupt accept() */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &term, NULL);
	if ((store = ocsp_store_new(c->ocsp.dir)) == NULL)
		goto out;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("worker: FastCGI initialisation failed");
		goto out;
	}
	inited = 1;
	for (;;) {
		int a;

		sigprocmask(SIG_SETMASK, &none, NULL);
		if (stopping)
			break;
		a = FCGX_Accept_r(&fr);
		sigprocmask(SIG_SETMASK, &term, NULL);
		if (a < 0) {
			if (stopping)
				break;
			if (a == -EINTR)
				continue;
			log_err("worker: accept failed: %s", strerror(-a));
			goto out;
		}
		handle(&fr, c, store);
		FCGX_Finish_r(&fr);
	}
	rc = 0;
out:
	if (inited)
		FCGX_Free(&fr, 0);
	ocsp_store_free(store);
	return rc;
}
