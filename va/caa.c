/* CAA (RFC 8659) with tree climbing: the closest name at or above the identifier that has a CAA
 * record set decides. issuewild governs wildcard identifiers when present; RFC 8657's
 * accounturi and validationmethods parameters narrow an issue property to one account and to
 * some challenge types. A lookup that fails (SERVFAIL, timeout) forbids issuance (`dns`); only
 * NXDOMAIN or no records mean "no policy here, climb". */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/nameser.h>
#include "va/caa_value.h"
#include "va/internal.h"

#ifndef ns_t_caa
#define ns_t_caa 257
#endif

void
va_caa_begin(struct va_task *t)
{
	size_t n = strlen(t->ident);

	if (n >= sizeof(t->caa_name)) {
		va_fail(t, "malformed", "identifier too long");
		return;
	}
	memcpy(t->caa_name, t->ident, n + 1);
	t->phase = PH_CAA;
	if (va_dns_query(t, VA_SLOT_CAA, t->caa_name, ns_t_caa) != AE_OK) {
		va_fail(t, "serverInternal", "out of memory");
		return;
	}
	va_target_ahead(t);
}

/* Does one issue/issuewild value authorise us for this account and method? */
static int
value_permits(struct va_task *t, const unsigned char *v, size_t len)
{
	const struct va_conf *c = t->va->conf;
	char acct[512];

	snprintf(acct, sizeof(acct), "%s%lld", c->account_uri_prefix ? c->account_uri_prefix : "",
	    (long long)t->account_id);
	return caa_value_permits(v, len, (const char *const *)c->caa_ids, c->ncaa_ids,
	    c->account_uri_prefix != NULL ? acct : NULL, t->type);
}

static int
tag_is(const struct ares_caa_reply *r, const char *tag)
{
	return r->plength == strlen(tag) &&
	    strncasecmp((const char *)r->property, tag, r->plength) == 0;
}

void
va_caa_step(struct va_task *t)
{
	struct va_dns_slot *s = &t->dns[VA_SLOT_CAA];
	struct ares_caa_reply *caa = NULL, *r;
	int has_issue = 0, has_wild = 0, permitted = 0, st;
	char *dot;

	if (va_dns_waiting(t, VA_SLOT_CAA))
		return;
	st = s->status;
	if (st == ARES_SUCCESS)
		st = ares_parse_caa_reply(s->abuf, s->alen, &caa);
	if (st == ARES_ENODATA || st == ARES_ENOTFOUND) {
		/* No CAA set at this name: climb one label, stopping below the root. */
		if ((dot = strchr(t->caa_name, '.')) == NULL || dot[1] == '\0') {
			va_method_begin(t);
			goto out;
		}
		memmove(t->caa_name, dot + 1, strlen(dot + 1) + 1);
		if (va_dns_query(t, VA_SLOT_CAA, t->caa_name, ns_t_caa) != AE_OK)
			va_fail(t, "serverInternal", "out of memory");
		goto out;
	}
	if (st != ARES_SUCCESS || caa == NULL) {
		va_fail(t, "dns", "DNS problem: %s looking up CAA for %s",
		    s->status != ARES_SUCCESS ? va_dns_strerror(s->status) : "malformed answer",
		    t->caa_name);
		goto out;
	}
	for (r = caa; r != NULL; r = r->next) {
		if (tag_is(r, "issue"))
			has_issue = 1;
		else if (tag_is(r, "issuewild"))
			has_wild = 1;
		else if ((r->critical & 0x80) && !tag_is(r, "iodef")) {
			va_fail(t, "caa", "CAA record for %s has an unknown critical property",
			    t->caa_name);
			goto out;
		}
	}
	if (!(t->wildcard && has_wild) && !has_issue) {
		/* No property governs this kind of identifier: unrestricted. */
		va_method_begin(t);
		goto out;
	}
	for (r = caa; r != NULL && !permitted; r = r->next)
		if (tag_is(r, t->wildcard && has_wild ? "issuewild" : "issue") &&
		    value_permits(t, r->value, r->length))
			permitted = 1;
	if (!permitted) {
		va_fail(t, "caa", "CAA record for %s prevents issuance", t->caa_name);
		goto out;
	}
	va_method_begin(t);
out:
	if (caa != NULL)
		ares_free_data(caa);
}
