#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "db/db.h"
#include "db/order.h"
#include "lib/num.h"
#include "tools/anvilctl/ctl.h"

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl ratelimit exempt|unexempt|status ACCOUNT_ID\n");
	return 2;
}

/* anvilctl ratelimit exempt|unexempt|status ACCOUNT_ID: the accounts the application rate
 * limits (acme.rate_limits) do not apply to, e.g. the one big account of an internal CA. */
int
ctl_ratelimit(struct ctl *ctl, int argc, char **argv)
{
	struct db_conf dbc;
	struct db *db = NULL;
	int64_t id = 0;
	int rc = 1, have_conf = 0, exempt = 0;
	anvil_err e;

	if (argc != 3 || num_parse_i64(argv[2], 1, INT64_MAX, &id) != AE_OK)
		return usage();
	if (strcmp(argv[1], "exempt") != 0 && strcmp(argv[1], "unexempt") != 0 &&
	    strcmp(argv[1], "status") != 0)
		return usage();
	if (db_conf_parse(&ctl->conf, ctl->config, &dbc) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		goto out;
	}
	have_conf = 1;
	if ((e = db_new(&dbc, &db)) != AE_OK)
		goto fail;
	if (strcmp(argv[1], "status") != 0 &&
	    (e = db_rl_set_exempt(db, id, argv[1][0] == 'e', (int64_t)time(NULL))) != AE_OK)
		goto fail;
	if ((e = db_rl_exempt(db, id, &exempt)) != AE_OK)
		goto fail;
	printf("account %lld: %s\n", (long long)id, exempt ? "exempt from rate limits" :
	    "subject to rate limits");
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "anvilctl: ratelimit: %s: %s\n", anvil_strerror(e),
	    db ? db_error(db) : "");
out:
	db_free(db);
	if (have_conf)
		db_conf_free(&dbc);
	return rc;
}
