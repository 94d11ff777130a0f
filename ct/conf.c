#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ct/conf.h"
#include "lib/rfc3339.h"

static const char *const ct_keys[] = { "logs", "policies", "profiles",
	"backoff_after_failures", "backoff_max_seconds", "sct_give_up_seconds",
	"final_rate_per_second", "final_give_up_seconds", NULL };
static const char *const log_keys[] = { "url", "key", "operator", "state", "not_after_start",
	"not_after_end", NULL };
static const char *const policy_keys[] = { "logs", "informational", "final_certificates",
	"min_scts", "min_scts_long", "long_lifetime_days", "min_operators", "log_timeout_ms",
	"deadline_ms", NULL };

static anvil_err
parse_log(struct conf_ctx *cc, struct ct_conf *c, const char *name, json_object *o,
    struct ct_log *l)
{
	char where[128], why[160];
	const char *url = NULL, *key = NULL, *state = "usable", *start = NULL, *end = NULL;
	size_t n;
	anvil_err e;

	snprintf(where, sizeof(where), "ct.logs.%s", name);
	l->name = name;
	l->not_after_start = 0;
	l->not_after_end = INT64_MAX;
	if ((e = conf_check_keys(cc, o, where, log_keys)) != AE_OK ||
	    (e = conf_get_string(cc, o, where, "url", 1, &url)) != AE_OK ||
	    (e = conf_get_string(cc, o, where, "key", 1, &key)) != AE_OK ||
	    (e = conf_get_string(cc, o, where, "operator", 1, &l->operator_name)) != AE_OK ||
	    (e = conf_get_string(cc, o, where, "state", 0, &state)) != AE_OK ||
	    (e = conf_get_string(cc, o, where, "not_after_start", 0, &start)) != AE_OK ||
	    (e = conf_get_string(cc, o, where, "not_after_end", 0, &end)) != AE_OK)
		return e;
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
	    n > CT_URL_MAX || strpbrk(url, " \"\\<>{}|^`") != NULL)
		return conf_fail(cc, where, "url", "must be an http:// or https:// URL of at most "
		    "%d characters", CT_URL_MAX);
	memcpy(l->url, url, n);
	l->url[n] = '\0';
	if (ct_log_key_load(&l->key, key, why, sizeof(why)) != AE_OK)
		return conf_fail(cc, where, "key", "%s", why);
	if (l->operator_name[0] == '\0')
		return conf_fail(cc, where, "operator", "must not be empty");
	if (strcmp(state, "usable") == 0)
		l->state = CT_LOG_USABLE;
	else if (strcmp(state, "readonly") == 0)
		l->state = CT_LOG_READONLY;
	else if (strcmp(state, "retired") == 0)
		l->state = CT_LOG_RETIRED;
	else
		return conf_fail(cc, where, "state", "must be usable, readonly or retired");
	if (start != NULL && rfc3339_parse_utc(start, &l->not_after_start) != 0)
		return conf_fail(cc, where, "not_after_start", "must be a UTC time such as "
		    "\"2026-01-01T00:00:00Z\"");
	if (end != NULL && rfc3339_parse_utc(end, &l->not_after_end) != 0)
		return conf_fail(cc, where, "not_after_end", "must be a UTC time such as "
		    "\"2026-07-01T00:00:00Z\"");
	if (l->not_after_end <= l->not_after_start)
		return conf_fail(cc, where, "not_after_end", "must be after not_after_start");
	for (size_t i = 0; i < l->index; i++) {
		if (memcmp(c->logs[i].key.id, l->key.id, 32) == 0)
			return conf_fail(cc, where, "key", "same key (log id) as ct.logs.%s",
			    c->logs[i].name);
	}
	for (n = 0; n < c->noperators; n++)
		if (strcmp(c->operators[n], l->operator_name) == 0)
			break;
	if (n == c->noperators)
		c->operators[c->noperators++] = l->operator_name;
	l->operator = n;
	return AE_OK;
}

