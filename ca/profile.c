#include "config.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ca/profile.h"
#include "lib/num.h"
#include "lib/hex.h"

static const char *const signer_keys[] = { "socket", "socket_mode", "socket_owner",
	"socket_group", "allow_uids", "allow_gids", "max_connections", "max_connections_per_peer",
	"module", "slot_id", "token_label", "pin", "sessions", "queue_max", "state_dir",
	"journal_sync", "permissions", NULL };
static const char *const issuer_keys[] = { "key_label", "key_id", "key_type", "subject", "cert",
	"parent", "validity_days", "ocsp_url", "issuer_url", "crl_url", "crl_shards",
	"permitted_dns", "ocsp_responder_key_label", "ocsp_responder_cert", "ocsp_responder_days",
	NULL };
static const char *const profile_keys[] = { "issuer", "validity_days", "backdate_seconds", "ct",
	"key_types", "ekus", "policies", "dns_suffixes", "ip_ranges", "allow_wildcard", "max_names",
	"public", "caa_recheck_seconds", NULL };

/* Reads an array of strings into out (at most MAX_LIST). */
static anvil_err
get_strings(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    const char **out, size_t *n)
{
	json_object *arr = NULL;
	anvil_err e = conf_get_array(c, obj, where, key, 0, &arr);

	if (e != AE_OK || arr == NULL)
		return e;
	if (json_object_array_length(arr) > MAX_LIST)
		return conf_fail(c, where, key, "at most %d entries", MAX_LIST);
	*n = 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string))
			return conf_fail(c, where, key, "entry %zu must be a string", i);
		out[(*n)++] = json_object_get_string(v);
	}
	return AE_OK;
}

static anvil_err
get_ids(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    unsigned *out, size_t *n)
{
	json_object *arr = NULL;
	anvil_err e = conf_get_array(c, obj, where, key, 0, &arr);

	if (e != AE_OK || arr == NULL)
		return e;
	if (json_object_array_length(arr) > MAX_LIST)
		return conf_fail(c, where, key, "at most %d entries", MAX_LIST);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
		if (x < 0 || x > 0x7fffffff)
			return conf_fail(c, where, key, "entry %zu must be a numeric id", i);
		out[(*n)++] = (unsigned)x;
	}
	return AE_OK;
}

static anvil_err
parse_ip_range(const char *s, struct ip_range *r)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int64_t prefix;

	if (alen >= sizeof(addr))
		return AE_PARSE;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, r->addr) == 1)
		r->len = 4;
	else if (inet_pton(AF_INET6, addr, r->addr) == 1)
		r->len = 16;
	else
		return AE_PARSE;
	prefix = r->len * 8;
	if (slash != NULL && num_parse_i64(slash + 1, 0, r->len * 8, &prefix) != AE_OK)
		return AE_PARSE;
	r->prefix = (uint8_t)prefix;
	return AE_OK;
}

static const char *const op_names[] = { "", "health", "stats", "precert", "cert", "ocsp", "crl",
	NULL };

/* "permissions": {"105": ["ocsp", "crl"], ...}: uid (decimal string) -> allowed ops. */
static anvil_err
parse_perms(struct conf_ctx *c, json_object *s, struct signer_conf *sc)
{
	json_object *perms = NULL;
	/* Deny by default: without the table no peer could sign, so it must be there. */
	anvil_err e = conf_get_object(c, s, "signer", "permissions", 1, &perms);

	if (e != AE_OK)
		return e;
	json_object_object_foreach(perms, uid, ops) {
		int64_t u;
		if (sc->nperms == MAX_LIST)
			return conf_fail(c, "signer.permissions", uid, "at most %d uids", MAX_LIST);
		if (num_parse_i64(uid, 0, 0x7fffffff, &u) != AE_OK)
			return conf_fail(c, "signer.permissions", uid, "keys must be numeric uids");
		if (!json_object_is_type(ops, json_type_array))
			return conf_fail(c, "signer.permissions", uid, "must be an array of ops");
		sc->perms[sc->nperms].uid = (uid_t)u;
		sc->perms[sc->nperms].ops = 0;
		for (size_t i = 0; i < json_object_array_length(ops); i++) {
			json_object *v = json_object_array_get_idx(ops, i);
			int found = 0;
			for (int k = 1; op_names[k] != NULL && json_object_is_type(v, json_type_string);
			    k++)
				if (strcmp(op_names[k], json_object_get_string(v)) == 0) {
					sc->perms[sc->nperms].ops |= 1u << k;
					found = 1;
				}
			if (!found)
				return conf_fail(c, "signer.permissions", uid, "entry %zu: use health, "
				    "stats, precert, cert, ocsp or crl", i);
		}
		sc->nperms++;
	}
	return AE_OK;
}

