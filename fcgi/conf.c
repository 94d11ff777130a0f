#include "config.h"
#include <string.h>
#include <openssl/crypto.h>
#include "fcgi/conf.h"
#include "lib/privdrop.h"
#include "issue/conf.h"
#include "lib/num.h"
#include "lib/hex.h"

static const char *const sections[] = CONF_SECTIONS;

static anvil_err
parse_fcgi(struct conf_ctx *cc, json_object *root, struct fcgi_conf *c)
{
	static const char *const keys[] = { "socket", "socket_mode", "workers", "backlog",
		"pid_file", "retry_after", "user", "group", "nginx_read_timeout", NULL };
	json_object *sec = NULL;
	anvil_err e;

	c->socket = NULL;
	c->workers = 4;
	c->backlog = 128;
	c->retry_after = 5;
	c->nginx_read_timeout = 30;
	c->socket_mode = 0660;
	if ((e = conf_get_object(cc, root, "", "fcgi", 1, &sec)) != AE_OK ||
	    (e = conf_check_keys(cc, sec, "fcgi", keys)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "fcgi", "socket", 1, &c->socket)) != AE_OK ||
	    (e = conf_get_mode(cc, sec, "fcgi", "socket_mode", &c->socket_mode)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "fcgi", "workers", 0, 1, 1024, &c->workers)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "fcgi", "backlog", 0, 1, 65535, &c->backlog)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "fcgi", "pid_file", 0, &c->pid_file)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "fcgi", "retry_after", 0, 1, 3600,
	    &c->retry_after)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "fcgi", "nginx_read_timeout", 0, 1, 3600,
	    &c->nginx_read_timeout)) != AE_OK ||
	    (e = privdrop_conf(cc, sec, "fcgi", &c->worker_user)) != AE_OK)
		return e;
	if (c->socket[0] != '/' || strlen(c->socket) >= 108)
		return conf_fail(cc, "fcgi", "socket", "must be an absolute path under 108 bytes");
	if (c->pid_file != NULL && c->pid_file[0] != '/')
		return conf_fail(cc, "fcgi", "pid_file", "must be an absolute path");
	return AE_OK;
}

static int
url_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '"' ||
		    *s == '<' || *s == '>' || *s == '\\')
			return 0;
	return 1;
}

