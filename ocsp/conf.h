/* The `ocsp` and `crl` sections of the deployment file (doc/config.md): where the published
 * files live, how long what is signed stays valid, and how the refresher paces itself. One
 * reader for every program that publishes, serves, signs or checks them (anvil-fcgi and
 * anvil-jobs at issuance and refresh, the OCSP responder, the signer's bounds, anvilctl). */
#ifndef ANVIL_OCSP_CONF_H
#define ANVIL_OCSP_CONF_H
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "lib/conf.h"

struct ocsp_conf {
	int present;                  /* the section is in the file */
	const char *dir;              /* responses: dir/<issuer>/<serial hex> */
	int64_t validity;             /* s, nextUpdate - thisUpdate */
	int64_t refresh_percent;      /* re-sign when this share of the validity has passed */
	int64_t backdate;             /* s, thisUpdate lies this far before the signing time */
	int64_t batch;                /* rows one refresher claim leases at most */
	int64_t concurrency;          /* signatures in flight at once per refresher */
	int64_t expired_grace;        /* s after notAfter before a response is dropped */
	int64_t revocation_bound;     /* s from a revocation to its OCSP response and CRL */
	struct {
		const char *socket;       /* the responder's FastCGI socket; NULL: no responder */
		mode_t socket_mode;
		int64_t workers;
	} responder;
};

struct crl_conf {
	int present;
	const char *dir;              /* CRLs: dir/<issuer>/<shard>.crl */
	int64_t validity;             /* s, nextUpdate - thisUpdate */
	int64_t interval;             /* s between scheduled regenerations of a shard */
};

/* Fills both from root (either section may be absent: present stays 0 and the defaults are
 * set). Strings point into root. On error cc->err names the dotted key. */
anvil_err ocsp_conf_parse(struct conf_ctx *cc, json_object *root, struct ocsp_conf *o,
    struct crl_conf *c);

/* When a response signed at this_update is due again. */
int64_t ocsp_refresh_at(const struct ocsp_conf *o, int64_t this_update);

#endif