int
signer_conf_permits(const struct signer_conf *sc, uid_t uid, int op)
{
	/* A liveness probe signs nothing and tells nothing: any admitted peer may ask. */
	if (op == OP_HEALTH)
		return 1;
	for (size_t i = 0; i < sc->nperms; i++)
		if (sc->perms[i].uid == uid)
			return op > 0 && op < 32 && (sc->perms[i].ops & (1u << op)) != 0;
	return 0;
}

static anvil_err
parse_signer(struct conf_ctx *c, json_object *s, struct signer_conf *sc)
{
	const char *mode = "0660";
	unsigned ids[MAX_LIST];
	size_t n = 0;
	int64_t m;
	anvil_err e;

	if ((e = conf_check_keys(c, s, "signer", signer_keys)) != AE_OK ||
	    (e = conf_get_string(c, s, "signer", "socket", 1, &sc->socket_path)) != AE_OK ||
	    (e = conf_get_string(c, s, "signer", "socket_mode", 0, &mode)) != AE_OK ||
	    (e = conf_get_string(c, s, "signer", "socket_owner", 0, &sc->socket_owner)) != AE_OK ||
	    (e = conf_get_string(c, s, "signer", "socket_group", 0, &sc->socket_group)) != AE_OK ||
	    (e = conf_get_int(c, s, "signer", "max_connections", 0, 1, 10000,
	    &sc->max_conns)) != AE_OK ||
	    (e = conf_get_int(c, s, "signer", "max_connections_per_peer", 0, 1, 10000,
	    &sc->max_conns_per_peer)) != AE_OK ||
	    (e = conf_get_int(c, s, "signer", "sessions", 0, 1, 256, &sc->sessions)) != AE_OK ||
	    (e = conf_get_int(c, s, "signer", "queue_max", 0, 1, 1000000,
	    &sc->queue_max)) != AE_OK ||
	    (e = conf_get_string(c, s, "signer", "state_dir", 1, &sc->state_dir)) != AE_OK ||
	    (e = conf_get_bool(c, s, "signer", "journal_sync", 0, &sc->journal_sync)) != AE_OK)
		return e;
	if (strlen(sc->socket_path) >= 108)
		return conf_fail(c, "signer", "socket", "longer than a Unix socket path allows");
	if (mode[0] != '0' || strlen(mode) > 4)
		return conf_fail(c, "signer", "socket_mode", "must be an octal string like \"0660\"");
	m = 0;
	for (const char *p = mode; *p; p++) {
		if (*p < '0' || *p > '7')
			return conf_fail(c, "signer", "socket_mode", "must be octal");
		m = m * 8 + (*p - '0');
	}
	if (m > 0777)
		return conf_fail(c, "signer", "socket_mode", "must be at most 0777");
	sc->socket_mode = (mode_t)m;
	if ((e = get_ids(c, s, "signer", "allow_uids", ids, &n)) != AE_OK)
		return e;
	for (size_t i = 0; i < n; i++)
		sc->allow_uids[i] = ids[i];
	sc->n_allow_uids = n;
	n = 0;
	if ((e = get_ids(c, s, "signer", "allow_gids", ids, &n)) != AE_OK)
		return e;
	for (size_t i = 0; i < n; i++)
		sc->allow_gids[i] = ids[i];
	sc->n_allow_gids = n;
	if ((e = parse_perms(c, s, sc)) != AE_OK)
		return e;
	if (sc->n_allow_uids + sc->n_allow_gids == 0)
		return conf_fail(c, "signer", "allow_uids", "no peer allowed (allow_uids and "
		    "allow_gids are both empty)");
	return AE_OK;
}

