/* anvil-bench-api: request rate of the ACME front door through nginx, for one request type at a
 * time: `nonce` (HEAD newNonce, no database), `account` (a signed POST-as-GET of an account:
 * JWS verification, nonce redemption, one account lookup), `order` (a signed POST-as-GET of
 * a pending order of one name, the poll clients repeat), or `static` (GET --url, e.g. a small
 * file nginx serves itself: the reference the others are compared with in the same run). Every POST carries the Replay-Nonce of
 * the connection's previous response, as a real client would. One thread drives all connections
 * with libcurl multi, so the client's own CPU stays small next to the server's. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include "lib/clock.h"
#include "lib/buf.h"
#include "lib/jwk.h"
#include "lib/jws.h"
#include "lib/num.h"
#include "tools/bench/curlbuf.h"
#include "tools/bench/benchjws.h"

#define BODY_MAX (256 * 1024)
#define NONCE_MAX 128
#define URL_MAX 512
#define SAMPLES_MAX (50 * 1000 * 1000)

struct opts {
	const char *directory;
	const char *cacert;
	const char *mode;
	const char *url;     /* static mode */
	int64_t connections;
	int64_t seconds;
	int http2;
};

struct conn {
	CURL *h;
	struct curl_slist *hdrs;
	char nonce[NONCE_MAX];
	char location[URL_MAX];
	char *jws;
	struct buf body;
	double started;
};

struct stats {
	double *lat;
	size_t n, cap;
	long status[600];
	long transport_errors;
};

static double
now_s(void)
{
	return (double)clock_mono_us() / 1e6;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct conn *c = arg;
	curlbuf_header(p, size * n, "replay-nonce:", c->nonce, sizeof(c->nonce));
	curlbuf_header(p, size * n, "location:", c->location, sizeof(c->location));
	return size * n;
}

static void
conn_setup(struct conn *c, const struct opts *o)
{
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, curlbuf_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 30L);
	if (o->cacert != NULL)
		curl_easy_setopt(c->h, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION,
	    o->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
}

