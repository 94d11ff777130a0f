/* The schema migration runner: applies migrations/NNNN_name.sql in order, forward only, and
 * records each in schema_migrations. Refuses a database whose schema is newer than the files it
 * knows (an older anvilctl must never touch a newer schema). */
#ifndef ANVIL_DB_MIGRATE_H
#define ANVIL_DB_MIGRATE_H
#include <stdio.h>
#include "db/db.h"
#include "lib/err.h"

#define MIGRATION_MAX (1024 * 1024)  /* one migration file */
#define MIGRATIONS_MAX 9999

/* The directory to use when none is given: $ANVIL_MIGRATIONS_DIR, else the installed
 * migrations, else (an uninstalled build) the source tree's. */
const char *db_migrations_dir(void);
/* Applies pending migrations from dir (or only reports when status_only), writing one line per
 * migration to out. On failure msg (size msgsz) says why, for the operator. */
anvil_err db_migrate(struct db *db, const char *dir, int status_only, FILE *out, char *msg,
    size_t msgsz);

#endif