/* The HSM keys are also needed by the ceremony, which has no socket: parsed apart. */
static anvil_err
parse_hsm(struct conf_ctx *c, json_object *s, struct signer_conf *sc)
{
	anvil_err e;

	sc->hsm.slot_id = -1;
	if ((e = conf_get_string(c, s, "signer", "module", 1, &sc->hsm.module)) != AE_OK ||
	    (e = conf_get_int(c, s, "signer", "slot_id", 0, 0, INT64_MAX / 2,
	    &sc->hsm.slot_id)) != AE_OK ||
	    (e = conf_get_string(c, s, "signer", "token_label", 0,
	    &sc->hsm.token_label)) != AE_OK ||
	    (e = conf_get_secret(c, s, "signer", "pin", 1, &sc->pin)) != AE_OK)
		return e;
	if ((sc->hsm.slot_id >= 0) == (sc->hsm.token_label != NULL))
		return conf_fail(c, "signer", "slot_id", "set exactly one of slot_id and token_label");
	return AE_OK;
}

static anvil_err
parse_issuer(struct conf_ctx *c, const char *name, json_object *o, struct issuer *is)
{
	char where[128];
	const char *kt = "ecdsa-p256", *id = NULL;
	anvil_err e;

	snprintf(where, sizeof(where), "issuers.%s", name);
	snprintf(is->name, sizeof(is->name), "%s", name);
	is->validity_days = is->parent ? 1825 : 3650;
	is->crl_shards = 1;
	is->responder_days = 30;
	if ((e = conf_check_keys(c, o, where, issuer_keys)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "key_label", 0, &is->key_label)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "key_id", 0, &id)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "key_type", 0, &kt)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "subject", 1, &is->subject)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "cert", 1, &is->cert_path)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "parent", 0, &is->parent)) != AE_OK ||
	    (e = conf_get_int(c, o, where, "validity_days", 0, 1, 36500,
	    &is->validity_days)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "ocsp_url", 0, &is->ocsp_url)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "issuer_url", 0, &is->issuer_url)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "crl_url", 0, &is->crl_url)) != AE_OK ||
	    (e = conf_get_int(c, o, where, "crl_shards", 0, 1, 65536, &is->crl_shards)) != AE_OK ||
	    (e = get_strings(c, o, where, "permitted_dns", is->permitted_dns,
	    &is->n_permitted_dns)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "ocsp_responder_key_label", 0,
	    &is->responder_key_label)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "ocsp_responder_cert", 0,
	    &is->responder_cert_path)) != AE_OK ||
	    (e = conf_get_int(c, o, where, "ocsp_responder_days", 0, 1, 365,
	    &is->responder_days)) != AE_OK)
		return e;
	if (is->responder_key_label != NULL && is->key_label != NULL &&
	    strcmp(is->responder_key_label, is->key_label) == 0)
		return conf_fail(c, where, "ocsp_responder_key_label", "must differ from key_label: "
		    "the responder has a key of its own");
	if ((is->responder_key_label != NULL) != (is->responder_cert_path != NULL))
		return conf_fail(c, where, "ocsp_responder_cert", "set both ocsp_responder_key_label "
		    "and ocsp_responder_cert, or neither");
	if ((is->key_type = key_type_parse(kt)) == KT_NONE)
		return conf_fail(c, where, "key_type", "must be one of ecdsa-p256, ecdsa-p384, "
		    "rsa-2048, rsa-3072, rsa-4096");
	if (id != NULL && hex_decode(id, is->key_id, sizeof(is->key_id), &is->key_id_len) != AE_OK)
		return conf_fail(c, where, "key_id", "must be hex, at most 64 bytes");
	if (is->key_label == NULL && is->key_id_len == 0)
		return conf_fail(c, where, "key_label", "set key_label or key_id");
	return AE_OK;
}

static anvil_err
parse_profile(struct conf_ctx *c, struct signer_conf *sc, const char *name, json_object *o,
    struct profile *p)
{
	char where[128];
	const char *issuer = NULL, *list[MAX_LIST];
	size_t n = 0;
	int64_t days = 90;
	anvil_err e;