static anvil_err
parse_acme(struct conf_ctx *cc, json_object *root, struct fcgi_conf *c)
{
	static const char *const keys[] = { "base_url", "terms_of_service", "website",
		"caa_identities", "external_account_required", "contact_schemes", "max_contacts",
		/* fcgi/conf_orders.c */
		"order_lifetime", "authz_lifetime", "authz_reuse", "validation_wait_ms",
		"validation_recheck_ms",
		"orders_page_size", "poll_after", "default_profile", "profile_descriptions",
		"rate_limits",
		/* issue/conf.c */
		"serial_prefix", "finalize_budget_ms", "alternate_chains", "weak_keys_file",
		NULL };
	json_object *sec = NULL, *arr = NULL;
	const char *p;
	anvil_err e;

	c->max_contacts = 10;
	c->contact_schemes[0] = "mailto";
	c->n_contact_schemes = 1;
	if ((e = conf_get_object(cc, root, "", "acme", 1, &sec)) != AE_OK ||
	    (e = conf_check_keys(cc, sec, "acme", keys)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "acme", "base_url", 1, &c->base_url)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "acme", "terms_of_service", 0,
	    &c->terms_of_service)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "acme", "website", 0, &c->website)) != AE_OK ||
	    (e = conf_get_array(cc, sec, "acme", "caa_identities", 0,
	    &c->caa_identities)) != AE_OK ||
	    (e = conf_get_bool(cc, sec, "acme", "external_account_required", 0,
	    &c->external_account_required)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "acme", "max_contacts", 0, 0, 100,
	    &c->max_contacts)) != AE_OK ||
	    (e = conf_get_array(cc, sec, "acme", "contact_schemes", 0, &arr)) != AE_OK)
		return e;
	/* base_url: the scheme and authority clients use; every URL Anvil hands out starts
	 * with it, and a JWS "url" must equal it plus the request path. */
	if (strncmp(c->base_url, "https://", 8) == 0)
		p = c->base_url + 8;
	else if (strncmp(c->base_url, "http://", 7) == 0)
		p = c->base_url + 7;
	else
		return conf_fail(cc, "acme", "base_url", "must start with https:// (or http://)");
	if (!url_chars_ok(c->base_url) || *p == '\0' || *p == '/' || strchr(p, '?') ||
	    strchr(p, '#') || c->base_url[strlen(c->base_url) - 1] == '/' ||
	    strlen(c->base_url) > 512)
		return conf_fail(cc, "acme", "base_url", "must be scheme://host[:port][/path] "
		    "without a trailing slash, query or fragment");
	c->base_url_len = strlen(c->base_url);
	c->base_path = strchr(p, '/') ? strchr(p, '/') : "";
	if (c->terms_of_service != NULL && (!url_chars_ok(c->terms_of_service) ||
	    strncmp(c->terms_of_service, "http", 4) != 0))
		return conf_fail(cc, "acme", "terms_of_service", "must be an http(s) URL");
	if (c->website != NULL && (!url_chars_ok(c->website) || strncmp(c->website, "http", 4) != 0))
		return conf_fail(cc, "acme", "website", "must be an http(s) URL");
	if (c->caa_identities != NULL) {
		size_t n = json_object_array_length(c->caa_identities);
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(c->caa_identities, i);
			if (!json_object_is_type(v, json_type_string) ||
			    json_object_get_string_len(v) == 0 ||
			    !url_chars_ok(json_object_get_string(v)))
				return conf_fail(cc, "acme", "caa_identities",
				    "must be an array of domain names");
		}
	}
	if (arr != NULL) {
		size_t n = json_object_array_length(arr);
		if (n > CONF_CONTACT_SCHEMES_MAX)
			return conf_fail(cc, "acme", "contact_schemes", "at most %d schemes",
			    CONF_CONTACT_SCHEMES_MAX);
		c->n_contact_schemes = 0;
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(arr, i);
			const char *s = json_object_is_type(v, json_type_string) ?
			    json_object_get_string(v) : "";
			if (*s == '\0' || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+.-") !=
			    strlen(s))
				return conf_fail(cc, "acme", "contact_schemes",
				    "must be an array of lower-case URI schemes such as \"mailto\"");
			c->contact_schemes[c->n_contact_schemes++] = s;
		}
	}
	return fcgi_conf_orders_parse(cc, root, sec, c->issue.policy, &c->orders);
}

static anvil_err
parse_nonce(struct conf_ctx *cc, json_object *root, struct fcgi_conf *c)
{
	static const char *const keys[] = { "key", "lifetime", NULL };
	json_object *sec = NULL;
	char *key = NULL;
	anvil_err e;

	c->nonce_lifetime = 3600;
	if ((e = conf_get_object(cc, root, "", "nonce", 1, &sec)) != AE_OK ||
	    (e = conf_check_keys(cc, sec, "nonce", keys)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "nonce", "lifetime", 0, 1, 86400,
	    &c->nonce_lifetime)) != AE_OK ||
	    (e = conf_get_secret(cc, sec, "nonce", "key", 1, &key)) != AE_OK)
		goto out;
	if (strlen(key) != 2 * NONCE_KEY_LEN) {
		e = conf_fail(cc, "nonce", "key", "must be %d hex digits (%d random bytes; "
		    "e.g. openssl rand -hex %d), the same on every host", 2 * NONCE_KEY_LEN,
		    NONCE_KEY_LEN, NONCE_KEY_LEN);
		goto out;
	}
	for (size_t i = 0; i < NONCE_KEY_LEN; i++) {
		int hi = hex_digit(key[2 * i]), lo = hex_digit(key[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			e = conf_fail(cc, "nonce", "key", "must be %d hex digits",
			    2 * NONCE_KEY_LEN);
			goto out;
		}
		c->nonce_key[i] = (uint8_t)(hi << 4 | lo);
	}
out:
	conf_secret_free(key);
	return e;
}

