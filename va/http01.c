/* http-01 (RFC 8555 §8.3) through libcurl multi. curl never resolves a name itself: every hop's
 * host is resolved by resolve.c (so the address policy sees it) and pinned with CURLOPT_RESOLVE.
 * Redirects are followed here, not by curl, so each target is checked: http or https only, on
 * port 80/443 or the configured http01_port/https_port, at most max_redirects hops. */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "va/http01_parse.h"
#include "va/internal.h"

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct va_task *t = arg;

	if (n != 0 && size > SIZE_MAX / n)
		return 0;
	if (buf_append(&t->body, p, size * n) != AE_OK) {
		t->body_over = 1;
		return 0;   /* curl stops with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* Defence in depth: whatever curl decides to connect to must be the address we resolved and
 * the policy allowed, so no path through curl (a pin it did not match) reaches anything else. */
static curl_socket_t
on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct va_task *t = arg;
	struct va_addr a;

	memset(&a, 0, sizeof(a));
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (sa->family == AF_INET && sa->addrlen >= sizeof(struct sockaddr_in)) {
		a.family = AF_INET;
		memcpy(a.b, &((struct sockaddr_in *)&sa->addr)->sin_addr, 4);
	} else if (sa->family == AF_INET6 && sa->addrlen >= sizeof(struct sockaddr_in6)) {
		a.family = AF_INET6;
		memcpy(a.b, &((struct sockaddr_in6 *)&sa->addr)->sin6_addr, 16);
	} else {
		return CURL_SOCKET_BAD;
	}
	if (a.family != t->used.family || memcmp(a.b, t->used.b, sizeof(a.b)) != 0 ||
	    !va_policy_allows(t->policy, &a))
		return CURL_SOCKET_BAD;
	return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

void
va_http_cleanup(struct va_task *t)
{
	if (t->easy != NULL) {
		curl_multi_remove_handle(t->va->multi, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	/* After the easy handle: a share still in use is not freed. */
	if (t->dnscache != NULL) {
		curl_share_cleanup(t->dnscache);
		t->dnscache = NULL;
	}
	curl_slist_free_all(t->resolve);
	t->resolve = NULL;
}

static void
record_hop(struct va_task *t)
{
	json_object *r = va_record_new(t), *res;
	char a[INET6_ADDRSTRLEN + 2], port[16];

	if (r == NULL)
		return;
	snprintf(port, sizeof(port), "%lld", (long long)t->port);
	json_object_object_add(r, "url", json_object_new_string(t->url));
	json_object_object_add(r, "hostname", json_object_new_string(t->host));
	json_object_object_add(r, "port", json_object_new_string(port));
	if ((res = json_object_new_array()) != NULL) {
		for (size_t i = 0; i < t->naddrs; i++) {
			va_addr_str(&t->addrs[i], a, sizeof(a));
			json_object_array_add(res, json_object_new_string(a));
		}
		json_object_object_add(r, "addressesResolved", res);
	}
	va_addr_str(&t->used, a, sizeof(a));
	json_object_object_add(r, "addressUsed", json_object_new_string(a));
}

void
va_http_begin(struct va_task *t)
{
	char pin[600], a[INET6_ADDRSTRLEN];
	struct va_addr lit;
	int64_t left = t->deadline - va_now_ms();
	CURL *h = NULL;

	record_hop(t);
	buf_reset(&t->body);
	t->body_over = 0;
	t->curl_done = 0;
	t->curl_err[0] = '\0';
	t->phase = PH_HTTP;
	if (left < 1)
		left = 1;
	if ((h = curl_easy_init()) == NULL)
		goto fail;
	t->easy = h;
	/* A CURLOPT_RESOLVE pin is a permanent entry of the DNS cache the handle uses; left in the
	 * multi handle's shared cache, every validation's pin stayed for the life of the process and
	 * curl walks the whole cache at each transfer (Curl_hostcache_prune): CPU per validation
	 * grew with the validations done since start. A cache of the handle's own goes with it. */
	if ((t->dnscache = curl_share_init()) == NULL ||
	    curl_share_setopt(t->dnscache, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_easy_setopt(h, CURLOPT_SHARE, t->dnscache) != CURLE_OK)
		goto fail;
	if (va_addr_parse(t->host, &lit) != 0 && t->host[0] != '[') {
		va_addr_str(&t->used, a, sizeof(a));
		snprintf(pin, sizeof(pin), t->used.family == AF_INET6 ? "%s:%lld:[%s]" :
		    "%s:%lld:%s", t->host, (long long)t->port, a);
		if ((t->resolve = curl_slist_append(NULL, pin)) == NULL)
			goto fail;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, t->url) != CURLE_OK ||
	    (t->resolve != NULL && curl_easy_setopt(h, CURLOPT_RESOLVE, t->resolve) != CURLE_OK) ||
	    curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)t) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, t) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->curl_err) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    /* A connection of its own, closed after: curl matches cached connections by name and
	     * port, so a kept-alive one from an earlier validation of the name would be reused
	     * without on_open's address check, to an address this validation did not resolve
	     * (and would not record). */
	    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_IPRESOLVE, t->used.family == AF_INET6 ?
	    CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_V4) != CURLE_OK ||
	    /* Never through a proxy from the environment: the target is the point. */
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)t->va->conf->connect_timeout_ms)
	    != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, t->va->conf->user_agent) != CURLE_OK ||
	    /* §8.3: a redirect to https is followed without checking the certificate. */
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK ||
	    curl_multi_add_handle(t->va->multi, h) != CURLM_OK)
		goto fail;
	return;