/* Prepares c->h for one request: HEAD url when payload is NULL, else a signed POST. */
static int
conn_request(struct conn *c, const char *url, EVP_PKEY *key, const char *kid,
    const char *payload)
{
	int rc = -1;

	buf_reset(&c->body);
	free(c->jws);
	c->jws = NULL;
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	if (payload == NULL) {
		curl_easy_setopt(c->h, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
		rc = 0;
		goto out;
	}
	if (benchjws_es256(key, kid, c->nonce, url, payload, &c->jws) != AE_OK)
		goto out;
	curl_easy_setopt(c->h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(c->h, CURLOPT_POST, 1L);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->jws);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	rc = 0;
out:
	return rc;
}

enum mode { MODE_NONCE, MODE_ACCOUNT, MODE_ORDER, MODE_STATIC };

struct run {
	enum mode mode;
	const char *nonce_url;
	const char *account_url;
	const char *order_url;
	const char *static_url;
	EVP_PKEY *key;
};

/* Arms c for the next measured request of the run's kind. */
static void
start_next(struct conn *c, const struct run *run)
{
	switch (run->mode) {
	case MODE_NONCE:
		conn_request(c, run->nonce_url, NULL, NULL, NULL);
		break;
	case MODE_ACCOUNT:
		conn_request(c, run->account_url, run->key, run->account_url, "");
		break;
	case MODE_ORDER:
		conn_request(c, run->order_url, run->key, run->account_url, "");
		break;
	case MODE_STATIC:
		buf_reset(&c->body);
		curl_easy_setopt(c->h, CURLOPT_URL, run->static_url);
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
		break;
	}
	c->started = now_s();
}

static long
perform(struct conn *c)
{
	long code = 0;
	if (curl_easy_perform(c->h) != CURLE_OK)
		return -1;
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(const struct stats *s, double p)
{
	if (s->n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(s->n - 1));
	return s->lat[i] * 1000.0;
}

static void
record(struct stats *s, long status, double latency)
{
	if (status < 0 || status >= 600) {
		s->transport_errors++;
		return;
	}
	s->status[status]++;
	if (s->n == s->cap && s->cap < SAMPLES_MAX) {
		size_t ncap = s->cap ? s->cap * 2 : 65536;
		double *p = realloc(s->lat, ncap * sizeof(*p));
		if (p == NULL)
			return;
		s->lat = p;
		s->cap = ncap;
	}
	if (s->n < s->cap)
		s->lat[s->n++] = latency;
}

static void
usage(void)
{
	fprintf(stderr, "usage: anvil-bench-api --directory URL [--cacert FILE] [--connections N]\n"
	    "           [--seconds S] [--http2] [--url URL] nonce|account|order|static\n");
	exit(2);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "directory", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'k' },
		{ "connections", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 'd' },
		{ "http2", no_argument, NULL, '2' },
		{ "url", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	o->connections = 64;
	o->seconds = 10;
	while ((ch = getopt_long(argc, argv, "u:k:c:d:2", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->directory = optarg; break;
		case 'k': o->cacert = optarg; break;
		case 'c':
			if (num_parse_i64(optarg, 1, 4096, &o->connections) != AE_OK)
				usage();
			break;
		case 'd':
			if (num_parse_i64(optarg, 1, 3600, &o->seconds) != AE_OK)
				usage();
			break;
		case '2': o->http2 = 1; break;
		case 'g': o->url = optarg; break;
		default: usage();
		}
	}
	if (optind + 1 != argc || o->directory == NULL)
		usage();
	o->mode = argv[optind];
	if (strcmp(o->mode, "nonce") != 0 && strcmp(o->mode, "account") != 0 &&
	    strcmp(o->mode, "order") != 0 && strcmp(o->mode, "static") != 0)
		usage();
	if ((strcmp(o->mode, "static") == 0) != (o->url != NULL))
		usage();
	return 0;
}

/* Reads the directory and, in account and order mode, creates the account the run will fetch
 * or sign with, and in order mode its order. */
static int
prepare(const struct opts *o, struct conn *c, EVP_PKEY *key, char *nonce_url,
    char *account_url, char *order_url)
{
	json_object *dir = NULL, *v = NULL;
	int rc = -1;

	curl_easy_setopt(c->h, CURLOPT_URL, o->directory);
	if (perform(c) != 200 || buf_nul(&c->body) != AE_OK ||
	    (dir = json_tokener_parse((const char *)c->body.data)) == NULL) {
		fprintf(stderr, "anvil-bench-api: cannot read the directory at %s\n", o->directory);
		goto out;
	}
	if (!json_object_object_get_ex(dir, "newNonce", &v))
		goto out;
	snprintf(nonce_url, URL_MAX, "%s", json_object_get_string(v));
	if (strcmp(o->mode, "account") == 0 || strcmp(o->mode, "order") == 0) {
		char new_account[URL_MAX];
		if (!json_object_object_get_ex(dir, "newAccount", &v))
			goto out;
		snprintf(new_account, sizeof(new_account), "%s", json_object_get_string(v));
		conn_request(c, nonce_url, NULL, NULL, NULL);
		if (perform(c) != 200)
			goto out;
		if (conn_request(c, new_account, key, NULL, "{\"termsOfServiceAgreed\":true}") != 0)
			goto out;
		long code = perform(c);
		if (code != 201 && code != 200) {
			fprintf(stderr, "anvil-bench-api: newAccount answered %ld\n", code);
			goto out;
		}
		snprintf(account_url, URL_MAX, "%s", c->location);
	}
	if (strcmp(o->mode, "order") == 0) {
		char new_order[URL_MAX];
		long code;
		if (!json_object_object_get_ex(dir, "newOrder", &v))
			goto out;
		snprintf(new_order, sizeof(new_order), "%s", json_object_get_string(v));
		c->location[0] = '\0';
		if (conn_request(c, new_order, key, account_url, "{\"identifiers\":[{\"type\":"
		    "\"dns\",\"value\":\"bench-order.example.com\"}]}") != 0)
			goto out;
		if ((code = perform(c)) != 201 || c->location[0] == '\0') {
			fprintf(stderr, "anvil-bench-api: newOrder answered %ld\n", code);
			goto out;
		}
		snprintf(order_url, URL_MAX, "%s", c->location);
	}
	rc = 0;
out:
	json_object_put(dir);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct stats st;
	struct run run;
	struct conn *conns = NULL;
	EVP_PKEY *key = NULL;
	CURLM *multi = NULL;
	char nonce_url[URL_MAX] = "", account_url[URL_MAX] = "", order_url[URL_MAX] = "";
	int rc = 1;
	double t0, t_end, elapsed;

	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	parse_opts(argc, argv, &o);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((key = EVP_EC_gen("P-256")) == NULL || (multi = curl_multi_init()) == NULL ||
	    (conns = calloc((size_t)o.connections, sizeof(*conns))) == NULL)
		goto out;
	for (int64_t i = 0; i < o.connections; i++) {
		struct conn *c = &conns[i];
		buf_init(&c->body, BODY_MAX);
		if ((c->h = curl_easy_init()) == NULL)
			goto out;
		c->hdrs = curl_slist_append(NULL, "Content-Type: application/jose+json");
		conn_setup(c, &o);
	}
	if (prepare(&o, &conns[0], key, nonce_url, account_url, order_url) != 0)
		goto out;
	/* Warm every connection (TLS handshake, first nonce) before the clock starts. */
	for (int64_t i = 0; i < o.connections; i++) {
		conn_request(&conns[i], nonce_url, NULL, NULL, NULL);
		if (perform(&conns[i]) != 200)
			goto out;
	}
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o.connections);
	t0 = now_s();
	t_end = t0 + (double)o.seconds;
	run.mode = strcmp(o.mode, "account") == 0 ? MODE_ACCOUNT :
	    strcmp(o.mode, "order") == 0 ? MODE_ORDER :
	    strcmp(o.mode, "static") == 0 ? MODE_STATIC : MODE_NONCE;
	run.nonce_url = nonce_url;
	run.account_url = account_url;
	run.order_url = order_url;
	run.static_url = o.url;
	run.key = key;
	for (int64_t i = 0; i < o.connections; i++) {
		struct conn *c = &conns[i];
		start_next(c, &run);
		curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
		curl_multi_add_handle(multi, c->h);
	}
	for (int running = 1; running > 0;) {
		CURLMsg *m;
		int left;
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct conn *c = NULL;
			long code = -1;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			if (m->data.result == CURLE_OK)
				curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
			double t = now_s();
			record(&st, code, t - c->started);
			curl_multi_remove_handle(multi, c->h);
			if (t >= t_end)
				continue;
			start_next(c, &run);
			curl_multi_add_handle(multi, c->h);
			running = 1;
		}
		if (running > 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	elapsed = now_s() - t0;
	qsort(st.lat, st.n, sizeof(double), cmp_double);
	long good = st.status[200]; /* every mode's success is a 200 */
	long bad = (long)st.n - good + st.transport_errors;
	printf("{\"mode\":\"%s\",\"connections\":%lld,\"seconds\":%.2f,\"requests\":%zu,"
	    "\"ok\":%ld,\"errors\":%ld,\"rps\":%.0f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
	    "\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
	    o.mode, (long long)o.connections, elapsed, st.n, good, bad,
	    (double)good / elapsed, pct(&st, 0.5), pct(&st, 0.9), pct(&st, 0.99), pct(&st, 1.0));
	for (int s = 0; s < 600; s++)
		if (st.status[s] && s != 200)
			fprintf(stderr, "status %d: %ld\n", s, st.status[s]);
	if (st.transport_errors)
		fprintf(stderr, "transport errors: %ld\n", st.transport_errors);
	rc = bad == 0 ? 0 : 1;
out:
	for (int64_t i = 0; conns != NULL && i < o.connections; i++) {
		if (conns[i].h != NULL) {
			curl_multi_remove_handle(multi, conns[i].h);
			curl_easy_cleanup(conns[i].h);
		}
		curl_slist_free_all(conns[i].hdrs);
		buf_free(&conns[i].body);
		free(conns[i].jws);
	}
	free(conns);
	free(st.lat);
	if (multi != NULL)
		curl_multi_cleanup(multi);
	EVP_PKEY_free(key);
	curl_global_cleanup();
	return rc;
}
