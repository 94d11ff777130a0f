/* anvil-ocsp, the OCSP responder: a master that preforks ocsp.responder.workers workers on one
 * FastCGI socket. Each worker maps a request's CertID to its precomputed response file and
 * answers with it; it never signs and holds no database connection (DESIGN.md: OCSP serving). */
#ifndef ANVIL_OCSP_RESPONDER_H
#define ANVIL_OCSP_RESPONDER_H
#include <json-c/json.h>
#include "ca/profile.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "ocsp/conf.h"
#include "ocsp/issuers.h"

struct responder_conf {
	json_object *root;            /* owns the strings below */
	enum log_level log_level;
	int log_syslog;
	struct ocsp_conf ocsp;
	struct crl_conf crl;
	struct signer_conf policy;    /* the issuers (ca/profile.c, policy mode: no PIN, no HSM) */
	struct ocsp_issuers issuers;
};

/* Validates the sections anvil-ocsp reads (log, ocsp, crl, issuers, profiles) and hashes each
 * issuer's certificate. On error cc->err names the key. */
anvil_err responder_conf_load(struct conf_ctx *cc, const char *path, struct responder_conf *c);
void responder_conf_free(struct responder_conf *c);

/* A worker's loop; returns the process exit status. */
int responder_worker_run(const struct responder_conf *c, int listen_fd);

#endif
