#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "fcgi/request.h"
#include "lib/jws.h"
#include "lib/log.h"
#include "lib/nonce.h"
#include "lib/num.h"

int
req_read_body(struct req *r)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->fcgx->envp);
	int64_t len = 0;
	size_t got = 0;

	if (cl != NULL && *cl != '\0') {
		anvil_err e = num_parse_i64(cl, 0, INT64_MAX, &len);
		if (e == AE_RANGE && cl[0] != '-') {
			req_problem(r, PROB_TOO_LARGE, "the request body is larger than %d bytes",
			    JWS_MAX);
			return -1;
		}
		if (e != AE_OK) {
			req_problem(r, PROB_MALFORMED, "invalid Content-Length");
			return -1;
		}
	}
	if (len > JWS_MAX) {
		req_problem(r, PROB_TOO_LARGE, "the request body is larger than %d bytes",
		    JWS_MAX);
		return -1;
	}
	if ((r->body = arena_alloc(&r->arena, (size_t)len + 1)) == NULL) {
		req_fail(r, AE_NOMEM, "read body");
		return -1;
	}
	while (got < (size_t)len) {
		int n = FCGX_GetStr(r->body + got, (int)((size_t)len - got), r->fcgx->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != (size_t)len) {
		req_problem(r, PROB_MALFORMED, "the request body is shorter than its "
		    "Content-Length");
		return -1;
	}
	r->body[got] = '\0';
	r->body_len = got;
	return 0;
}

