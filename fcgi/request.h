/* One ACME request inside a worker: what nginx passed (method, URI, body) and the response
 * being built. Handlers set exactly one response (req_json or req_problem); the worker writes it
 * with every header Anvil promises (Replay-Nonce, Link rel="index", Cache-Control). */
#ifndef ANVIL_FCGI_REQUEST_H
#define ANVIL_FCGI_REQUEST_H
#include <stddef.h>
#include <stdint.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include "db/db.h"
#include "fcgi/arena.h"
#include "fcgi/conf.h"
#include "fcgi/problem.h"
#include "lib/buf.h"
#include "lib/err.h"

struct issue_ctx;
struct keycache;

#define REQ_HEADERS_MAX 4096

struct req {
	FCGX_Request *fcgx;
	const struct fcgi_conf *conf;
	struct db *db;
	struct issue_ctx *issue;  /* issuance (issue/issue.h); NULL when it could not start */
	struct keycache *keys;    /* the worker's parsed account keys (lib/keycache.h), or NULL */
	struct arena arena;
	int64_t now;

	const char *method;     /* REQUEST_METHOD */
	const char *uri;        /* REQUEST_URI as the client sent it (with any query) */
	const char *path;       /* its path below acme.base_url's path, without the query */
	const char *content_type;
	char *body;             /* NUL-terminated, body_len bytes; NULL unless read */
	size_t body_len;

	int status;             /* 0 until a handler sets a response */
	struct buf headers;     /* extra header lines, each ending in \r\n */
	const char *resp_type;  /* Content-Type of the body */
	const char *resp_body;  /* owned by the arena */
	size_t resp_len;
	int no_index_link;      /* the directory itself */
	enum prob problem;      /* for the access log line when status >= 400 */
};

/* Reads the body (POST only), capped at JWS_MAX with CONTENT_LENGTH checked first. On failure
 * the response is set (413/400) and -1 returned. */
int req_read_body(struct req *r);
/* Adds "Name: value" (formatted); values are never request bytes. */
void req_header(struct req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Serialises obj (reference taken over) as the application/json body with status. */
void req_json(struct req *r, int status, json_object *obj);
void req_empty(struct req *r, int status);
/* Sets a problem document; detail is a format for our own words (never request bytes). */
void req_problem(struct req *r, enum prob p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with the object (extra members such as "algorithms") built by the caller. */
void req_problem_obj(struct req *r, enum prob p, json_object *obj);
/* Maps an inner error to its problem (one table, fcgi/problem.c), logging once when it is a
 * server-side failure; `what` says what was being done, for that log line. */
void req_fail(struct req *r, anvil_err e, const char *what);
/* Writes status, headers and body to nginx, after spending a nonce that no transaction of the
 * request committed (db_settle_first), which can replace the response with badNonce (a replay)
 * or 503 (the database is down). */
void req_send(struct req *r);

/* base_url + path, in the arena (NULL when memory is short). */
char *req_url(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether url is exactly the URL this request was sent to (RFC 8555 §6.4): the origin of
 * acme.base_url followed by REQUEST_URI as the client sent it. */
int req_url_is_request(struct req *r, const char *url);
/* Retry-After for a pending or processing object (acme.poll_after). */
void req_retry_after(struct req *r);
/* Registers json_object_put(obj) at the end of the request; returns obj. */
json_object *req_keep(struct req *r, json_object *obj);

#endif
