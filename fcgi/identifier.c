#include "config.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "ca/profile.h"
#include "fcgi/orders.h"
#include "lib/b64url.h"
#include "lib/regdomain.h"

#define IDENT_VALUE_MAX 255   /* a client's value, before any check */

const struct profile *
orders_profile(struct req *r, const char *name)
{
	const struct fcgi_order_conf *o = &r->conf->orders;
	const struct profile *p;

	if (o->profiles == NULL || o->profiles->nprofiles == 0 || o->default_profile == NULL) {
		req_problem(r, PROB_NOT_IMPLEMENTED, "this server has no issuance profile "
		    "configured");
		return NULL;
	}
	if (name == NULL)
		name = o->default_profile;
	if ((p = conf_profile(o->profiles, name)) == NULL)
		req_problem(r, PROB_INVALID_PROFILE, "no such profile; the directory's "
		    "meta.profiles lists them");
	return p;
}

/* Lowercase LDH labels; "*." only as a whole leftmost label (not part of out). The policy
 * (suffixes, single labels, wildcards allowed) is the profile's, checked after. */
static int
dns_parse(struct req *r, const char *v, size_t len, struct order_ident *id)
{
	size_t lab = 0, numeric = 1;

	if (len >= 2 && v[0] == '*' && v[1] == '.') {
		id->wildcard = 1;
		v += 2;
		len -= 2;
	}
	if (len == 0 || len > 253) {
		req_problem(r, PROB_REJECTED_IDENTIFIER, "a DNS identifier must be 1 to 253 "
		    "characters long");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = v[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '.') {
			if (lab == 0 || v[i - 1] == '-') {
				req_problem(r, PROB_REJECTED_IDENTIFIER, "a DNS identifier has an "
				    "empty label or a label ending in '-'");
				return -1;
			}
			lab = 0;
			numeric = 1;
		} else if ((ch >= 'a' && ch <= 'z') || ch == '-' || (ch >= '0' && ch <= '9')) {
			if (lab == 0 && ch == '-') {
				req_problem(r, PROB_REJECTED_IDENTIFIER, "a DNS label must not "
				    "start with '-'");
				return -1;
			}
			if (++lab > 63) {
				req_problem(r, PROB_REJECTED_IDENTIFIER, "a DNS label is longer "
				    "than 63 characters");
				return -1;
			}
			if (!(ch >= '0' && ch <= '9'))
				numeric = 0;
		} else {
			req_problem(r, PROB_REJECTED_IDENTIFIER, ch == '*' ?
			    "a wildcard must be the whole leftmost label (\"*.\")" :
			    "a DNS identifier may only hold letters, digits, '-' and '.' "
			    "(IDNs in their xn-- form)");
			return -1;
		}
		id->value[i] = ch;
	}
	if (lab == 0 || v[len - 1] == '-') {
		req_problem(r, PROB_REJECTED_IDENTIFIER, "a DNS identifier must not end in '.' "
		    "or '-'");
		return -1;
	}
	if (numeric) {
		req_problem(r, PROB_REJECTED_IDENTIFIER, "a DNS identifier's last label must not "
		    "be numeric (use an ip identifier for addresses)");
		return -1;
	}
	id->value[len] = '\0';
	return 0;
}

/* RFC 8738 §3: the address in its canonical text (RFC 5952 for IPv6). */
static int
ip_parse(struct req *r, const char *v, uint8_t *bin, size_t *blen, struct order_ident *id)
{
	char canon[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, v, bin) == 1) {
		*blen = 4;
		inet_ntop(AF_INET, bin, canon, sizeof(canon));
	} else if (strchr(v, '%') == NULL && inet_pton(AF_INET6, v, bin) == 1) {
		*blen = 16;
		inet_ntop(AF_INET6, bin, canon, sizeof(canon));
	} else {
		req_problem(r, PROB_MALFORMED, "an ip identifier must be an IPv4 or IPv6 address "
		    "in text form");
		return -1;
	}
	snprintf(id->value, sizeof(id->value), "%s", canon);
	return 0;
}

int
ident_parse(struct req *r, json_object *obj, const struct profile *p, int allow_wildcard,
    struct order_ident *id)
{
	json_object *t = NULL, *v = NULL;
	struct ident pid;
	uint8_t bin[16];
	size_t blen = 0, len;
	const char *type, *val;

