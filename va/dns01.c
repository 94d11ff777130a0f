/* dns-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.<domain> holding
 * base64url(SHA-256(key authorization)). A lookup that fails is `dns`; an answer without TXT
 * records is `unauthorized`; TXT records none of which match are `incorrectResponse`. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/nameser.h>
#include <openssl/sha.h>
#include "lib/b64url.h"
#include "va/internal.h"

void
va_dns01_begin(struct va_task *t)
{
	json_object *r;
	int n;

	if (strcmp(t->ident_type, "dns") != 0) {
		va_fail(t, "malformed", "dns-01 is not available for %s identifiers", t->ident_type);
		return;
	}
	n = snprintf(t->host, sizeof(t->host), "_acme-challenge.%s", t->ident);
	if (n < 0 || (size_t)n >= sizeof(t->host)) {
		va_fail(t, "malformed", "identifier too long");
		return;
	}
	if ((r = va_record_new(t)) != NULL)
		json_object_object_add(r, "hostname", json_object_new_string(t->ident));
	t->phase = PH_TXT;
	if (va_dns_query(t, VA_SLOT_A, t->host, ns_t_txt) != AE_OK)
		va_fail(t, "serverInternal", "out of memory");
}

void
va_dns01_step(struct va_task *t)
{
	struct va_dns_slot *s = &t->dns[VA_SLOT_A];
	struct ares_txt_ext *txt = NULL, *p;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	char want[64], rec[1024];
	size_t rlen = 0;
	int found = 0, any = 0;

	if (va_dns_waiting(t, VA_SLOT_A))
		return;
	if (s->status == ARES_ENODATA) {
		va_fail(t, "unauthorized", "No TXT record found at %s", t->host);
		goto out;
	}
	if (s->status != ARES_SUCCESS) {
		va_fail(t, "dns", "DNS problem: %s looking up TXT for %s",
		    va_dns_strerror(s->status), t->host);
		goto out;
	}
	if (ares_parse_txt_reply_ext(s->abuf, s->alen, &txt) != ARES_SUCCESS) {
		va_fail(t, "dns", "DNS problem: malformed TXT answer for %s", t->host);
		goto out;
	}
	SHA256((const unsigned char *)t->keyauth, strlen(t->keyauth), digest);
	if (b64url_encode(digest, sizeof(digest), want, sizeof(want)) != AE_OK) {
		va_fail(t, "serverInternal", "encoding");
		goto out;
	}
	/* A record may come in several character-strings; record_start marks each new one. A
	 * record longer than rec cannot be the 43-character digest: its excess is dropped. */
	for (p = txt; p != NULL; p = p->next) {
		if (p->record_start) {
			if (any && rlen == strlen(want) && memcmp(rec, want, rlen) == 0)
				found = 1;
			rlen = 0;
			any = 1;
		}
		if (p->txt != NULL && p->length <= sizeof(rec) - rlen) {
			memcpy(rec + rlen, p->txt, p->length);
			rlen += p->length;
		}
	}
	if (any && rlen == strlen(want) && memcmp(rec, want, rlen) == 0)
		found = 1;
	if (found)
		va_succeed(t);
	else if (!any)
		va_fail(t, "unauthorized", "No TXT record found at %s", t->host);
	else
		va_fail(t, "incorrectResponse", "Incorrect TXT record found at %s", t->host);
out:
	if (txt != NULL)
		ares_free_data(txt);
}
