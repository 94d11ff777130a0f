/* Validation (RFC 8555 §8, RFC 8737, RFC 8738, CAA per RFC 8659/8657) on one event loop: many
 * challenges in flight at once, libcurl multi for http-01, c-ares for DNS, non-blocking OpenSSL
 * for tls-alpn-01. The engine knows nothing of the database: a caller (anvil-jobs) starts a task
 * with what it loaded and gets one callback with the outcome (validation record and problem
 * document as JSON text), which it stores. Single-threaded: every call from one thread. */
#ifndef ANVIL_VA_H
#define ANVIL_VA_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "lib/conf.h"
#include "lib/err.h"

#define VA_RESOLVERS_MAX 8
#define VA_CAA_IDS_MAX 8
#define VA_POLICIES_MAX 32
#define VA_NETS_MAX 32

struct va_net {
	int family;               /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

/* The address policy and CAA switch of one profile (jobs.policies.NAME). */
struct va_policy {
	const char *name;
	int deny_private;         /* private, loopback, link-local... refused (default for all) */
	struct va_net nets[VA_NETS_MAX];  /* allow_networks: when set, only these, private or not */
	size_t nnets;
	int caa;                  /* check CAA for this profile (default on) */
};

struct va_conf {
	char resolvers[VA_RESOLVERS_MAX * 64];  /* "ip:port,..." for c-ares; "" = system's */
	int64_t http01_port;
	int64_t https_port;        /* the port an http-01 redirect to https may name */
	int64_t tls_alpn01_port;
	int64_t dns_timeout_ms;
	int64_t dns_tries;
	int64_t connect_timeout_ms;
	int64_t timeout_ms;        /* one whole attempt, all lookups and hops included */
	int64_t body_max;
	int64_t max_redirects;
	const char *user_agent;
	const char *caa_ids[VA_CAA_IDS_MAX];
	size_t ncaa_ids;
	const char *account_uri_prefix;  /* accounturi = prefix + account id */
	struct va_policy policies[VA_POLICIES_MAX];
	size_t npolicies;
};

/* Parses jobs.validation (val, may be NULL) and jobs.policies (pol, may be NULL) into c;
 * strings point into the json objects. */
anvil_err va_conf_parse(struct conf_ctx *cc, json_object *val, json_object *pol,
    struct va_conf *c);
/* The policy for a profile: its own, else "default", else the built-in (deny private, CAA). */
const struct va_policy *va_policy_for(const struct va_conf *c, const char *profile);

struct va_input {
	const char *type;         /* http-01, dns-01, tls-alpn-01 */
	const char *token;
	const char *thumbprint;   /* of the account key */
	const char *ident_type;   /* dns, ip */
	const char *ident_value;  /* without "*." */
	int wildcard;
	const char *profile;
	int64_t account_id;
	/* CAA only (issuance's re-check of an older authorization, issue/caa.c): the task ends
	 * valid once CAA permits issuance, with type the method that validated it (RFC 8657
	 * validationmethods); token and thumbprint are not used. */
	int caa_only;
};

struct va_result {
	int valid;
	const char *record;       /* JSON array of validation records */
	const char *problem;      /* JSON problem document when !valid */
};

typedef void (*va_done_fn)(void *arg, const struct va_result *r);

struct va;
struct va_task;

/* conf must outlive the engine. */
anvil_err va_new(const struct va_conf *conf, struct va **out);
void va_free(struct va *va);

/* Starts a validation; cb is called exactly once, from a later va_run_once, unless the task is
 * cancelled first. */
anvil_err va_task_start(struct va *va, const struct va_input *in, va_done_fn cb, void *arg,
    struct va_task **out);
void va_task_cancel(struct va *va, struct va_task *t);
size_t va_inflight(const struct va *va);

/* Waits up to timeout_ms for network events or for extra_fd to be readable (*extra_ready set),
 * then advances every task that can move, calling callbacks of finished ones. */
anvil_err va_run_once(struct va *va, int extra_fd, int timeout_ms, int *extra_ready);

#endif
