#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "db/migrate.h"
#include "lib/buf.h"
#include "lib/num.h"

struct migration {
	int64_t version;
	char name[256];   /* file name */
};

static const char SQL_BOOTSTRAP[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT UNSIGNED NOT NULL,"
    " name VARCHAR(255) NOT NULL,"
    " applied DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
    " PRIMARY KEY (version)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
static const char SQL_LOCK[] = "SELECT GET_LOCK('anvil_migrate', 30)";
static const char SQL_UNLOCK[] = "SELECT RELEASE_LOCK('anvil_migrate')";
static const char SQL_MAX[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
static const char SQL_RECORD[] = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";

/* NNNN_[a-z0-9_]+.sql */
static int
migration_name(const char *n, int64_t *version)
{
	size_t len = strlen(n);

	if (len < 10 || len > 200 || strcmp(n + len - 4, ".sql") != 0 || n[4] != '_')
		return 0;
	for (size_t i = 5; i < len - 4; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
			return 0;
	return num_parse_i64_n(n, 4, 1, MIGRATIONS_MAX, version) == AE_OK;
}

static int
migration_cmp(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	return x->version < y->version ? -1 : x->version > y->version;
}

static anvil_err
migrations_list(const char *dir, struct migration **out, size_t *n, char *msg, size_t msgsz)
{
	DIR *d = NULL;
	struct dirent *de;
	struct migration *list = NULL, *tmp;
	size_t count = 0, cap = 0;
	anvil_err e = AE_OK;

	if ((d = opendir(dir)) == NULL) {
		snprintf(msg, msgsz, "cannot open migrations directory %s: %s", dir,
		    strerror(errno));
		e = AE_IO;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t v;
		if (!migration_name(de->d_name, &v))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = realloc(list, cap * sizeof(*list))) == NULL) {
				e = AE_NOMEM;
				goto out;
			}
			list = tmp;
		}
		list[count].version = v;
		snprintf(list[count].name, sizeof(list[count].name), "%s", de->d_name);
		count++;
	}
	if (count > 0)
		qsort(list, count, sizeof(*list), migration_cmp);
	for (size_t i = 0; i < count; i++)
		if (list[i].version != (int64_t)i + 1) {
			snprintf(msg, msgsz, "%s: migrations must be numbered 0001, 0002, ... "
			    "without gaps or duplicates (at %s)", dir, list[i].name);
			e = AE_DB_SCHEMA;
			goto out;
		}
	if (count == 0) {
		snprintf(msg, msgsz, "%s: no migrations found", dir);
		e = AE_NOTFOUND;
	}
out:
	if (d != NULL)
		closedir(d);
	if (e != AE_OK) {
		free(list);
		list = NULL;
		count = 0;
	}
	*out = list;
	*n = count;
	return e;
}

static anvil_err
read_file(const char *dir, const char *name, struct buf *b, char *msg, size_t msgsz)
{
	char path[4096];
	char chunk[8192];
	FILE *f = NULL;
	size_t n;
	anvil_err e = AE_OK;

	buf_init(b, MIGRATION_MAX);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(msg, msgsz, "cannot read %s: %s", path, strerror(errno));
		return AE_IO;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if ((e = buf_append(b, chunk, n)) != AE_OK) {
			snprintf(msg, msgsz, "%s: larger than %d bytes", path, MIGRATION_MAX);
			goto out;
		}
	if (ferror(f)) {
		snprintf(msg, msgsz, "cannot read %s", path);
		e = AE_IO;
	}
out:
	fclose(f);
	return e;
}

const char *
db_migrations_dir(void)
{
	const char *env = getenv("ANVIL_MIGRATIONS_DIR");
	struct stat st;

	if (env != NULL && *env != '\0')
		return env;
	if (stat(ANVIL_DATADIR "/migrations", &st) == 0 && S_ISDIR(st.st_mode))
		return ANVIL_DATADIR "/migrations";
#ifdef ANVIL_SRC_MIGRATIONS
	return ANVIL_SRC_MIGRATIONS;
#else
	return ANVIL_DATADIR "/migrations";
#endif
}

anvil_err
db_migrate(struct db *db, const char *dir, int status_only, FILE *out, char *msg, size_t msgsz)
{
	struct migration *list = NULL;
	size_t n = 0;
	int locked = 0;
	struct db_val col[1] = { DB_COL_I64 };
	struct db_result res;
	int64_t current = 0;
	struct buf sql;
	anvil_err e;

	buf_init(&sql, MIGRATION_MAX);
	msg[0] = '\0';
	if ((e = migrations_list(dir, &list, &n, msg, msgsz)) != AE_OK)
		goto out;
	if ((e = db_connect(db)) != AE_OK)
		goto dberr;
	/* Two operators (or two hosts' deploy scripts) migrating at once take turns. */
	if ((e = db_exec(db, SQL_LOCK, NULL, 0, col, 1, &res)) != AE_OK)
		goto dberr;
	if (!res.found || col[0].i != 1) {
		snprintf(msg, msgsz, "another anvilctl migrate holds the migration lock");
		e = AE_BUSY;
		goto out;
	}
	locked = 1;
	if ((e = db_exec_script(db, SQL_BOOTSTRAP, sizeof(SQL_BOOTSTRAP) - 1)) != AE_OK ||
	    (e = db_exec(db, SQL_MAX, NULL, 0, col, 1, &res)) != AE_OK)
		goto dberr;
	current = col[0].i;
	if (current > list[n - 1].version) {
		snprintf(msg, msgsz, "the database schema is at version %lld, newer than the "
		    "newest migration this anvilctl knows (%lld in %s); refusing to touch it",
		    (long long)current, (long long)list[n - 1].version, dir);
		e = AE_DB_SCHEMA;
		goto out;
	}
	fprintf(out, "schema version %lld, newest known %lld\n", (long long)current,
	    (long long)list[n - 1].version);
	for (size_t i = 0; i < n; i++) {
		if (list[i].version <= current)
			continue;
		if (status_only) {
			fprintf(out, "pending %s\n", list[i].name);
			continue;
		}
		if ((e = read_file(dir, list[i].name, &sql, msg, msgsz)) != AE_OK)
			goto out;
		/* DDL commits implicitly in MySQL: a migration that fails halfway leaves its
		 * earlier statements applied and is not recorded; the message says which. */
		if ((e = db_exec_script(db, (const char *)sql.data, sql.len)) != AE_OK) {
			snprintf(msg, msgsz, "%s failed: %s (not recorded; fix by hand, then rerun)",
			    list[i].name, db_error(db));
			goto out;
		}
		{
			struct db_val p[] = { DB_PARAM_I64(list[i].version),
				DB_PARAM_STR(list[i].name, strlen(list[i].name)) };
			if ((e = db_exec(db, SQL_RECORD, p, 2, NULL, 0, &res)) != AE_OK)
				goto dberr;
		}
		buf_free(&sql);
		buf_init(&sql, MIGRATION_MAX);
		fprintf(out, "applied %s\n", list[i].name);
	}
	goto out;
dberr:
	snprintf(msg, msgsz, "database: %s", db_error(db));
out:
	if (locked) {
		struct db_val c2[1] = { DB_COL_I64 };
		(void)db_exec(db, SQL_UNLOCK, NULL, 0, c2, 1, &res);
	}
	buf_free(&sql);
	free(list);
	return e;
}
