#include "config.h"
#include <string.h>
#include <strings.h>
#include "fcgi/api.h"

#define CONTACT_URI_MAX 320   /* mailto: + a 254-byte address, with room to spare */
#define EMAIL_MAX 254
#define LOCAL_MAX 64

static int
atext(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("!#$&'*+-/=^_`{|}~", ch) != NULL);
}

/* A plain addr-spec (RFC 5322 dot-atom @ a DNS name): one address, no hfields, no
 * percent-encoding, no quoted local parts, no address literals. */
static const char *
mailto_check(const char *addr, size_t n)
{
	const char *at = memchr(addr, '@', n);
	size_t local, label = 0, labels = 0, digits_only = 1;

	if (memchr(addr, '?', n) != NULL)
		return "mailto contacts must not have header fields";
	if (memchr(addr, ',', n) != NULL)
		return "one address per mailto contact";
	if (at == NULL || memchr(at + 1, '@', n - (size_t)(at - addr) - 1) != NULL)
		return "a mailto contact needs exactly one address";
	if (n > EMAIL_MAX)
		return "the address is too long";
	local = (size_t)(at - addr);
	if (local == 0 || local > LOCAL_MAX || addr[0] == '.' || addr[local - 1] == '.')
		return "the address has an invalid local part";
	for (size_t i = 0; i < local; i++) {
		unsigned char ch = (unsigned char)addr[i];
		if (ch == '.' && addr[i + 1] == '.')
			return "the address has an invalid local part";
		if (ch != '.' && !atext(ch))
			return "the address has an invalid local part";
	}
	for (size_t i = local + 1; i <= n; i++) {
		unsigned char ch = i < n ? (unsigned char)addr[i] : '.';
		if (ch == '.') {
			if (label == 0 || label > 63 || addr[i - 1] == '-' ||
			    addr[i - label] == '-')
				return "the address has an invalid domain";
			labels++;
			if (i < n) {
				label = 0;
				digits_only = 1;
			}
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-'))
			return "the address has an invalid domain";
		if (!(ch >= '0' && ch <= '9'))
			digits_only = 0;
		label++;
	}
	if (labels < 2 || digits_only)
		return "the address domain must be a fully qualified domain name";
	return NULL;
}

static int
scheme_allowed(const struct fcgi_conf *c, const char *s, size_t n)
{
	for (size_t i = 0; i < c->n_contact_schemes; i++)
		if (strlen(c->contact_schemes[i]) == n &&
		    strncasecmp(c->contact_schemes[i], s, n) == 0)
			return 1;
	return 0;
}

const char *
contact_check(struct req *r, json_object *contact)
{
	const struct fcgi_conf *c = r->conf;
	json_object *out = NULL;
	const char *s;
	size_t n;

	if (!json_object_is_type(contact, json_type_array)) {
		req_problem(r, PROB_MALFORMED, "contact must be an array of URIs");
		return NULL;
	}
	n = json_object_array_length(contact);
	if (n > (size_t)c->max_contacts) {
		req_problem(r, PROB_INVALID_CONTACT, "at most %lld contacts are allowed",
		    (long long)c->max_contacts);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(contact, i);
		const char *uri, *colon, *why = NULL;
		size_t len;

		if (!json_object_is_type(v, json_type_string)) {
			req_problem(r, PROB_MALFORMED, "contact %zu is not a string", i);
			return NULL;
		}
		uri = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		colon = memchr(uri, ':', len);
		if (len > CONTACT_URI_MAX || colon == NULL || colon == uri ||
		    strlen(uri) != len) {
			req_problem(r, PROB_INVALID_CONTACT, "contact %zu is not a URI", i);
			return NULL;
		}
		if (!scheme_allowed(c, uri, (size_t)(colon - uri))) {
			req_problem(r, PROB_UNSUPPORTED_CONTACT, "contact %zu: this server accepts "
			    "%s contacts only", i, c->n_contact_schemes ? c->contact_schemes[0] :
			    "no");
			return NULL;
		}
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)uri[k] <= 0x20 || (unsigned char)uri[k] >= 0x7f)
				why = "contact URIs must be printable ASCII without spaces";
		if (why == NULL && colon + 1 == uri + len)
			why = "the contact URI is empty after its scheme";
		if (why == NULL && (size_t)(colon - uri) == 6 && strncasecmp(uri, "mailto", 6) == 0)
			why = mailto_check(colon + 1, len - 7);
		if (why != NULL) {
			req_problem(r, PROB_INVALID_CONTACT, "contact %zu: %s", i, why);
			return NULL;
		}
	}
	out = req_keep(r, json_object_get(contact));
	s = out ? json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	if (s == NULL) {
		req_fail(r, AE_NOMEM, "contact");
		return NULL;
	}
	if (strlen(s) > DB_CONTACT_MAX) {
		req_problem(r, PROB_INVALID_CONTACT, "the contacts are too long together");
		return NULL;
	}
	return s;
}
