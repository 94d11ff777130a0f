/* anvilctl: one operator command per file; main.c only dispatches. */
#ifndef ANVIL_CTL_H
#define ANVIL_CTL_H
#include <json-c/json.h>
#include "lib/conf.h"

struct ctl {
	const char *config_path;
	json_object *config;   /* the whole deployment file, loaded before the command runs */
	struct conf_ctx conf;
};

/* Each returns the process exit status (0 ok, 1 failure, 2 usage). argv[0] is the command. */
int ctl_migrate(struct ctl *ctl, int argc, char **argv);      /* tools/anvilctl/migrate.c */
int ctl_eab(struct ctl *ctl, int argc, char **argv);          /* tools/anvilctl/eab.c */
int ctl_check(struct ctl *ctl, int argc, char **argv);        /* tools/anvilctl/check.c */
int ctl_init(struct ctl *ctl, int argc, char **argv);         /* tools/anvilctl/init.c */
int ctl_bench_signer(struct ctl *ctl, int argc, char **argv); /* tools/anvilctl/bench_signer.c */
int ctl_check_freshness(struct ctl *ctl, int argc, char **argv); /* tools/anvilctl/freshness.c */
int ctl_ratelimit(struct ctl *ctl, int argc, char **argv);    /* tools/anvilctl/ratelimit.c */
int ctl_ct_logs(struct ctl *ctl, int argc, char **argv);      /* tools/anvilctl/ct_logs.c */

#endif
