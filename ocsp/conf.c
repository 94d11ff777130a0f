#include "config.h"
#include <string.h>
#include "ocsp/conf.h"

/* BR 4.9.10: an OCSP response and a subscriber CRL may be valid for 10 days at most. */
#define VALIDITY_MAX (10 * 86400)

static anvil_err
get_dir(struct conf_ctx *cc, json_object *sec, const char *where, const char **out)
{
	anvil_err e = conf_get_string(cc, sec, where, "dir", 1, out);

	if (e == AE_OK && ((*out)[0] != '/' || strlen(*out) > 3000))
		return conf_fail(cc, where, "dir", "must be an absolute path");
	return e;
}

static anvil_err
parse_responder(struct conf_ctx *cc, json_object *sec, struct ocsp_conf *o)
{
	static const char *const keys[] = { "socket", "socket_mode", "workers", NULL };
	json_object *r = NULL;
	anvil_err e;

	o->responder.workers = 2;
	o->responder.socket_mode = 0660;
	if ((e = conf_get_object(cc, sec, "ocsp", "responder", 0, &r)) != AE_OK || r == NULL)
		return e;
	if ((e = conf_check_keys(cc, r, "ocsp.responder", keys)) != AE_OK ||
	    (e = conf_get_string(cc, r, "ocsp.responder", "socket", 1,
	    &o->responder.socket)) != AE_OK ||
	    (e = conf_get_mode(cc, r, "ocsp.responder", "socket_mode",
	    &o->responder.socket_mode)) != AE_OK ||
	    (e = conf_get_int(cc, r, "ocsp.responder", "workers", 0, 1, 256,
	    &o->responder.workers)) != AE_OK)
		return e;
	if (o->responder.socket[0] != '/' || strlen(o->responder.socket) >= 108)
		return conf_fail(cc, "ocsp.responder", "socket",
		    "must be an absolute path under 108 bytes");
	return AE_OK;
}

static anvil_err
parse_ocsp(struct conf_ctx *cc, json_object *root, struct ocsp_conf *o)
{
	static const char *const keys[] = { "dir", "validity_seconds", "refresh_percent",
		"backdate_seconds", "batch", "concurrency", "expired_grace_seconds",
		"revocation_bound_seconds", "responder", NULL };
	json_object *sec = NULL;
	anvil_err e;

	o->validity = 4 * 86400;
	o->refresh_percent = 50;
	o->backdate = 3600;
	o->batch = 256;
	o->concurrency = 8;
	o->expired_grace = 86400;
	o->revocation_bound = 60;
	if ((e = conf_get_object(cc, root, "", "ocsp", 0, &sec)) != AE_OK)
		return e;
	if (sec == NULL)
		return AE_OK;
	o->present = 1;
	if ((e = conf_check_keys(cc, sec, "ocsp", keys)) != AE_OK ||
	    (e = get_dir(cc, sec, "ocsp", &o->dir)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ocsp", "validity_seconds", 0, 3600, VALIDITY_MAX,
	    &o->validity)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ocsp", "refresh_percent", 0, 10, 90,
	    &o->refresh_percent)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ocsp", "backdate_seconds", 0, 0, 86400,
	    &o->backdate)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ocsp", "batch", 0, 1, 10000, &o->batch)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ocsp", "concurrency", 0, 1, 256,
	    &o->concurrency)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ocsp", "expired_grace_seconds", 0, 0, 365 * 86400,
	    &o->expired_grace)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ocsp", "revocation_bound_seconds", 0, 1, 86400,
	    &o->revocation_bound)) != AE_OK ||
	    (e = parse_responder(cc, sec, o)) != AE_OK)
		return e;
	if (o->backdate >= o->validity / 2)
		return conf_fail(cc, "ocsp", "backdate_seconds",
		    "must be less than half of ocsp.validity_seconds");
	return AE_OK;
}

static anvil_err
parse_crl(struct conf_ctx *cc, json_object *root, struct crl_conf *c)
{
	static const char *const keys[] = { "dir", "validity_seconds", "interval_seconds", NULL };
	json_object *sec = NULL;
	anvil_err e;

	c->validity = 7 * 86400;
	c->interval = 6 * 3600;
	if ((e = conf_get_object(cc, root, "", "crl", 0, &sec)) != AE_OK)
		return e;
	if (sec == NULL)
		return AE_OK;
	c->present = 1;
	if ((e = conf_check_keys(cc, sec, "crl", keys)) != AE_OK ||
	    (e = get_dir(cc, sec, "crl", &c->dir)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "crl", "validity_seconds", 0, 3600, VALIDITY_MAX,
	    &c->validity)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "crl", "interval_seconds", 0, 60, VALIDITY_MAX,
	    &c->interval)) != AE_OK)
		return e;
	/* A CRL must be replaced before relying parties consider it stale. */
	if (c->interval > c->validity / 2)
		return conf_fail(cc, "crl", "interval_seconds",
		    "must be at most half of crl.validity_seconds");
	return AE_OK;
}

anvil_err
ocsp_conf_parse(struct conf_ctx *cc, json_object *root, struct ocsp_conf *o, struct crl_conf *c)
{
	anvil_err e;

	memset(o, 0, sizeof(*o));
	memset(c, 0, sizeof(*c));
	if ((e = parse_ocsp(cc, root, o)) != AE_OK)
		return e;
	return parse_crl(cc, root, c);
}

int64_t
ocsp_refresh_at(const struct ocsp_conf *o, int64_t this_update)
{
	return this_update + o->validity * o->refresh_percent / 100;
}
