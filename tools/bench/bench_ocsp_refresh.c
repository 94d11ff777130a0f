/* The database side of one OCSP refresh batch (jobs/ocsp.c), measured: the due check, the
 * claim (SELECT ... FOR UPDATE SKIP LOCKED over cert_status_due + the lease), the publishing
 * transaction (one conditional UPDATE per row) and an expiry sweep that finds nothing, each with
 * the rows InnoDB read for it. Signing is left out: its cost per row does not depend on the
 * table. Run by tools/bench/ocsp-refresh, which fills cert_status first; not installed.
 *
 *   anvil-bench-ocsp-refresh -c CONFIG [-b BATCH] [-r ROUNDS] */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db/db.h"
#include "db/status.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/num.h"

static struct db_read_counters overhead;

static void
delta(const struct db_read_counters *a, const struct db_read_counters *b,
    struct db_read_counters *d)
{
	d->read_key = b->read_key - a->read_key - overhead.read_key;
	d->read_next = b->read_next - a->read_next - overhead.read_next;
	d->read_first = b->read_first - a->read_first - overhead.read_first;
	d->read_rnd_next = b->read_rnd_next - a->read_rnd_next - overhead.read_rnd_next;
	d->rows_read = b->rows_read - a->rows_read -
	    overhead.rows_read;
}

static void
print(const char *what, size_t rows, uint64_t us, const struct db_read_counters *d)
{
	printf("%-8s rows=%-6zu ms=%-9.2f rows_read=%-6lld handler_read_key=%-6lld "
	    "handler_read_next=%-6lld handler_read_first=%lld handler_read_rnd_next=%lld\n", what,
	    rows, (double)us / 1000.0, (long long)d->rows_read, (long long)d->read_key,
	    (long long)d->read_next, (long long)d->read_first, (long long)d->read_rnd_next);
}

int
main(int argc, char **argv)
{
	struct conf_ctx cc;
	json_object *root = NULL;
	struct db_conf dbc;
	struct db *db = NULL;
	struct db_status *rows = NULL;
	struct db_read_counters c0, c1, d;
	const char *path = NULL;
	int64_t batch = 256, rounds = 2;
	int ch, rc = 1, have_dbc = 0;
	anvil_err e;

	memset(&cc, 0, sizeof(cc));
	while ((ch = getopt(argc, argv, "c:b:r:")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'b':
			if (num_parse_i64(optarg, 1, DB_STATUS_CLAIM_MAX, &batch) != AE_OK)
				goto usage;
			break;
		case 'r':
			if (num_parse_i64(optarg, 1, 1000, &rounds) != AE_OK)
				goto usage;
			break;
		default: goto usage;
		}
	}
	if (path == NULL || optind != argc)
		goto usage;
	if (conf_load(&cc, path, &root) != AE_OK || db_conf_parse(&cc, root, &dbc) != AE_OK) {
		fprintf(stderr, "anvil-bench-ocsp-refresh: %s\n", cc.err);
		goto out;
	}
	have_dbc = 1;
	if ((rows = calloc((size_t)batch, sizeof(*rows))) == NULL ||
	    (e = db_new(&dbc, &db)) != AE_OK || (e = db_connect(db)) != AE_OK) {
		fprintf(stderr, "anvil-bench-ocsp-refresh: database: %s\n",
		    db != NULL ? db_error(db) : "no memory");
		goto out;
	}
	/* What reading the counters costs by itself, subtracted from every figure. */
	if (db_read_counters(db, &c0) != AE_OK || db_read_counters(db, &c1) != AE_OK)
		goto dberr;
	overhead.read_key = c1.read_key - c0.read_key;
	overhead.read_next = c1.read_next - c0.read_next;
	overhead.read_first = c1.read_first - c0.read_first;
	overhead.read_rnd_next = c1.read_rnd_next - c0.read_rnd_next;
	overhead.rows_read = c1.rows_read - c0.rows_read;
	for (int64_t r = 0; r < rounds; r++) {
		int64_t now = (int64_t)time(NULL);
		size_t n = 0, published = 0;
		uint64_t t0;

		printf("# round %lld, batch %lld\n", (long long)r + 1, (long long)batch);
		if (db_read_counters(db, &c0) != AE_OK)
			goto dberr;
		t0 = clock_mono_us();
		e = db_status_due(db, now);
		if (e != AE_OK && e != AE_NOTFOUND)
			goto dberr;
		if (db_read_counters(db, &c1) != AE_OK)
			goto dberr;
		delta(&c0, &c1, &d);
		print("due", e == AE_OK, clock_mono_us() - t0, &d);

		c0 = c1;
		t0 = clock_mono_us();
		e = db_status_claim(db, "bench", now, now + 60, (size_t)batch, rows, &n);
		if (e != AE_OK && e != AE_NOTFOUND)
			goto dberr;
		if (db_read_counters(db, &c1) != AE_OK)
			goto dberr;
		delta(&c0, &c1, &d);
		print("claim", n, clock_mono_us() - t0, &d);

		/* As jobs/ocsp.c publishes: one transaction, one conditional UPDATE per row; the
		 * rows are then due in a year, out of the next round's way. */
		c0 = c1;
		t0 = clock_mono_us();
		if (db_begin(db) != AE_OK)
			goto dberr;
		for (size_t i = 0; i < n; i++) {
			if ((e = db_status_published(db, "bench", rows[i].serial, now, now + 86400,
			    now + 365 * 86400)) != AE_OK && e != AE_DENIED) {
				db_rollback(db);
				goto dberr;
			}
			published += e == AE_OK;
		}
		if (db_commit(db) != AE_OK)
			goto dberr;
		if (db_read_counters(db, &c1) != AE_OK)
			goto dberr;
		delta(&c0, &c1, &d);
		print("publish", published, clock_mono_us() - t0, &d);

		c0 = c1;
		t0 = clock_mono_us();
		if (db_begin(db) != AE_OK)
			goto dberr;
		e = db_status_expired(db, now - 86400, now, (size_t)batch, rows, &n);
		db_rollback(db);
		if (e != AE_OK)
			goto dberr;
		if (db_read_counters(db, &c1) != AE_OK)
			goto dberr;
		delta(&c0, &c1, &d);
		print("sweep", n, clock_mono_us() - t0, &d);
	}
	rc = 0;
	goto out;
dberr:
	fprintf(stderr, "anvil-bench-ocsp-refresh: %s\n", db_error(db));
out:
	free(rows);
	db_free(db);
	if (have_dbc)
		db_conf_free(&dbc);
	json_object_put(root);
	return rc;
usage:
	fprintf(stderr, "usage: anvil-bench-ocsp-refresh -c CONFIG [-b BATCH] [-r ROUNDS]\n");
	return 2;
}