	memset(id, 0, sizeof(*id));
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "type", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    !json_object_object_get_ex(obj, "value", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		req_problem(r, PROB_MALFORMED, "an identifier must be an object with string "
		    "\"type\" and \"value\"");
		return -1;
	}
	type = json_object_get_string(t);
	val = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len > IDENT_VALUE_MAX || strlen(val) != len) {
		req_problem(r, PROB_REJECTED_IDENTIFIER, "an identifier value is too long or "
		    "holds a NUL");
		return -1;
	}
	if (strcmp(type, "dns") == 0) {
		id->type = DB_IDENT_DNS;
		if (dns_parse(r, val, len, id) != 0)
			return -1;
		if (id->wildcard && !allow_wildcard) {
			req_problem(r, PROB_REJECTED_IDENTIFIER, "a wildcard is not allowed here "
			    "(pre-authorization is for exact names)");
			return -1;
		}
	} else if (strcmp(type, "ip") == 0) {
		id->type = DB_IDENT_IP;
		if (ip_parse(r, val, bin, &blen, id) != 0)
			return -1;
	} else {
		req_problem(r, PROB_UNSUPPORTED_IDENTIFIER, "identifier types are \"dns\" and "
		    "\"ip\"");
		return -1;
	}
	/* The signer's own name policy (ca/profile.c), so both ends agree. */
	memset(&pid, 0, sizeof(pid));
	if (id->type == DB_IDENT_DNS) {
		int n = snprintf((char *)pid.val, sizeof(pid.val), "%s%s", id->wildcard ? "*." : "",
		    id->value);
		if (n < 0 || (size_t)n >= sizeof(pid.val)) {
			req_problem(r, PROB_REJECTED_IDENTIFIER, "a DNS identifier is too long");
			return -1;
		}
		pid.type = ID_DNS;
		pid.len = (uint8_t)n;
	} else {
		pid.type = ID_IP;
		pid.len = (uint8_t)blen;
		memcpy(pid.val, bin, blen);
	}
	if (profile_check_ident(p, &pid) != AE_OK) {
		req_problem(r, PROB_REJECTED_IDENTIFIER, "the %s identifier %s%s is not allowed "
		    "by the profile %s", type, id->wildcard ? "*." : "", id->value, p->name);
		return -1;
	}
	return 0;
}

static int
ident_cmp(const void *a, const void *b)
{
	const struct order_ident *x = a, *y = b;
	int c;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if ((c = strcmp(x->value, y->value)) != 0)
		return c;
	return x->wildcard - y->wildcard;
}

int
ident_parse_list(struct req *r, json_object *arr, const struct profile *p,
    struct order_ident **ids, size_t *n)
{
	struct order_ident *v;
	size_t len, out = 0;

	if (arr == NULL || !json_object_is_type(arr, json_type_array) ||
	    (len = json_object_array_length(arr)) == 0) {
		req_problem(r, PROB_MALFORMED, "identifiers must be a non-empty array");
		return -1;
	}
	if (len > DB_ORDER_AUTHZ_MAX || (int64_t)len > p->max_names) {
		req_problem(r, PROB_REJECTED_IDENTIFIER, "an order may hold at most %lld "
		    "identifiers", (long long)(p->max_names < DB_ORDER_AUTHZ_MAX ?
		    p->max_names : DB_ORDER_AUTHZ_MAX));
		return -1;
	}
	if ((v = arena_alloc(&r->arena, len * sizeof(*v))) == NULL) {
		req_fail(r, AE_NOMEM, "identifiers");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (ident_parse(r, json_object_array_get_idx(arr, i), p, 1, &v[i]) != 0)
			return -1;
	qsort(v, len, sizeof(*v), ident_cmp);
	for (size_t i = 0; i < len; i++)
		if (out == 0 || ident_cmp(&v[out - 1], &v[i]) != 0)
			v[out++] = v[i];
	*ids = v;
	*n = out;
	return 0;
}

json_object *
ident_json(const struct order_ident *id)
{
	json_object *o = json_object_new_object();
	char v[DB_IDENT_MAX + 3];

	if (o == NULL)
		return NULL;
	snprintf(v, sizeof(v), "%s%s", id->wildcard ? "*." : "", id->value);
	json_object_object_add(o, "type", json_object_new_string(db_ident_type_name(id->type)));
	json_object_object_add(o, "value", json_object_new_string(v));
	return o;
}

/* The public suffix list's registered domain (lib/regdomain.c), not the last two labels: those
 * would count every customer of co.uk as one domain. */
const char *
ident_registered_domain(const struct order_ident *id)
{
	if (id->type != DB_IDENT_DNS)
		return NULL;
	return regdomain_of(id->value);
}

size_t
ident_challenge_types(const struct order_ident *id, const char *types[3])
{
	size_t n = 0;

	if (id->type == DB_IDENT_IP) {
		types[n++] = "http-01";
		types[n++] = "tls-alpn-01";
	} else if (id->wildcard) {
		types[n++] = "dns-01";
	} else {
		types[n++] = "http-01";
		types[n++] = "dns-01";
		types[n++] = "tls-alpn-01";
	}
	return n;
}

int
ident_new_authz(struct req *r, const struct order_ident *id, struct db_new_authz *a)
{
	memset(a, 0, sizeof(*a));
	a->type = id->type;
	a->value = id->value;
	a->wildcard = id->wildcard;
	a->nchall = ident_challenge_types(id, a->chall_types);
	for (size_t i = 0; i < a->nchall; i++) {
		uint8_t rnd[16];
		char *tok = arena_alloc(&r->arena, DB_TOKEN_LEN + 1);
		if (tok == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1 ||
		    b64url_encode(rnd, sizeof(rnd), tok, DB_TOKEN_LEN + 1) != AE_OK) {
			req_fail(r, AE_INTERNAL, "challenge token");
			return -1;
		}
		a->tokens[i] = tok;
	}
	return 0;
}