static int
log_index(const struct ct_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nlogs; i++)
		if (strcmp(c->logs[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* An array of log names as a set; a missing key leaves *out alone. */
static anvil_err
get_log_set(struct conf_ctx *cc, const struct ct_conf *c, json_object *o, const char *where,
    const char *key, uint64_t *out)
{
	json_object *arr = NULL;
	anvil_err e;

	if ((e = conf_get_array(cc, o, where, key, 0, &arr)) != AE_OK || arr == NULL)
		return e;
	*out = 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		int k;
		if (!json_object_is_type(v, json_type_string))
			return conf_fail(cc, where, key, "entry %zu must be a log name", i);
		if ((k = log_index(c, json_object_get_string(v))) < 0)
			return conf_fail(cc, where, key, "entry %zu: no log \"%s\" in ct.logs", i,
			    json_object_get_string(v));
		if (*out & (UINT64_C(1) << k))
			return conf_fail(cc, where, key, "log \"%s\" listed twice",
			    c->logs[k].name);
		*out |= UINT64_C(1) << k;
	}
	return AE_OK;
}

static size_t
operators_in(const struct ct_conf *c, uint64_t set)
{
	uint64_t seen = 0;

	for (size_t i = 0; i < c->nlogs; i++)
		if (set & (UINT64_C(1) << i))
			seen |= UINT64_C(1) << c->logs[i].operator;
	return (size_t)__builtin_popcountll(seen);
}

static uint64_t
usable(const struct ct_conf *c, uint64_t set)
{
	for (size_t i = 0; i < c->nlogs; i++)
		if (c->logs[i].state != CT_LOG_USABLE)
			set &= ~(UINT64_C(1) << i);
	return set;
}

static anvil_err
parse_policy(struct conf_ctx *cc, struct ct_conf *c, const char *name, json_object *o,
    struct ct_policy *p)
{
	char where[128];
	anvil_err e;

	snprintf(where, sizeof(where), "ct.policies.%s", name);
	p->name = name;
	/* Chrome's CT policy for embedded SCTs (doc/ct.md): 2 SCTs up to 180 days, 3 above,
	 * from at least 2 distinct log operators. */
	p->min_scts = 2;
	p->min_scts_long = 3;
	p->long_lifetime_days = 180;
	p->min_operators = 2;
	p->log_timeout_ms = 1000;
	p->deadline_ms = 1500;
	p->logs = c->nlogs == CT_LOGS_MAX ? UINT64_MAX : (UINT64_C(1) << c->nlogs) - 1;
	p->informational = 0;
	p->final_logs = 0;
	if ((e = conf_check_keys(cc, o, where, policy_keys)) != AE_OK ||
	    (e = get_log_set(cc, c, o, where, "logs", &p->logs)) != AE_OK ||
	    (e = get_log_set(cc, c, o, where, "informational", &p->informational)) != AE_OK ||
	    (e = get_log_set(cc, c, o, where, "final_certificates", &p->final_logs)) != AE_OK ||
	    (e = conf_get_int(cc, o, where, "min_scts", 0, 1, CT_LOGS_MAX, &p->min_scts)) != AE_OK ||
	    (e = conf_get_int(cc, o, where, "min_scts_long", 0, 1, CT_LOGS_MAX,
	    &p->min_scts_long)) != AE_OK ||
	    (e = conf_get_int(cc, o, where, "long_lifetime_days", 0, 1, 3650,
	    &p->long_lifetime_days)) != AE_OK ||
	    (e = conf_get_int(cc, o, where, "min_operators", 0, 1, CT_LOGS_MAX,
	    &p->min_operators)) != AE_OK ||
	    (e = conf_get_int(cc, o, where, "log_timeout_ms", 0, 50, 60000,
	    &p->log_timeout_ms)) != AE_OK ||
	    (e = conf_get_int(cc, o, where, "deadline_ms", 0, 50, 600000,
	    &p->deadline_ms)) != AE_OK)
		return e;
	/* Informational logs only when the policy names them there: a log both waited for and
	 * not waited for has no meaning. */
	if (!json_object_object_get_ex(o, "logs", NULL))
		p->logs &= ~p->informational;
	if (p->logs & p->informational)
		return conf_fail(cc, where, "informational", "a log cannot be both in logs and "
		    "informational");
	if (p->min_scts > p->min_scts_long)
		return conf_fail(cc, where, "min_scts_long", "must be at least min_scts");
	if (p->min_operators > p->min_scts)
		return conf_fail(cc, where, "min_operators", "cannot exceed min_scts");
	if ((size_t)p->min_operators > operators_in(c, usable(c, p->logs)))
		return conf_fail(cc, where, "logs", "needs usable logs of %lld distinct operators, "
		    "has %zu", (long long)p->min_operators, operators_in(c, usable(c, p->logs)));
	if ((int64_t)__builtin_popcountll(usable(c, p->logs)) < p->min_scts)
		return conf_fail(cc, where, "logs", "needs %lld usable logs for min_scts",
		    (long long)p->min_scts);
	if (p->log_timeout_ms > p->deadline_ms)
		return conf_fail(cc, where, "log_timeout_ms", "cannot exceed deadline_ms");
	for (size_t i = 0; i < c->nlogs; i++) {
		if (((p->informational | p->final_logs) & (UINT64_C(1) << i)) &&
		    c->logs[i].state != CT_LOG_USABLE)
			return conf_fail(cc, where, p->final_logs & (UINT64_C(1) << i) ?
			    "final_certificates" : "informational", "log \"%s\" is not usable",
			    c->logs[i].name);
	}
	return AE_OK;
}

anvil_err
ct_conf_parse(struct conf_ctx *cc, json_object *root, struct ct_conf *c)
{
	json_object *sec = NULL, *logs = NULL, *pols = NULL, *profs = NULL;
	anvil_err e;

	memset(c, 0, sizeof(*c));
	c->backoff_after_failures = 3;
	c->backoff_max_s = 600;
	c->sct_give_up_s = 3600;
	c->final_rate = 10;
	c->final_give_up_s = 7 * 86400;
	if ((e = conf_get_object(cc, root, "", "ct", 0, &sec)) != AE_OK || sec == NULL)
		return e;
	if ((e = conf_check_keys(cc, sec, "ct", ct_keys)) != AE_OK ||
	    (e = conf_get_object(cc, sec, "ct", "logs", 1, &logs)) != AE_OK ||
	    (e = conf_get_object(cc, sec, "ct", "policies", 1, &pols)) != AE_OK ||
	    (e = conf_get_object(cc, sec, "ct", "profiles", 0, &profs)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ct", "backoff_after_failures", 0, 1, 1000,
	    &c->backoff_after_failures)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ct", "backoff_max_seconds", 0, 1, 86400,
	    &c->backoff_max_s)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ct", "sct_give_up_seconds", 0, 1, 30 * 86400,
	    &c->sct_give_up_s)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ct", "final_rate_per_second", 0, 1, 10000,
	    &c->final_rate)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "ct", "final_give_up_seconds", 0, 60, 90 * 86400,
	    &c->final_give_up_s)) != AE_OK)
		return e;
	json_object_object_foreach(logs, lname, lval) {
		if (c->nlogs == CT_LOGS_MAX)
			return conf_fail(cc, "ct", "logs", "at most %d logs", CT_LOGS_MAX);
		if (!json_object_is_type(lval, json_type_object))
			return conf_fail(cc, "ct.logs", lname, "must be an object");
		c->logs[c->nlogs].index = c->nlogs;
		/* Counted before parsing so that ct_conf_free releases a half-loaded key. */
		c->nlogs++;
		if ((e = parse_log(cc, c, lname, lval, &c->logs[c->nlogs - 1])) != AE_OK)
			return e;
	}
	json_object_object_foreach(pols, pname, pval) {
		if (c->npolicies == CT_POLICIES_MAX)
			return conf_fail(cc, "ct", "policies", "at most %d policies",
			    CT_POLICIES_MAX);
		if (!json_object_is_type(pval, json_type_object))
			return conf_fail(cc, "ct.policies", pname, "must be an object");
		if ((e = parse_policy(cc, c, pname, pval, &c->policies[c->npolicies])) != AE_OK)
			return e;
		c->npolicies++;
	}
	if (profs == NULL)
		return AE_OK;
	json_object_object_foreach(profs, prname, prval) {
		const struct ct_policy *p;
		if (c->nprofiles == CT_PROFILES_MAX)
			return conf_fail(cc, "ct", "profiles", "at most %d entries",
			    CT_PROFILES_MAX);
		if (!json_object_is_type(prval, json_type_string))
			return conf_fail(cc, "ct.profiles", prname, "must be a policy name");
		if ((p = ct_conf_policy(c, json_object_get_string(prval))) == NULL)
			return conf_fail(cc, "ct.profiles", prname, "no policy \"%s\" in "
			    "ct.policies", json_object_get_string(prval));
		c->profiles[c->nprofiles].profile = prname;
		c->profiles[c->nprofiles].policy = (size_t)(p - c->policies);
		c->nprofiles++;
	}
	return AE_OK;
}

