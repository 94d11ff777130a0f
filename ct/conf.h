/* The `ct` section of the deployment file (doc/config.md, doc/ct.md): the CT logs, grouped by
 * operator, and the policies issuance profiles use to decide how many SCTs from how many
 * operators a precertificate needs, which logs also get the final certificate, and which logs
 * are informational (submitted to, never waited for). Validated at start with errors naming
 * the dotted key; issue/conf.c binds every issuance profile to its policy. */
#ifndef ANVIL_CT_CONF_H
#define ANVIL_CT_CONF_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "ct/sct.h"
#include "lib/conf.h"

#define CT_LOGS_MAX 64          /* logs are sets in a uint64_t */
#define CT_POLICIES_MAX 16
#define CT_PROFILES_MAX 32
#define CT_URL_MAX 256

enum ct_log_state {
	CT_LOG_USABLE,    /* receives submissions */
	CT_LOG_READONLY,  /* frozen by its operator: no submissions */
	CT_LOG_RETIRED,   /* no submissions, and its SCTs no longer count */
};

struct ct_log {
	const char *name;            /* key of ct.logs */
	char url[CT_URL_MAX + 1];    /* base URL, no trailing slash */
	const char *operator_name;
	size_t operator;             /* index of operator_name in ct_conf.operators */
	struct ct_log_key key;
	int64_t not_after_start;     /* accepts leaves with start <= notAfter < end */
	int64_t not_after_end;
	enum ct_log_state state;
	size_t index;
};

struct ct_policy {
	const char *name;            /* key of ct.policies */
	uint64_t logs;               /* bit i: logs[i] may give SCTs */
	uint64_t informational;      /* submitted to, never waited for */
	uint64_t final_logs;         /* receive the final certificate */
	int64_t min_scts;            /* lifetime <= long_lifetime_days */
	int64_t min_scts_long;       /* lifetime above it */
	int64_t long_lifetime_days;
	int64_t min_operators;
	int64_t log_timeout_ms;      /* one submission to one log */
	int64_t deadline_ms;         /* all of a submission */
};

struct ct_conf {
	struct ct_log logs[CT_LOGS_MAX];
	size_t nlogs;
	const char *operators[CT_LOGS_MAX];
	size_t noperators;
	struct ct_policy policies[CT_POLICIES_MAX];
	size_t npolicies;
	struct {
		const char *profile;
		size_t policy;
		int bound;           /* a profile of that name was seen */
	} profiles[CT_PROFILES_MAX];
	size_t nprofiles;
	int64_t backoff_after_failures;
	int64_t backoff_max_s;
	int64_t sct_give_up_s;       /* a precertificate's SCTs are sought this long, then invalid */
	int64_t final_rate;          /* final-certificate submissions per second, per log */
	int64_t final_give_up_s;     /* a final certificate's submission to a log is tried this long */
};

/* Parses root's `ct` section (absent: an empty configuration). Strings point into root.
 * ct_conf_free releases the keys (also after an error). */
anvil_err ct_conf_parse(struct conf_ctx *cc, json_object *root, struct ct_conf *out);
void ct_conf_free(struct ct_conf *c);

/* Binds one issuance profile: a profile with ct needs an entry in ct.profiles naming an
 * existing policy that can be met for its maximum lifetime; a profile without ct must not have
 * one. Call for every profile, then ct_conf_bind_done (every ct.profiles key is a profile,
 * every policy is used by one). */
anvil_err ct_conf_bind_profile(struct conf_ctx *cc, struct ct_conf *c, const char *profile,
    int ct, int64_t max_validity_s);
anvil_err ct_conf_bind_done(struct conf_ctx *cc, struct ct_conf *c);

const struct ct_policy *ct_conf_policy(const struct ct_conf *c, const char *name);
const struct ct_policy *ct_conf_profile_policy(const struct ct_conf *c, const char *profile);
/* SCTs a leaf with this lifetime (notAfter - notBefore + 1 seconds) needs under p. */
int64_t ct_policy_min_scts(const struct ct_policy *p, int64_t lifetime_s);

#endif