void
req_header(struct req *r, const char *name, const char *fmt, ...)
{
	char val[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	/* Values are ours (URLs from the config, numbers); a CR or LF would split the header. */
	if (strpbrk(val, "\r\n") != NULL)
		return;
	(void)buf_printf(&r->headers, "%s: %s\r\n", name, val);
}

void
req_json(struct req *r, int status, json_object *obj)
{
	const char *s;

	if (obj == NULL) {
		req_fail(r, AE_NOMEM, "build response");
		return;
	}
	if (req_keep(r, obj) == NULL) {
		req_empty(r, 500);
		return;
	}
	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	r->status = status;
	r->resp_type = status >= 400 ? "application/problem+json" : "application/json";
	r->resp_body = s;
	r->resp_len = s ? strlen(s) : 0;
}

void
req_empty(struct req *r, int status)
{
	r->status = status;
	r->resp_type = NULL;
	r->resp_body = NULL;
	r->resp_len = 0;
}

void
req_problem_obj(struct req *r, enum prob p, json_object *obj)
{
	int status = prob_status(p);

	buf_reset(&r->headers);
	if (obj == NULL)
		obj = json_object_new_object();
	if (obj == NULL) {
		req_empty(r, 500);
		return;
	}
	json_object_object_add(obj, "type", json_object_new_string(prob_type(p)));
	json_object_object_add(obj, "status", json_object_new_int(status));
	if (p == PROB_BAD_SIG_ALG && !json_object_object_get_ex(obj, "algorithms", NULL)) {
		json_object *algs = json_object_new_array();
		char list[] = JWS_ALGORITHMS;
		char *save = NULL;
		for (char *t = strtok_r(list, " ", &save); t; t = strtok_r(NULL, " ", &save))
			json_object_array_add(algs, json_object_new_string(t));
		json_object_object_add(obj, "algorithms", algs);
	}
	r->problem = p;
	req_json(r, status, obj);
	if (p == PROB_UNAVAILABLE || p == PROB_RATE_LIMITED)
		req_header(r, "Retry-After", "%lld", (long long)r->conf->retry_after);
}

void
req_problem(struct req *r, enum prob p, const char *fmt, ...)
{
	char detail[512];
	json_object *obj = json_object_new_object();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (obj != NULL) {
		/* type first, for people reading it; req_problem_obj sets it again in place. */
		json_object_object_add(obj, "type", json_object_new_string(prob_type(p)));
		json_object_object_add(obj, "detail", json_object_new_string(detail));
	}
	req_problem_obj(r, p, obj);
}

void
req_fail(struct req *r, anvil_err e, const char *what)
{
	enum prob p = prob_from_err(e);
	char dbe[512] = "";

	/* The server's message may quote the request's data ("Duplicate entry '...'"). */
	if (r->db != NULL)
		log_escape(dbe, sizeof(dbe), db_error(r->db), strlen(db_error(r->db)));
	if (p == PROB_INTERNAL) {
		log_err("%s failed: %s%s%s%s", what, anvil_strerror(e),
		    e >= AE_DB && e < AE_SIGNER_PROTO && r->db ? " db=\"" : "",
		    e >= AE_DB && e < AE_SIGNER_PROTO && r->db ? dbe : "",
		    e >= AE_DB && e < AE_SIGNER_PROTO && r->db ? "\"" : "");
		req_problem(r, p, "internal error");
	} else if (p == PROB_UNAVAILABLE) {
		log_warn("%s: %s%s%s%s", what, anvil_strerror(e), r->db ? " db=\"" : "",
		    r->db ? dbe : "", r->db ? "\"" : "");
		req_problem(r, p, "%s; retry later", anvil_strerror(e));
	} else {
		req_problem(r, p, "%s", anvil_strerror(e));
	}
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

void
req_send(struct req *r)
{
	char nonce[NONCE_STR_LEN + 1];
	struct buf h;
	int head = r->method != NULL && strcmp(r->method, "HEAD") == 0;
	anvil_err e;

	/* A nonce left to the request's transaction (fcgi/auth.c) is spent before anything is
	 * answered: now, if no transaction committed it. A replay is badNonce whatever the handler
	 * made of it; the transaction it reached, if any, was rolled back. */
	if (r->db != NULL && (e = db_settle_first(r->db)) != AE_OK) {
		if (e == AE_NONCE_USED)
			req_problem(r, PROB_BAD_NONCE, "the nonce has already been used");
		else
			req_fail(r, e, "nonce redeem");
	}
	if (r->status == 0)
		req_fail(r, AE_INTERNAL, "handler set no response");
	/* libfcgi's own printf lacks %zu and friends: format here, write once. */
	buf_init(&h, REQ_HEADERS_MAX * 2);
	(void)buf_printf(&h, "Status: %d %s\r\n", r->status, reason(r->status));
	if (r->resp_type != NULL)
		(void)buf_printf(&h, "Content-Type: %s\r\n", r->resp_type);
	if (r->status != 204)  /* RFC 9110 §8.6: never on a 204 */
		(void)buf_printf(&h, "Content-Length: %zu\r\n", head ? (size_t)0 : r->resp_len);
	(void)buf_printf(&h, "Cache-Control: no-store\r\n");
	/* Every response carries a fresh nonce (RFC 8555 §6.5), errors included. */
	if (nonce_make(r->conf->nonce_key, r->now, nonce) == AE_OK)
		(void)buf_printf(&h, "Replay-Nonce: %s\r\n", nonce);
	else
		log_err("nonce_make failed");
	if (!r->no_index_link)
		(void)buf_printf(&h, "Link: <%s/acme/directory>;rel=\"index\"\r\n",
		    r->conf->base_url);
	if (r->headers.len > 0)
		(void)buf_append(&h, r->headers.data, r->headers.len);
	if (buf_append(&h, "\r\n", 2) != AE_OK) {
		log_err("response headers too large");
		buf_reset(&h);
		(void)buf_printf(&h, "Status: 500 Internal Server Error\r\n\r\n");
		head = 1;
	}
	FCGX_PutStr((const char *)h.data, (int)h.len, r->fcgx->out);
	if (!head && r->resp_len > 0)
		FCGX_PutStr(r->resp_body, (int)r->resp_len, r->fcgx->out);
	buf_free(&h);
}

char *
req_url(struct req *r, const char *fmt, ...)
{
	char tail[512];
	size_t n;
	char *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	n = r->conf->base_url_len + strlen(tail);
	if ((p = arena_alloc(&r->arena, n + 1)) == NULL)
		return NULL;
	memcpy(p, r->conf->base_url, r->conf->base_url_len);
	memcpy(p + r->conf->base_url_len, tail, strlen(tail) + 1);
	return p;
}

static void
put_json(void *p)
{
	json_object_put(p);
}

json_object *
req_keep(struct req *r, json_object *obj)
{
	if (obj != NULL && arena_defer(&r->arena, put_json, obj) != 0)
		return NULL;
	return obj;
}

int
req_url_is_request(struct req *r, const char *url)
{
	const struct fcgi_conf *c = r->conf;
	size_t origin = c->base_url_len - strlen(c->base_path);

	return url != NULL && strlen(url) == origin + strlen(r->uri) &&
	    memcmp(url, c->base_url, origin) == 0 && strcmp(url + origin, r->uri) == 0;
}

void
req_retry_after(struct req *r)
{
	req_header(r, "Retry-After", "%lld", (long long)r->conf->orders.poll_after);
}
