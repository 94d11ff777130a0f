#include "config.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "jobs/conf.h"
#include "lib/privdrop.h"

static const char *const sections[] = CONF_SECTIONS;

static anvil_err
parse_jobs(struct conf_ctx *cc, json_object *root, struct jobs_conf *c)
{
	static const char *const keys[] = { "runner_id", "concurrency", "poll_interval", "lease",
		"retry_backoff", "max_attempts", "finalize_budget_ms", "finalize_concurrency",
		"sweep_interval", "status_sample_seconds", "wake_socket", "wake_socket_mode", "pid_file",
		"validation", "policies", "user", "group", NULL };
	json_object *sec = NULL, *val = NULL, *pol = NULL, *acme = NULL, *ids = NULL;
	const char *id = NULL, *base = NULL;
	char host[64];
	anvil_err e;
	int n;

	c->concurrency = 64;
	c->poll_interval = 5;
	c->lease = 60;
	c->retry_backoff = 5;
	c->max_attempts = 5;
	c->finalize_budget_ms = -1;
	c->finalize_concurrency = 4;
	c->sweep_interval = 60;
	c->status_sample_seconds = 60;
	c->wake_socket_mode = 0660;
	if ((e = conf_get_object(cc, root, "", "jobs", 1, &sec)) != AE_OK ||
	    (e = conf_check_keys(cc, sec, "jobs", keys)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "jobs", "runner_id", 0, &id)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "concurrency", 0, 1, 10000,
	    &c->concurrency)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "poll_interval", 0, 1, 3600,
	    &c->poll_interval)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "lease", 0, 2, 86400, &c->lease)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "retry_backoff", 0, 1, 86400,
	    &c->retry_backoff)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "max_attempts", 0, 1, 1000,
	    &c->max_attempts)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "finalize_budget_ms", 0, 100, 600000,
	    &c->finalize_budget_ms)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "finalize_concurrency", 0, 1, 64,
	    &c->finalize_concurrency)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "sweep_interval", 0, 1, 86400,
	    &c->sweep_interval)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "jobs", "status_sample_seconds", 0, 1, 3600,
	    &c->status_sample_seconds)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "jobs", "wake_socket", 0, &c->wake_socket)) != AE_OK ||
	    (e = conf_get_mode(cc, sec, "jobs", "wake_socket_mode", &c->wake_socket_mode)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "jobs", "pid_file", 0, &c->pid_file)) != AE_OK ||
	    (e = privdrop_conf(cc, sec, "jobs", &c->run_as)) != AE_OK ||
	    (e = conf_get_object(cc, sec, "jobs", "validation", 0, &val)) != AE_OK ||
	    (e = conf_get_object(cc, sec, "jobs", "policies", 0, &pol)) != AE_OK)
		return e;
	/* A finalize attempt runs on its own thread while the loop renews its lease; it still
	 * ends well inside half a lease, so a runner that stalls loses the job before its
	 * attempt could outlive the lease. */
	if (c->finalize_budget_ms < 0)
		c->finalize_budget_ms = c->lease * 1000 / 4 < 10000 ? c->lease * 1000 / 4 : 10000;
	else if (c->finalize_budget_ms >= c->lease * 1000 / 2)
		return conf_fail(cc, "jobs", "finalize_budget_ms",
		    "must be less than half of jobs.lease (%lld ms)", (long long)c->lease * 500);
	if (c->wake_socket != NULL && (c->wake_socket[0] != '/' || strlen(c->wake_socket) >= 108))
		return conf_fail(cc, "jobs", "wake_socket", "must be an absolute path under 108 bytes");
	if (c->pid_file != NULL && c->pid_file[0] != '/')
		return conf_fail(cc, "jobs", "pid_file", "must be an absolute path");
	if (id != NULL) {
		if (*id == '\0' || strlen(id) >= 100)
			return conf_fail(cc, "jobs", "runner_id", "must be 1..99 characters");
		snprintf(c->runner_id, sizeof(c->runner_id), "%s", id);
	} else {
		/* Unique across hosts and restarts (containers reuse host names and PIDs): a
		 * restarted runner must not mistake its dead predecessor's leases for its own. */
		unsigned char rnd[4] = { 0, 0, 0, 0 };

		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return conf_fail(cc, "jobs", "runner_id", "no randomness for a default");
		snprintf(c->runner_id, sizeof(c->runner_id), "%s:%ld:%02x%02x%02x%02x", host,
		    (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
	}
	if ((e = va_conf_parse(cc, val, pol, &c->va)) != AE_OK)
		return e;
	if ((e = conf_get_object(cc, root, "", "acme", 0, &acme)) != AE_OK)
		return e;
	if (c->va.ncaa_ids == 0 && acme != NULL &&
	    json_object_object_get_ex(acme, "caa_identities", &ids) &&
	    json_object_is_type(ids, json_type_array)) {
		/* The names the directory advertises are the ones CAA records use for us. */
		for (size_t i = 0; i < json_object_array_length(ids) &&
		    c->va.ncaa_ids < VA_CAA_IDS_MAX; i++) {
			json_object *v = json_object_array_get_idx(ids, i);
			if (json_object_is_type(v, json_type_string))
				c->va.caa_ids[c->va.ncaa_ids++] = json_object_get_string(v);
		}
	}
	if (c->va.account_uri_prefix == NULL) {
		/* accounturi (RFC 8657) names accounts by their URL, as the API builds it. */
		if (acme != NULL && (e = conf_get_string(cc, acme, "acme", "base_url", 0, &base))
		    != AE_OK)
			return e;
		if (base != NULL) {
			size_t bl = strlen(base);
			while (bl > 0 && base[bl - 1] == '/')
				bl--;
			n = snprintf(c->account_uri_prefix, sizeof(c->account_uri_prefix),
			    "%.*s/acme/acct/", (int)bl, base);
			if (n < 0 || (size_t)n >= sizeof(c->account_uri_prefix))
				return conf_fail(cc, "acme", "base_url", "too long");
			c->va.account_uri_prefix = c->account_uri_prefix;
		}
	}
	return AE_OK;
}

anvil_err
jobs_conf_load(struct conf_ctx *cc, const char *path, struct jobs_conf *c)
{
	anvil_err e;

	memset(c, 0, sizeof(*c));
	if ((e = conf_load_no_pin(cc, path, &c->root)) != AE_OK)
		return e;
	if ((e = conf_check_keys(cc, c->root, "", sections)) != AE_OK ||
	    (e = conf_parse_log(cc, c->root, &c->log_level, &c->log_syslog)) != AE_OK ||
	    (e = db_conf_parse(cc, c->root, &c->db)) != AE_OK ||
	    (e = parse_jobs(cc, c->root, c)) != AE_OK)
		jobs_conf_free(c);
	return e;
}

void
jobs_conf_free(struct jobs_conf *c)
{
	db_conf_free(&c->db);
	json_object_put(c->root);
	c->root = NULL;
}