	snprintf(where, sizeof(where), "profiles.%s", name);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->max_backdate = 3600;
	p->max_names = 100;
	p->server_auth = 1;
	p->is_public = 0;
	if ((e = conf_check_keys(c, o, where, profile_keys)) != AE_OK ||
	    (e = conf_get_string(c, o, where, "issuer", 1, &issuer)) != AE_OK ||
	    (e = conf_get_int(c, o, where, "validity_days", 0, 1, 3650, &days)) != AE_OK ||
	    (e = conf_get_int(c, o, where, "backdate_seconds", 0, PROFILE_BACKDATE_MIN, 86400,
	    &p->max_backdate)) != AE_OK ||
	    (e = conf_get_bool(c, o, where, "ct", 0, &p->ct)) != AE_OK ||
	    (e = conf_get_bool(c, o, where, "allow_wildcard", 0, &p->allow_wildcard)) != AE_OK ||
	    (e = conf_get_bool(c, o, where, "public", 0, &p->is_public)) != AE_OK ||
	    (e = conf_get_int(c, o, where, "max_names", 0, 1, PROTO_IDS_MAX,
	    &p->max_names)) != AE_OK ||
	    (e = get_strings(c, o, where, "policies", p->policies, &p->npolicies)) != AE_OK ||
	    (e = get_strings(c, o, where, "dns_suffixes", p->dns_suffixes,
	    &p->n_dns_suffixes)) != AE_OK)
		return e;
	/* CA/B Forum BR 3.2.2.8: a public CA checks CAA within 8 hours before issuance, so a
	 * reused authorization's check is repeated at finalize when older (issue/caa.c). */
	p->caa_recheck = p->is_public ? PROFILE_CAA_RECHECK_MAX : -1;
	if ((e = conf_get_int(c, o, where, "caa_recheck_seconds", 0, 0, PROFILE_CAA_RECHECK_MAX,
	    &p->caa_recheck)) != AE_OK)
		return e;
	p->max_validity = days * 86400;
	if ((p->issuer = conf_issuer(sc, issuer)) == NULL)
		return conf_fail(c, where, "issuer", "no issuer named '%s'", issuer);
	if (p->issuer->parent == NULL)
		return conf_fail(c, where, "issuer", "'%s' is a root: roots sign only "
		    "intermediates, in the ceremony", issuer);
	for (size_t i = 0; i < p->npolicies; i++) {
		ASN1_OBJECT *obj = OBJ_txt2obj(p->policies[i], 1);
		ASN1_OBJECT_free(obj);
		if (obj == NULL)
			return conf_fail(c, where, "policies", "'%s' is not a dotted OID",
			    p->policies[i]);
	}
	n = 0;
	p->key_types = (1u << KT_EC_P256) | (1u << KT_EC_P384) | (1u << KT_RSA_2048) |
	    (1u << KT_RSA_3072) | (1u << KT_RSA_4096);
	if ((e = get_strings(c, o, where, "key_types", list, &n)) != AE_OK)
		return e;
	if (n > 0)
		p->key_types = 0;
	for (size_t i = 0; i < n; i++) {
		enum key_type kt = key_type_parse(list[i]);
		if (kt == KT_NONE)
			return conf_fail(c, where, "key_types", "unknown key type '%s'", list[i]);
		p->key_types |= 1u << kt;
	}
	n = 0;
	if ((e = get_strings(c, o, where, "ekus", list, &n)) != AE_OK)
		return e;
	if (n > 0)
		p->server_auth = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], "server_auth") == 0)
			p->server_auth = 1;
		else if (strcmp(list[i], "client_auth") == 0)
			p->client_auth = 1;
		else
			return conf_fail(c, where, "ekus", "'%s': use server_auth or client_auth",
			    list[i]);
	}
	n = 0;
	if ((e = get_strings(c, o, where, "ip_ranges", list, &n)) != AE_OK)
		return e;
	for (size_t i = 0; i < n; i++)
		if (parse_ip_range(list[i], &p->ip_ranges[i]) != AE_OK)
			return conf_fail(c, where, "ip_ranges", "'%s' is not an address/prefix",
			    list[i]);
	p->n_ip_ranges = n;
	return AE_OK;
}

anvil_err
signer_conf_parse(struct conf_ctx *c, json_object *root, enum signer_conf_mode mode,
    struct signer_conf *sc)
{
	json_object *s = NULL, *iss = NULL, *prof = NULL;
	anvil_err e;

