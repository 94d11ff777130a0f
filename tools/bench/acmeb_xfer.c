/* anvil-bench: one HTTP exchange's plumbing (capped body, the headers a flow needs, a signed
 * request), and the blocking setup done before the clock starts: the directory and accounts. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lib/clock.h"
#include "lib/num.h"
#include "lib/jws.h"
#include "tools/bench/acmeb.h"
#include "tools/bench/acmeb_xfer.h"
#include "tools/bench/curlbuf.h"
#include "tools/bench/benchjws.h"

double
now_s(void)
{
	return (double)clock_mono_us() / 1e6;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	char ra[32];

	curlbuf_header(p, len, "replay-nonce:", x->nonce, sizeof(x->nonce));
	curlbuf_header(p, len, "location:", x->location, sizeof(x->location));
	curlbuf_header(p, len, "content-type:", x->ctype, sizeof(x->ctype));
	if (curlbuf_header(p, len, "retry-after:", ra, sizeof(ra))) {
		int64_t v;
		/* Seconds only; an HTTP-date falls back to the default delay. */
		x->retry_after = num_parse_i64(ra, 0, 86400, &v) == AE_OK ? (long)v : -1;
	}
	return len;
}

void
curl_common(CURL *h, const struct opts *o)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)o->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	if (o->cacert != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
	if (o->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

int
xfer_init(struct xfer *x, const struct opts *o)
{
	memset(x, 0, sizeof(*x));
	buf_init(&x->body, ACMEB_BODY_MAX);
	x->retry_after = -1;
	if ((x->h = curl_easy_init()) == NULL)
		return -1;
	x->jose = curl_slist_append(NULL, "Content-Type: application/jose+json");
	x->jose = curl_slist_append(x->jose, "Expect:");
	x->pem = curl_slist_append(NULL, "Content-Type: application/jose+json");
	x->pem = curl_slist_append(x->pem, "Accept: application/pem-certificate-chain");
	x->pem = curl_slist_append(x->pem, "Expect:");
	if (x->jose == NULL || x->pem == NULL)
		return -1;
	curl_common(x->h, o);
	curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, curlbuf_write);
	curl_easy_setopt(x->h, CURLOPT_WRITEDATA, &x->body);
	curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
	return 0;
}

void
xfer_free(struct xfer *x)
{
	if (x->h != NULL)
		curl_easy_cleanup(x->h);
	curl_slist_free_all(x->jose);
	curl_slist_free_all(x->pem);
	buf_free(&x->body);
	free(x->jws);
	memset(x, 0, sizeof(*x));
}

static void
xfer_reset(struct xfer *x)
{
	buf_reset(&x->body);
	x->location[0] = x->ctype[0] = '\0';
	x->retry_after = -1;
	free(x->jws);
	x->jws = NULL;
}

void
xfer_head(struct xfer *x, const char *url)
{
	xfer_reset(x);
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x->h, CURLOPT_NOBODY, 1L);
}

void
xfer_get(struct xfer *x, const char *url)
{
	xfer_reset(x);
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x->h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(x->h, CURLOPT_HTTPGET, 1L);
}

int
xfer_post(struct xfer *x, const char *url, EVP_PKEY *key, const char *kid,
    const char *payload, int want_pem)
{
	int rc = -1;

	xfer_reset(x);
	if (benchjws_es256(key, kid, x->nonce, url, payload, &x->jws) != AE_OK)
		goto out;
	x->nonce[0] = '\0';  /* spent: the next request needs the answer's Replay-Nonce */
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	curl_easy_setopt(x->h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(x->h, CURLOPT_POST, 1L);
	curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, x->jws);
	curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE, (long)strlen(x->jws));
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, want_pem ? x->pem : x->jose);
	rc = 0;
out:
	return rc;
}

long
xfer_perform(struct xfer *x)
{
	long code = 0;
	if ((x->result = curl_easy_perform(x->h)) != CURLE_OK)
		return -1;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

json_object *
xfer_json(struct xfer *x)
{
	if (buf_nul(&x->body) != AE_OK || x->body.len == 0)
		return NULL;
	return json_tokener_parse((const char *)x->body.data);
}

/* The "type" of a problem document answer, or NULL. */
const char *
xfer_problem(struct xfer *x, json_object **holder)
{
	json_object *v;
	*holder = NULL;
	if (strncasecmp(x->ctype, "application/problem+json", 24) != 0)
		return NULL;
	if ((*holder = xfer_json(x)) == NULL)
		return NULL;
	if (!json_object_object_get_ex(*holder, "type", &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Copies a string member of obj into out; 0 when present and it fits. */
int
json_str(json_object *obj, const char *key, char *out, size_t outsz)
{
	json_object *v;
	const char *s;
	size_t n;
	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n >= outsz)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

int
setup_directory(struct run *r)
{
	struct xfer x;
	json_object *d = NULL;
	int rc = -1;
	long code;

	if (xfer_init(&x, r->o) != 0)
		goto out;
	xfer_get(&x, r->o->directory);
	if ((code = xfer_perform(&x)) != 200 || (d = xfer_json(&x)) == NULL) {
		fprintf(stderr, "anvil-bench: GET %s: %ld %s\n", r->o->directory, code,
		    code < 0 ? curl_easy_strerror(x.result) : "");
		goto out;
	}
	if (json_str(d, "newNonce", r->dir.new_nonce, ACMEB_URL_MAX) != 0 ||
	    json_str(d, "newAccount", r->dir.new_account, ACMEB_URL_MAX) != 0 ||
	    json_str(d, "newOrder", r->dir.new_order, ACMEB_URL_MAX) != 0) {
		fprintf(stderr, "anvil-bench: the directory lacks newNonce/newAccount/newOrder\n");
		goto out;
	}
	rc = 0;
out:
	json_object_put(d);
	xfer_free(&x);
	return rc;
}

int
setup_account(struct run *r, struct account *a)
{
	struct xfer x;
	json_object *jwk = NULL;
	int rc = -1;
	long code;

	if (xfer_init(&x, r->o) != 0 || (a->key = key_gen_p256()) == NULL)
		goto out;
	xfer_head(&x, r->dir.new_nonce);
	if ((code = xfer_perform(&x)) / 100 != 2 || x.nonce[0] == '\0') {
		fprintf(stderr, "anvil-bench: newNonce: %ld %s\n", code,
		    code < 0 ? curl_easy_strerror(x.result) : "");
		goto out;
	}
	if (xfer_post(&x, r->dir.new_account, a->key, NULL,
	    "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:bench@example.org\"]}", 0) != 0)
		goto out;
	code = xfer_perform(&x);
	if ((code != 201 && code != 200) || x.location[0] == '\0') {
		fprintf(stderr, "anvil-bench: newAccount: %ld %s %.*s\n", code,
		    code < 0 ? curl_easy_strerror(x.result) : "",
		    (int)(x.body.len > 300 ? 300 : x.body.len), (const char *)x.body.data);
		goto out;
	}
	memcpy(a->kid, x.location, sizeof(a->kid));
	if (jwk_from_pkey(a->key, &jwk) != AE_OK || jwk_thumbprint(jwk, a->thumbprint) != AE_OK)
		goto out;
	rc = 0;
out:
	json_object_put(jwk);
	xfer_free(&x);
	return rc;
}
