/* newOrder's "identifiers" (fcgi/identifier.c) and newAccount's "contact" (fcgi/contact.c) on
 * hostile JSON, through the same struct req the API uses (no database, no FastCGI stream: a
 * problem is a response in the request, as it would be sent). The first byte picks the parser
 * and the profile's policy, the rest is the JSON. What is accepted must be what the rest of the
 * API assumes: at most max_names identifiers, sorted and distinct, lowercase DNS names without
 * "*." (the wildcard flag only where the profile allows it) or canonical IP text; contacts as a
 * JSON array of at most max_contacts strings. A refusal is a 4xx problem document. */
#include "config.h"
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ca/profile.h"
#include "fcgi/api.h"
#include "fcgi/orders.h"
#include "fcgi/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
refused(struct req *r)
{
	if (r->status < 400 || r->status >= 500 || r->resp_body == NULL)
		abort();
}

static void
idents(struct req *r, json_object *arr, const struct profile *p)
{
	struct order_ident *ids = NULL;
	size_t n = 0;

	if (ident_parse_list(r, arr, p, &ids, &n) != 0) {
		refused(r);
		return;
	}
	if (n == 0 || (int64_t)n > p->max_names)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *v = ids[i].value;
		uint8_t bin[16];
		char canon[INET6_ADDRSTRLEN];
		json_object *j;
		if (ids[i].wildcard && (!p->allow_wildcard || ids[i].type != DB_IDENT_DNS))
			abort();
		if (ids[i].type == DB_IDENT_DNS) {
			if (*v == '\0' || strncmp(v, "*.", 2) == 0 || strlen(v) > 253)
				abort();
			for (const char *q = v; *q; q++)
				if (*q >= 'A' && *q <= 'Z')
					abort();
			if (ident_registered_domain(&ids[i]) == NULL)
				abort();
		} else {
			int af = strchr(v, ':') ? AF_INET6 : AF_INET;
			if (inet_pton(af, v, bin) != 1 || inet_ntop(af, bin, canon,
			    sizeof(canon)) == NULL || strcmp(canon, v) != 0)
				abort();
		}
		for (size_t k = 0; k < i; k++)
			if (ids[k].type == ids[i].type && ids[k].wildcard == ids[i].wildcard &&
			    strcmp(ids[k].value, v) == 0)
				abort();
		if ((j = ident_json(&ids[i])) == NULL)
			abort();
		json_object_put(j);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fcgi_conf conf;
	static struct profile prof;
	struct req r;
	json_tokener *tok;
	json_object *obj;
	const char *text;

	if (size < 1 || size > 16384)
		return 0;
	memset(&conf, 0, sizeof(conf));
	conf.contact_schemes[0] = "mailto";
	conf.contact_schemes[1] = "tel";
	conf.n_contact_schemes = 2;
	conf.max_contacts = 4;
	memset(&prof, 0, sizeof(prof));
	snprintf(prof.name, sizeof(prof.name), "fuzz");
	prof.allow_wildcard = data[0] & 2 ? 1 : 0;
	prof.is_public = data[0] & 4 ? 1 : 0;
	prof.max_names = data[0] & 8 ? 3 : 100;
	if (data[0] & 16) {
		prof.dns_suffixes[0] = "corp.test";
		prof.n_dns_suffixes = 1;
		prof.ip_ranges[0].len = 4;
		prof.ip_ranges[0].prefix = 8;
		prof.ip_ranges[0].addr[0] = 10;
		prof.n_ip_ranges = 1;
	}
	memset(&r, 0, sizeof(r));
	r.conf = &conf;
	arena_init(&r.arena);
	buf_init(&r.headers, 4096);
	if ((tok = json_tokener_new()) == NULL)
		abort();
	obj = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
	if (obj != NULL && json_tokener_get_error(tok) == json_tokener_success) {
		if (data[0] & 1) {
			idents(&r, obj, &prof);
		} else if ((text = contact_check(&r, obj)) == NULL) {
			refused(&r);
		} else {
			json_object *back = json_tokener_parse(text);
			if (back == NULL || !json_object_is_type(back, json_type_array) ||
			    json_object_array_length(back) > (size_t)conf.max_contacts)
				abort();
			json_object_put(back);
		}
	}
	json_object_put(obj);
	json_tokener_free(tok);
	arena_reset(&r.arena);
	buf_free(&r.headers);
	return 0;
}
