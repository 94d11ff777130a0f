#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "db/db.h"
#include "db/migrate.h"
#include "tools/anvilctl/ctl.h"

/* anvilctl migrate [--status] [--dir DIR] */
int
ctl_migrate(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "status", no_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_conf dbc;
	struct db *db = NULL;
	const char *dir = NULL;
	char msg[768];
	int ch, status_only = 0, rc = 1, have_conf = 0;
	anvil_err e;

	while ((ch = getopt_long(argc, argv, "sd:", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': status_only = 1; break;
		case 'd': dir = optarg; break;
		default:
			fprintf(stderr, "usage: anvilctl migrate [--status] [--dir DIR]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: anvilctl migrate [--status] [--dir DIR]\n");
		return 2;
	}
	if (dir == NULL)
		dir = db_migrations_dir();
	if (db_conf_parse(&ctl->conf, ctl->config, &dbc) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		goto out;
	}
	have_conf = 1;
	if ((e = db_new(&dbc, &db)) != AE_OK)
		goto out;
	if ((e = db_connect(db)) != AE_OK) {
		fprintf(stderr, "anvilctl: cannot connect to the database: %s\n", db_error(db));
		goto out;
	}
	if ((e = db_migrate(db, dir, status_only, stdout, msg, sizeof(msg))) != AE_OK) {
		fprintf(stderr, "anvilctl: migrate: %s\n", msg[0] ? msg : anvil_strerror(e));
		goto out;
	}
	rc = 0;
out:
	db_free(db);
	if (have_conf)
		db_conf_free(&dbc);
	return rc;
}
