/* anvil-fcgi's configuration: the sections log, database, fcgi, acme and nonce of the
 * deployment file (doc/config.md), validated as a whole so that --check, `anvilctl check` and a
 * SIGHUP reload apply exactly the same rules. */
#ifndef ANVIL_FCGI_CONF_H
#define ANVIL_FCGI_CONF_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "db/db.h"
#include "issue/conf.h"
#include "lib/conf.h"
#include "lib/privdrop.h"
#include "lib/log.h"
#include "lib/nonce.h"

#define CONF_CONTACT_SCHEMES_MAX 8

struct signer_conf;

/* A rate limit of acme.rate_limits: off when limit is 0. */
struct fcgi_rate_limit {
	int64_t limit;
	int64_t window;             /* seconds; unused for pending_authorizations */
	int64_t ipv6_prefix;        /* new_accounts_per_ip: IPv6 addresses count per /N */
};

/* Orders, authorizations, challenges: the acme keys of fcgi/conf_orders.c and the issuance
 * profiles (the `issuers` and `profiles` sections, parsed once, with the rest of issuance's
 * configuration, into fcgi_conf.issue). */
struct fcgi_order_conf {
	int64_t order_lifetime;     /* seconds a new order stays usable */
	int64_t authz_lifetime;     /* seconds a new authorization stays pending */
	int64_t authz_reuse;        /* seconds a valid authorization is reused; 0: never */
	int64_t validation_wait_ms; /* a challenge response waits this long for the result */
	int64_t validation_recheck_ms; /* ...re-reading it this often besides when woken */
	int64_t orders_page_size;
	int64_t poll_after;         /* Retry-After of pending/processing objects */
	const char *default_profile; /* NULL when no profile is configured */
	json_object *profile_descriptions; /* acme.profile_descriptions, or NULL */
	struct signer_conf *profiles; /* fcgi_conf.issue's (borrowed); NULL without issuers */
	const char *wake_socket;    /* jobs.wake_socket, or NULL */
	struct fcgi_rate_limit rl_new_orders, rl_pending_authz, rl_failed_validations,
	    rl_certs_per_domain, rl_new_accounts_per_ip;
};

/* Validates the acme issuance keys against the profiles of policy (borrowed; NULL without an
 * issuers section) (fcgi/conf_orders.c). */
anvil_err fcgi_conf_orders_parse(struct conf_ctx *cc, json_object *root, json_object *acme,
    struct signer_conf *policy, struct fcgi_order_conf *o);

struct fcgi_conf {
	json_object *root;          /* owns every const char * below */

	enum log_level log_level;
	int log_syslog;

	struct db_conf db;

	const char *socket;
	mode_t socket_mode;
	int64_t workers;
	int64_t backlog;
	const char *pid_file;
	int64_t retry_after;
	int64_t nginx_read_timeout; /* s: nginx's fastcgi_read_timeout, every wait ends before */
	struct privdrop worker_user; /* fcgi.user/group: what workers run as */

	const char *base_url;       /* scheme://host[:port] without a trailing slash */
	size_t base_url_len;
	const char *base_path;      /* the path part of base_url ("" when none) */
	const char *terms_of_service;
	const char *website;
	json_object *caa_identities; /* array of strings, or NULL */
	int external_account_required;
	const char *contact_schemes[CONF_CONTACT_SCHEMES_MAX];
	size_t n_contact_schemes;
	int64_t max_contacts;

	uint8_t nonce_key[NONCE_KEY_LEN];
	int64_t nonce_lifetime;

	/* Issuance's configuration (issue/conf.h), parsed once per load of the file: in the
	 * master at start and on each reload, inherited by the workers it forks, whose issue_ctx
	 * and newOrder (orders.profiles) share its one profile set. */
	struct issue_conf issue;
	struct fcgi_order_conf orders;  /* acme.* issuance keys (fcgi/conf_orders.c) */
};

/* Loads path and validates it; on failure cc->err names the file and the dotted key. */
anvil_err fcgi_conf_load(struct conf_ctx *cc, const char *path, struct fcgi_conf *out);
/* Validates an already-loaded root (anvilctl check); takes a reference on root. */
anvil_err fcgi_conf_parse(struct conf_ctx *cc, json_object *root, struct fcgi_conf *out);
void fcgi_conf_free(struct fcgi_conf *c);

#endif