fail:
	va_fail(t, "serverInternal", "cannot start an HTTP request");
}

static int
port_ok(const struct va_conf *c, int https, long port)
{
	if (https)
		return port == 443 || port == c->https_port;
	return port == 80 || port == c->http01_port;
}

static void
redirect(struct va_task *t, const char *to)
{
	const struct va_conf *c = t->va->conf;
	struct va_redirect rd;
	enum va_redirect_err rc;

	if (++t->hops > c->max_redirects) {
		va_fail(t, "connection", "Too many redirects (more than %lld)",
		    (long long)c->max_redirects);
		return;
	}
	rc = va_redirect_parse(to, sizeof(t->url), &rd);
	if (rc == VA_REDIRECT_BAD_URL) {
		va_fail(t, "connection", "Redirect to an invalid URL");
		return;
	}
	if (rc == VA_REDIRECT_BAD_SCHEME) {
		va_fail(t, "connection", "Redirect to a scheme other than http or https");
		return;
	}
	t->scheme_https = rd.https;
	if (!port_ok(c, t->scheme_https, rd.port)) {
		va_fail(t, "connection", "Redirect to port %ld, only 80 and 443 are allowed",
		    rd.port);
		return;
	}
	if (rc != VA_REDIRECT_OK || strlen(rd.host) >= sizeof(t->host)) {
		va_fail(t, "connection", "Redirect to an invalid host");
		return;
	}
	memcpy(t->host, rd.host, strlen(rd.host) + 1);
	memcpy(t->url, to, strlen(to) + 1);
	t->port = rd.port;
	va_http_cleanup(t);
	va_target_begin(t);
}

void
va_http_step(struct va_task *t)
{
	const char *to = NULL;
	long code = 0;
	char got[80];

	if (!t->curl_done)
		return;
	if (t->curl_res == CURLE_WRITE_ERROR && t->body_over) {
		va_fail(t, "incorrectResponse", "Response from %s exceeds %lld bytes", t->url,
		    (long long)t->va->conf->body_max);
		return;
	}
	if (t->curl_res == CURLE_SSL_CONNECT_ERROR || t->curl_res == CURLE_PEER_FAILED_VERIFICATION) {
		va_fail(t, "tls", "TLS error fetching %s: %s", t->url, t->curl_err);
		return;
	}
	if (t->curl_res != CURLE_OK) {
		va_fail(t, "connection", "Fetching %s: %s", t->url,
		    t->curl_err[0] ? t->curl_err : curl_easy_strerror(t->curl_res));
		return;
	}
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) {
		if (curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &to) != CURLE_OK ||
		    to == NULL) {
			va_fail(t, "connection", "Redirect from %s without a Location", t->url);
			return;
		}
		redirect(t, to);
		return;
	}
	if (code != 200) {
		va_fail(t, "unauthorized", "Invalid response from %s: HTTP %ld", t->url, code);
		return;
	}
	if (va_keyauth_matches(t->body.data, t->body.len, t->keyauth)) {
		va_succeed(t);
		return;
	}
	va_body_shown(t->body.data, t->body.len, got, sizeof(got));
	va_fail(t, "incorrectResponse", "The key authorization file from the server did not match "
	    "this challenge: expected \"%s\", got \"%s\"", t->keyauth, got);
}