/* Every wait of a request ends before nginx gives up on it (fcgi.nginx_read_timeout, the
 * fastcgi_read_timeout of its ACME location): past that the client gets nginx's 504 while
 * the worker keeps working for nobody. A request waits its budget (finalize, a challenge's
 * validation) plus at most one lock wait, and a query at most database.read_timeout; one
 * second is left for the rest. */
static anvil_err
check_budgets(struct conf_ctx *cc, const struct fcgi_conf *c)
{
	int64_t finalize_budget_ms = c->issue.finalize_budget_ms;
	int64_t limit = c->nginx_read_timeout * 1000 - 1000, lock = c->db.lock_wait_timeout * 1000;

	if (finalize_budget_ms + lock > limit)
		return conf_fail(cc, "acme", "finalize_budget_ms", "%lld ms plus "
		    "database.lock_wait_timeout (%lld s) must stay a second under "
		    "fcgi.nginx_read_timeout (%lld s, nginx's fastcgi_read_timeout)",
		    (long long)finalize_budget_ms, (long long)c->db.lock_wait_timeout,
		    (long long)c->nginx_read_timeout);
	if (c->orders.validation_wait_ms + lock > limit)
		return conf_fail(cc, "acme", "validation_wait_ms", "%lld ms plus "
		    "database.lock_wait_timeout (%lld s) must stay a second under "
		    "fcgi.nginx_read_timeout (%lld s, nginx's fastcgi_read_timeout)",
		    (long long)c->orders.validation_wait_ms, (long long)c->db.lock_wait_timeout,
		    (long long)c->nginx_read_timeout);
	if (c->db.read_timeout * 1000 > limit)
		return conf_fail(cc, "database", "read_timeout", "%lld s must stay a second under "
		    "fcgi.nginx_read_timeout (%lld s, nginx's fastcgi_read_timeout)",
		    (long long)c->db.read_timeout, (long long)c->nginx_read_timeout);
	return AE_OK;
}

anvil_err
fcgi_conf_parse(struct conf_ctx *cc, json_object *root, struct fcgi_conf *out)
{
	anvil_err e;

	memset(out, 0, sizeof(*out));
	out->root = json_object_get(root);
	if ((e = conf_check_keys(cc, root, "", sections)) != AE_OK ||
	    (e = conf_parse_log(cc, root, &out->log_level, &out->log_syslog)) != AE_OK ||
	    (e = db_conf_parse(cc, root, &out->db)) != AE_OK ||
	    (e = parse_fcgi(cc, root, out)) != AE_OK ||
	    (e = issue_conf_parse(cc, root, &out->issue)) != AE_OK ||
	    (e = parse_acme(cc, root, out)) != AE_OK ||
	    (e = parse_nonce(cc, root, out)) != AE_OK ||
	    (e = check_budgets(cc, out)) != AE_OK)
		fcgi_conf_free(out);
	return e;
}

anvil_err
fcgi_conf_load(struct conf_ctx *cc, const char *path, struct fcgi_conf *out)
{
	json_object *root = NULL;
	anvil_err e;

	memset(out, 0, sizeof(*out));
	if ((e = conf_load_no_pin(cc, path, &root)) != AE_OK)
		return e;
	e = fcgi_conf_parse(cc, root, out);
	json_object_put(root);
	return e;
}

void
fcgi_conf_free(struct fcgi_conf *c)
{
	db_conf_free(&c->db);
	c->orders.profiles = NULL;
	issue_conf_free(&c->issue);
	OPENSSL_cleanse(c->nonce_key, sizeof(c->nonce_key));
	json_object_put(c->root);
	c->root = NULL;
}
