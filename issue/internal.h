/* The issue_ctx, shared by the files of issue/ only. */
#ifndef ANVIL_ISSUE_INTERNAL_H
#define ANVIL_ISSUE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "ca/client.h"
#include "db/db.h"
#include "issue/conf.h"

struct chains {
	char *pem[1 + ISSUE_CHAINS_MAX];
	size_t n;
};

struct issue_ctx {
	struct db *db;
	struct issue_conf conf;
	json_object *root;            /* owns the strings in conf */
	struct signer_client *signer; /* NULL without a signer section */
	struct chains chains[MAX_ISSUERS];  /* by issuer index */
	uint8_t (*weak)[32];          /* sorted */
	size_t nweak;
};

#endif
