/* anvilctl jobs list|retry: the durable jobs that need an operator — failed ones (their
 * attempts ran out: jobs.max_attempts) and queued ones due long ago that no runner holds
 * (anvil-jobs down, or behind). retry queues them again, due at once, and wakes anvil-jobs. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "db/admin.h"
#include "lib/log.h"
#include "lib/num.h"
#include "lib/wake.h"
#include "tools/anvilctl/ctl.h"

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl jobs list [--stuck-after SECONDS] [--limit N] [--json]\n"
	    "       anvilctl jobs retry ID...\n");
	return 2;
}

struct listing {
	json_object *a;
	int64_t now;
	size_t n;
};

static anvil_err
one(void *arg, const struct db_job_row *j)
{
	struct listing *l = arg;
	char t[32], esc[4 * 200 + 1];

	l->n++;
	if (l->a != NULL) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_int64(j->id));
		json_object_object_add(o, "kind", json_object_new_string(j->kind));
		json_object_object_add(o, "ref_id", json_object_new_int64(j->ref_id));
		json_object_object_add(o, "state", json_object_new_string(j->state));
		json_object_object_add(o, "run_after", ctl_json_time(j->run_after));
		json_object_object_add(o, "attempts", json_object_new_int64(j->attempts));
		json_object_object_add(o, "lease_owner", j->owner[0] ?
		    json_object_new_string(j->owner) : NULL);
		json_object_object_add(o, "last_error", j->error[0] ?
		    json_object_new_string(j->error) : NULL);
		json_object_object_add(o, "created", ctl_json_time(j->created));
		json_object_array_add(l->a, o);
		return AE_OK;
	}
	printf("%-10lld %-10s %-12lld %-7s %-20s %3lld  %s\n", (long long)j->id, j->kind,
	    (long long)j->ref_id, strcmp(j->state, "queued") == 0 ? "stuck" : j->state,
	    ctl_time(j->run_after, t), (long long)j->attempts,
	    log_escape(esc, sizeof(esc), j->error, strnlen(j->error, 200)));
	return AE_OK;
}

int
ctl_jobs(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stuck-after", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct listing l = { NULL, (int64_t)time(NULL), 0 };
	struct db *db = NULL;
	int64_t stuck = 300, limit = 1000, id;
	int ch, json = 0, rc = 1, retry;
	size_t requeued = 0;
	anvil_err e;

	if (argc < 2 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "retry") != 0))
		return usage();
	retry = argv[1][0] == 'r';
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "js:l:", lo, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 's':
			if (num_parse_i64(optarg, 0, 86400 * 365, &stuck) != AE_OK)
				return usage();
			break;
		case 'l':
			if (num_parse_i64(optarg, 1, DB_ADMIN_LIST_MAX, &limit) != AE_OK)
				return usage();
			break;
		default: return usage();
		}
	}
	if (retry ? optind == argc || json : optind != argc)
		return usage();
	for (int i = optind; retry && i < argc; i++)
		if (num_parse_i64(argv[i], 1, INT64_MAX, &id) != AE_OK)
			return usage();
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	if (!retry) {
		if (json)
			l.a = json_object_new_array();
		if (!json)
			printf("%-10s %-10s %-12s %-7s %-20s %3s  %s\n", "ID", "KIND", "REF", "STATE",
			    "DUE", "TRY", "LAST ERROR");
		e = db_jobs_troubled(db, l.now, l.now - stuck, (size_t)limit, one, &l);
		if (e != AE_OK && e != AE_TOOBIG) {
			fprintf(stderr, "anvilctl: jobs list: %s: %s\n", anvil_strerror(e),
			    db_error(db));
			goto out;
		}
		if (json)
			ctl_json_print(l.a);
		rc = 0;
		goto out;
	}
	rc = 0;
	for (int i = optind; i < argc; i++) {
		(void)num_parse_i64(argv[i], 1, INT64_MAX, &id);
		e = db_job_requeue(db, id, l.now);
		if (e == AE_OK) {
			ctl_audit("jobs-retry job=%lld", (long long)id);
			printf("job %lld queued\n", (long long)id);
			requeued++;
			continue;
		}
		fprintf(stderr, "anvilctl: job %lld: %s\n", (long long)id, e == AE_EXISTS ?
		    "done already" : e == AE_NOTFOUND ? "no such job" : anvil_strerror(e));
		rc = 1;
	}
	if (requeued > 0 && ctl_wake_socket(ctl) != NULL &&
	    (e = wake_send(ctl_wake_socket(ctl))) != AE_OK)
		fprintf(stderr, "anvilctl: waking anvil-jobs at jobs.wake_socket: %s (it polls)\n",
		    anvil_strerror(e));
out:
	json_object_put(l.a);
	db_free(db);
	ctl_done(ctl);
	return rc;
}