	memset(sc, 0, sizeof(*sc));
	sc->socket_mode = 0660;
	sc->max_conns = 256;
	sc->max_conns_per_peer = 64;
	sc->sessions = 2;
	sc->queue_max = 1024;
	sc->journal_sync = 1;
	if (mode != SIGNER_CONF_POLICY &&
	    ((e = conf_get_object(c, root, "", "signer", 1, &s)) != AE_OK ||
	    (e = parse_hsm(c, s, sc)) != AE_OK))
		return e;
	if ((mode == SIGNER_CONF_DAEMON && (e = parse_signer(c, s, sc)) != AE_OK) ||
	    (e = conf_get_object(c, root, "", "issuers", 1, &iss)) != AE_OK)
		return e;
	json_object_object_foreach(iss, iname, ival) {
		if (sc->nissuers == MAX_ISSUERS)
			return conf_fail(c, "", "issuers", "at most %d issuers", MAX_ISSUERS);
		if (strlen(iname) > PROTO_NAME_MAX)
			return conf_fail(c, "issuers", iname, "name longer than %d", PROTO_NAME_MAX);
		if (!json_object_is_type(ival, json_type_object))
			return conf_fail(c, "issuers", iname, "must be an object");
		sc->issuers[sc->nissuers].index = sc->nissuers;
		if ((e = parse_issuer(c, iname, ival, &sc->issuers[sc->nissuers])) != AE_OK)
			return e;
		sc->nissuers++;
	}
	for (size_t i = 0; i < sc->nissuers; i++) {
		struct issuer *par;
		if (sc->issuers[i].parent == NULL) {
			if (sc->issuers[i].responder_key_label != NULL) {
				char where[128];
				snprintf(where, sizeof(where), "issuers.%s", sc->issuers[i].name);
				return conf_fail(c, where, "ocsp_responder_key_label", "a root answers "
				    "no OCSP here: only intermediates have responders");
			}
			continue;
		}
		par = conf_issuer(sc, sc->issuers[i].parent);
		if (par == NULL || par->parent != NULL) {
			char where[128];
			snprintf(where, sizeof(where), "issuers.%s", sc->issuers[i].name);
			return conf_fail(c, where, "parent", "must name a root issuer");
		}
	}
	if ((e = conf_get_object(c, root, "", "profiles", mode == SIGNER_CONF_DAEMON,
	    &prof)) != AE_OK)
		return e;
	if (prof == NULL)
		return AE_OK;
	json_object_object_foreach(prof, pname, pval) {
		if (sc->nprofiles == MAX_PROFILES)
			return conf_fail(c, "", "profiles", "at most %d profiles", MAX_PROFILES);
		if (strlen(pname) > PROTO_NAME_MAX)
			return conf_fail(c, "profiles", pname, "name longer than %d", PROTO_NAME_MAX);
		if (!json_object_is_type(pval, json_type_object))
			return conf_fail(c, "profiles", pname, "must be an object");
		if ((e = parse_profile(c, sc, pname, pval, &sc->profiles[sc->nprofiles])) != AE_OK)
			return e;
		sc->nprofiles++;
	}
	return AE_OK;
}

void
signer_conf_free(struct signer_conf *sc)
{
	conf_secret_free(sc->pin);
	sc->pin = NULL;
	for (size_t i = 0; i < sc->nissuers; i++) {
		X509_free(sc->issuers[i].cert);
		EVP_PKEY_free(sc->issuers[i].key);
		X509_free(sc->issuers[i].responder_cert);
		EVP_PKEY_free(sc->issuers[i].responder_key);
		sc->issuers[i].cert = NULL;
		sc->issuers[i].key = NULL;
		sc->issuers[i].responder_cert = NULL;
		sc->issuers[i].responder_key = NULL;
	}
}

struct issuer *
conf_issuer(struct signer_conf *sc, const char *name)
{
	for (size_t i = 0; i < sc->nissuers; i++)
		if (strcmp(sc->issuers[i].name, name) == 0)
			return &sc->issuers[i];
	return NULL;
}

struct profile *
conf_profile(struct signer_conf *sc, const char *name)
{
	for (size_t i = 0; i < sc->nprofiles; i++)
		if (strcmp(sc->profiles[i].name, name) == 0)
			return &sc->profiles[i];
	return NULL;
}

