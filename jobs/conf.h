/* anvil-jobs' configuration: the sections log, database and jobs of the deployment file
 * (doc/config.md "jobs"), validated as a whole at start and by --check. */
#ifndef ANVIL_JOBS_CONF_H
#define ANVIL_JOBS_CONF_H
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "db/db.h"
#include "lib/conf.h"
#include "lib/privdrop.h"
#include "lib/log.h"
#include "va/va.h"

struct jobs_conf {
	json_object *root;          /* owns every const char * below */
	enum log_level log_level;
	int log_syslog;
	struct db_conf db;

	char runner_id[128];
	int64_t concurrency;
	int64_t poll_interval;      /* s */
	int64_t lease;              /* s */
	int64_t retry_backoff;      /* s, doubled per attempt */
	int64_t max_attempts;
	int64_t finalize_budget_ms;
	int64_t finalize_concurrency; /* finalize attempts at once, each on its own thread */
	int64_t sweep_interval;     /* s between sweeps for orders stranded in processing */
	int64_t status_sample_seconds; /* s between rows of the status page's store */
	struct privdrop run_as;     /* jobs.user/group: dropped to after start-up */
	const char *wake_socket;
	mode_t wake_socket_mode;
	const char *pid_file;
	char account_uri_prefix[512];
	struct va_conf va;
};

anvil_err jobs_conf_load(struct conf_ctx *cc, const char *path, struct jobs_conf *c);
void jobs_conf_free(struct jobs_conf *c);

#endif
