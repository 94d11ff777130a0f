/* anvil-bench: one easy handle with its capped body and the response headers a flow reads. */
#ifndef ANVIL_ACMEB_XFER_H
#define ANVIL_ACMEB_XFER_H
#include "tools/bench/acmeb.h"

struct xfer {
	CURL *h;
	struct curl_slist *jose, *pem;
	struct buf body;
	char *jws;                         /* the POST body, alive until the transfer ends */
	char nonce[ACMEB_NONCE_MAX];       /* fresh Replay-Nonce, "" once spent */
	char location[ACMEB_URL_MAX];
	char ctype[ACMEB_CTYPE_MAX];
	long retry_after;                  /* seconds, -1 when absent */
	CURLcode result;                   /* of the last blocking xfer_perform */
};

int xfer_init(struct xfer *x, const struct opts *o);
void xfer_free(struct xfer *x);
void xfer_head(struct xfer *x, const char *url);
void xfer_get(struct xfer *x, const char *url);
/* Arms a signed POST (kid, or the key's jwk when kid is NULL) with x->nonce, which is spent. */
int xfer_post(struct xfer *x, const char *url, EVP_PKEY *key, const char *kid,
    const char *payload, int want_pem);
long xfer_perform(struct xfer *x);
json_object *xfer_json(struct xfer *x);
const char *xfer_problem(struct xfer *x, json_object **holder);
int json_str(json_object *obj, const char *key, char *out, size_t outsz);

#endif