/* LDH labels, lowercase (ACME identifiers are normalised before they reach us), no empty
 * label, at most 63 per label and 253 in all. */
static int
dns_ok(const char *s, size_t len, int allow_wildcard, int *labels)
{
	size_t lab = 0;

	*labels = 1;
	if (len == 0 || len > PROTO_DNS_MAX)
		return 0;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		if (!allow_wildcard)
			return 0;
		s += 2;
		len -= 2;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return 0;
			lab = 0;
			(*labels)++;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return 0;
		if ((lab == 0 && ch == '-') || ++lab > 63)
			return 0;
	}
	return lab > 0 && s[len - 1] != '-';
}

static int
suffix_ok(const struct profile *p, const char *name, size_t len)
{
	if (p->n_dns_suffixes == 0)
		return 1;
	if (len >= 2 && name[0] == '*' && name[1] == '.') {
		name += 2;
		len -= 2;
	}
	for (size_t i = 0; i < p->n_dns_suffixes; i++) {
		const char *sfx = p->dns_suffixes[i];
		size_t sl = strlen(sfx);
		if (len == sl && memcmp(name, sfx, sl) == 0)
			return 1;
		if (len > sl && name[len - sl - 1] == '.' && memcmp(name + len - sl, sfx, sl) == 0)
			return 1;
	}
	return 0;
}

/* The issuer's nameConstraints (permitted_dns, written into its certificate by the ceremony)
 * enforced here too: a profile whose dns_suffixes are wider than its issuer's constraints
 * (a configuration mistake) must not get certificates that relying parties reject, or that
 * a relying party ignoring constraints would accept. RFC 5280 4.2.1.10: a constraint matches
 * the name itself and every name below it; one with a leading dot only the names below it. DNS
 * constraints do not restrict IP identifiers. */
static int
permitted_ok(const struct issuer *is, const char *name, size_t len)
{
	if (is == NULL || is->n_permitted_dns == 0)
		return 1;
	for (size_t i = 0; i < is->n_permitted_dns; i++) {
		const char *c = is->permitted_dns[i];
		size_t cl = strlen(c);

		if (cl == 0)
			continue;
		if (c[0] == '.') {
			if (len > cl && strncasecmp(name + len - cl, c, cl) == 0)
				return 1;
			continue;
		}
		if (len == cl && strncasecmp(name, c, cl) == 0)
			return 1;
		if (len > cl && name[len - cl - 1] == '.' && strncasecmp(name + len - cl, c, cl) == 0)
			return 1;
	}
	return 0;
}

static int
ip_in(const struct ip_range *r, const uint8_t *a, size_t len)
{
	unsigned bits = r->prefix;

	if (r->len != len)
		return 0;
	for (size_t i = 0; bits > 0; i++) {
		unsigned take = bits >= 8 ? 8 : bits;
		uint8_t mask = (uint8_t)(0xff << (8 - take));
		if ((a[i] & mask) != (r->addr[i] & mask))
			return 0;
		bits -= take;
	}
	return 1;
}

anvil_err
profile_check_ident(const struct profile *p, const struct ident *id)
{
	if (id->type == ID_DNS) {
		int labels;
		if (!dns_ok((const char *)id->val, id->len, p->allow_wildcard, &labels))
			return AE_SIGNER_NAME;
		if (p->is_public && labels < 2)
			return AE_SIGNER_NAME;
		return suffix_ok(p, (const char *)id->val, id->len) &&
		    permitted_ok(p->issuer, (const char *)id->val, id->len) ? AE_OK : AE_SIGNER_NAME;
	}
	if (id->type == ID_IP) {
		for (size_t i = 0; i < p->n_ip_ranges; i++)
			if (ip_in(&p->ip_ranges[i], id->val, id->len))
				return AE_OK;
		return AE_SIGNER_NAME;
	}
	return AE_SIGNER_NAME;
}

unsigned
issuer_crl_shard(const uint8_t *serial, size_t len, int64_t shards)
{
	uint32_t v = 0;

	/* The low bytes of a random serial are uniform. */
	for (size_t i = len > 4 ? len - 4 : 0; i < len; i++)
		v = (v << 8) | serial[i];
	return shards > 1 ? (unsigned)(v % (uint32_t)shards) : 0;
}
