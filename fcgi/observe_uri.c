/* The parts of a request's URI the operator's endpoints read (fcgi/metrics.h, observe.h): pure
 * functions of untrusted bytes, apart so that fuzz/fuzz-observe-uri.c reaches them alone. */
#include "config.h"
#include <string.h>
#include "fcgi/metrics.h"
#include "fcgi/observe_uri.h"
#include "lib/num.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

enum metrics_route
metrics_route_of(const char *p)
{
	static const struct { const char *pre; int exact; enum metrics_route r; } t[] = {
		{ "/acme/directory", 1, MR_DIRECTORY }, { "/acme/new-nonce", 1, MR_NEW_NONCE },
		{ "/acme/new-account", 1, MR_NEW_ACCOUNT }, { "/acme/key-change", 1, MR_KEY_CHANGE },
		{ "/acme/new-order", 1, MR_NEW_ORDER }, { "/acme/new-authz", 1, MR_NEW_AUTHZ },
		{ "/acme/revoke-cert", 1, MR_REVOKE }, { "/acme/acct/", 0, MR_ACCOUNT },
		{ "/acme/authz/", 0, MR_AUTHZ }, { "/acme/chall/", 0, MR_CHALLENGE },
		{ "/acme/cert/", 0, MR_CERT }, { "/acme/renewal-info/", 0, MR_RENEWAL_INFO },
		{ "/health", 0, MR_HEALTH }, { "/metrics", 1, MR_METRICS }, { "/status", 0, MR_STATUS },
	};
	static const char order[] = "/acme/order/", fin[] = "/finalize";
	size_t n;

	if (p == NULL)
		return MR_OTHER;
	if (strncmp(p, order, sizeof(order) - 1) == 0) {
		n = strlen(p);
		return n > sizeof(fin) - 1 && strcmp(p + n - (sizeof(fin) - 1), fin) == 0 ?
		    MR_FINALIZE : MR_ORDER;
	}
	for (size_t i = 0; i < N(t); i++)
		if (t[i].exact ? strcmp(p, t[i].pre) == 0 : strncmp(p, t[i].pre, strlen(t[i].pre)) == 0)
			return t[i].r;
	return MR_OTHER;
}

int64_t
observe_query_int(const char *uri, const char *name, int64_t min, int64_t max, int64_t dflt)
{
	const char *q = strchr(uri, '?'), *v;
	size_t nlen = strlen(name), n;
	char num[20];
	int64_t out;

	if (q == NULL)
		return dflt;
	/* name=digits as a whole parameter: after '?' or '&', never inside another's name. */
	for (v = q + 1; *v != '\0' && *v != '#'; v += strcspn(v, "&#"), v += *v == '&') {
		if (strncmp(v, name, nlen) != 0 || v[nlen] != '=')
			continue;
		v += nlen + 1;
		n = strspn(v, "0123456789");
		if (n == 0 || n >= sizeof(num) || (v[n] != '\0' && v[n] != '&' && v[n] != '#'))
			return dflt;
		memcpy(num, v, n);
		num[n] = '\0';
		return num_parse_i64(num, min, max, &out) == AE_OK ? out : dflt;
	}
	return dflt;
}
