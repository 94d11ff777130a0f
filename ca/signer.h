/* anvil-signer internals: the daemon state shared by its main, its socket server and its
 * request handlers. */
#ifndef ANVIL_CA_SIGNER_H
#define ANVIL_CA_SIGNER_H
#include <sys/types.h>
#include "ca/journal.h"
#include "lib/auditchain.h"
#include "ca/p11.h"
#include "ca/pool.h"
#include "ca/profile.h"
#include "ca/proto.h"
#include "ca/spki.h"
#include "lib/buf.h"
#include "ocsp/conf.h"

struct signer {
	struct signer_conf conf;
	struct ocsp_conf ocsp;      /* the bounds of what OCSP and CRL requests may ask for */
	struct crl_conf crl;
	struct p11_module hsm;
	struct journal *journal;
	struct auditchain *audit;  /* <state_dir>/audit.chain: every operation, chained */
	struct pool *pool;
	uint64_t started_ms;
	/* Every issuer's key found on the token or in its certificate, roots and delegated OCSP
	 * responders included: never a subject key (ca/ops.c). */
	struct spki_id ca_keys[3 * MAX_ISSUERS];
	size_t nca_keys;
};

struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Handles one decoded request; fills out (DER or text) or msg (a fixed text, never request
 * bytes) and returns the status for the reply. */
anvil_err ops_handle(struct signer *s, const struct peer *peer, struct request *req,
    struct buf *out, uint32_t *retry_ms, const char **msg);

/* Serves the socket until *stop is set (by a signal). When *hup is set (SIGHUP), clears it and
 * calls reload(s) from the accepting thread, between two accepts. */
anvil_err server_run(struct signer *s, volatile int *stop, volatile int *hup,
    void (*reload)(struct signer *s));

#endif