void
ct_conf_free(struct ct_conf *c)
{
	for (size_t i = 0; i < c->nlogs; i++)
		ct_log_key_clear(&c->logs[i].key);
	c->nlogs = 0;
}

const struct ct_policy *
ct_conf_policy(const struct ct_conf *c, const char *name)
{
	for (size_t i = 0; i < c->npolicies; i++)
		if (strcmp(c->policies[i].name, name) == 0)
			return &c->policies[i];
	return NULL;
}

const struct ct_policy *
ct_conf_profile_policy(const struct ct_conf *c, const char *profile)
{
	for (size_t i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].profile, profile) == 0)
			return &c->policies[c->profiles[i].policy];
	return NULL;
}

int64_t
ct_policy_min_scts(const struct ct_policy *p, int64_t lifetime_s)
{
	return lifetime_s > p->long_lifetime_days * 86400 ? p->min_scts_long : p->min_scts;
}

anvil_err
ct_conf_bind_profile(struct conf_ctx *cc, struct ct_conf *c, const char *profile, int ct,
    int64_t max_validity_s)
{
	const struct ct_policy *p = NULL;
	int64_t need;

	for (size_t i = 0; i < c->nprofiles; i++) {
		if (strcmp(c->profiles[i].profile, profile) == 0) {
			c->profiles[i].bound = 1;
			p = &c->policies[c->profiles[i].policy];
		}
	}
	if (!ct && p != NULL)
		return conf_fail(cc, "ct.profiles", profile, "profile \"%s\" has \"ct\": false; "
		    "remove this entry or turn CT on", profile);
	if (!ct)
		return AE_OK;
	if (p == NULL)
		return conf_fail(cc, "ct.profiles", profile, "profile \"%s\" has \"ct\": true "
		    "but names no CT policy here", profile);
	need = ct_policy_min_scts(p, max_validity_s);
	if ((int64_t)__builtin_popcountll(usable(c, p->logs)) < need)
		return conf_fail(cc, "ct.profiles", profile, "policy \"%s\" needs %lld SCTs for "
		    "this profile's lifetime but has %d usable logs", p->name, (long long)need,
		    __builtin_popcountll(usable(c, p->logs)));
	return AE_OK;
}

anvil_err
ct_conf_bind_done(struct conf_ctx *cc, struct ct_conf *c)
{
	for (size_t i = 0; i < c->nprofiles; i++)
		if (!c->profiles[i].bound)
			return conf_fail(cc, "ct.profiles", c->profiles[i].profile, "no such "
			    "profile in profiles");
	/* A policy no profile uses is configuration nothing reads: most likely a typo. */
	for (size_t k = 0; k < c->npolicies; k++) {
		size_t i;
		for (i = 0; i < c->nprofiles; i++)
			if (c->profiles[i].policy == k)
				break;
		if (i == c->nprofiles)
			return conf_fail(cc, "ct.policies", c->policies[k].name, "no profile uses "
			    "this policy (ct.profiles)");
	}
	return AE_OK;
}
