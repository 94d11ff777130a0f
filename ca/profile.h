/* The signer's configuration: the `signer`, `issuers` and `profiles` sections of the deployment
 * file (doc/config.md), validated at start, and the name policy of a profile. */
#ifndef ANVIL_CA_PROFILE_H
#define ANVIL_CA_PROFILE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ca/keytype.h"
#include "ca/proto.h"
#include "lib/conf.h"

#define MAX_ISSUERS 16
#define MAX_PROFILES 32
#define MAX_LIST 64

struct ip_range {
	uint8_t addr[16];
	uint8_t len;     /* 4 or 16 */
	uint8_t prefix;  /* bits */
};

struct issuer {
	char name[PROTO_NAME_MAX + 1];
	const char *key_label;
	uint8_t key_id[64];
	size_t key_id_len;
	enum key_type key_type;
	const char *subject;
	const char *cert_path;
	const char *parent;     /* NULL for a root */
	int64_t validity_days;  /* ceremony */
	const char *ocsp_url, *issuer_url, *crl_url;  /* crl_url: a prefix, shard + ".crl" added */
	int64_t crl_shards;
	const char *permitted_dns[MAX_LIST];  /* nameConstraints written by the ceremony */
	size_t n_permitted_dns;
	/* A delegated OCSP responder (id-kp-OCSPSigning, ocsp-nocheck) made by the ceremony;
	 * NULL: the issuer signs its responses itself. */
	const char *responder_key_label, *responder_cert_path;
	int64_t responder_days;
	/* Loaded by the signer: */
	X509 *cert;
	EVP_PKEY *key;          /* signs through the worker's session (ca/hsmkey.h) */
	X509 *responder_cert;
	EVP_PKEY *responder_key; /* key index MAX_ISSUERS + index */
	size_t index;
};

/* The validity window of a certificate's notBefore, one bound for every layer: newOrder and
 * finalize check a requested notBefore against it (fcgi/), issue/ derives the default one, and
 * the signer refuses anything outside it (ca/tbs.c). */
#define PROFILE_NOTBEFORE_AHEAD 3600  /* s notBefore may lie ahead (clock skew between hosts) */
#define PROFILE_ISSUE_BACKDATE 60     /* s a default notBefore lies before the serial's record */
/* The smallest backdate_seconds that can work: a default notBefore lies
 * PROFILE_ISSUE_BACKDATE before the serial is recorded, and the signature comes within the
 * finalize budget or from anvil-jobs' retries minutes later. */
#define PROFILE_BACKDATE_MIN 300
#define PROFILE_CAA_RECHECK_MAX 28800  /* s: 8 hours, CA/B Forum BR 3.2.2.8 */

struct tbs_profile_exts;

struct profile {
	char name[PROTO_NAME_MAX + 1];
	struct issuer *issuer;
	int64_t max_validity;   /* seconds, notAfter - notBefore + 1 */
	int64_t max_backdate;   /* seconds notBefore may lie in the past */
	int ct;
	unsigned key_types;     /* bit (1 << enum key_type) */
	int server_auth, client_auth;
	const char *policies[MAX_LIST];
	size_t npolicies;
	const char *dns_suffixes[MAX_LIST];  /* empty: any DNS name */
	size_t n_dns_suffixes;
	struct ip_range ip_ranges[MAX_LIST]; /* IP identifiers allowed only inside these */
	size_t n_ip_ranges;
	int allow_wildcard;
	int64_t max_names;
	int is_public;          /* names must have a registrable domain: no single-label names */
	int64_t caa_recheck;    /* s an authorization's CAA check stays good for issuance; -1: no
				 * re-check (not public, unless caa_recheck_seconds says) */
	/* The signer's: the extensions its certificates share, built once (ca/tbs.h
	 * tbs_profile_prepare); NULL: built for each certificate. */
	struct tbs_profile_exts *exts;
};

/* Where a token and key live (signer.module, slot or token_label): slot by id (slot_id >= 0)
 * or by token label. Read here, used by ca/p11.c. */
struct p11_where {
	const char *module;
	int64_t slot_id;          /* -1: use token_label */
	const char *token_label;
};

struct signer_conf {
	/* signer */
	const char *socket_path;
	mode_t socket_mode;
	const char *socket_owner, *socket_group;
	uid_t allow_uids[MAX_LIST];
	size_t n_allow_uids;
	gid_t allow_gids[MAX_LIST];
	size_t n_allow_gids;
	/* Per-operation permissions, deny by default: a uid may use the ops listed for it
	 * (bit 1 << op) and health; a uid not listed, health only. */
	struct { uid_t uid; unsigned ops; } perms[MAX_LIST];
	size_t nperms;
	int64_t max_conns, max_conns_per_peer;
	struct p11_where hsm;
	char *pin;              /* wiped by signer_conf_free */
	int64_t sessions, queue_max;
	const char *state_dir;
	int journal_sync;       /* fsync the serial journal before answering */
	/* issuers and profiles */
	struct issuer issuers[MAX_ISSUERS];
	size_t nissuers;
	struct profile profiles[MAX_PROFILES];
	size_t nprofiles;
};

/* What a caller needs of the signer's configuration. Only the processes that talk to the HSM
 * read its PIN: the API workers and the job runner parse the policy alone. */
enum signer_conf_mode {
	SIGNER_CONF_POLICY,  /* issuers and profiles (name policy, validity, chains) */
	SIGNER_CONF_HSM,     /* + the HSM keys: module, slot or token, PIN (anvilctl init, bench) */
	SIGNER_CONF_DAEMON,  /* + the daemon: socket, peers, sessions, queue, journal */
};

/* Parses and validates for mode. On error c->err names the dotted key. Strings point into
 * root. */
anvil_err signer_conf_parse(struct conf_ctx *c, json_object *root, enum signer_conf_mode mode,
    struct signer_conf *out);
void signer_conf_free(struct signer_conf *sc);

struct issuer *conf_issuer(struct signer_conf *sc, const char *name);

/* The CRL shard of a serial among an issuer's crl_shards: fixed at issuance, written into the
 * certificate's CRL distribution point by the signer and into its cert_status row by issue/. */
unsigned issuer_crl_shard(const uint8_t *serial, size_t len, int64_t shards);
struct profile *conf_profile(struct signer_conf *sc, const char *name);

/* Whether the peer uid may use op (enum proto_op). */
int signer_conf_permits(const struct signer_conf *sc, uid_t uid, int op);

/* AE_SIGNER_NAME unless the identifier is well formed and inside the profile's policy and its
 * issuer's permitted_dns. */
anvil_err profile_check_ident(const struct profile *p, const struct ident *id);

#endif
