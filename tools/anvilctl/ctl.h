/* anvilctl: one operator command per file; main.c only dispatches, util.c holds what they
 * share. */
#ifndef ANVIL_CTL_H
#define ANVIL_CTL_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"
#include "db/issue.h"
#include "lib/conf.h"

struct ctl {
	const char *config_path;
	json_object *config;   /* the whole deployment file, loaded before the command runs */
	struct conf_ctx conf;
	struct db_conf dbc;    /* ctl_db's, freed by ctl_done */
	int have_dbc;
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
int ctl_revoke(struct ctl *ctl, int argc, char **argv);       /* tools/anvilctl/revoke.c */
int ctl_block_key(struct ctl *ctl, int argc, char **argv);    /* tools/anvilctl/revoke.c */
int ctl_cert(struct ctl *ctl, int argc, char **argv);         /* tools/anvilctl/cert.c */
int ctl_account(struct ctl *ctl, int argc, char **argv);      /* tools/anvilctl/account.c */
int ctl_order(struct ctl *ctl, int argc, char **argv);        /* tools/anvilctl/account.c */
int ctl_jobs(struct ctl *ctl, int argc, char **argv);         /* tools/anvilctl/jobs.c */
int ctl_status(struct ctl *ctl, int argc, char **argv);       /* tools/anvilctl/status.c */
int ctl_audit_cmd(struct ctl *ctl, int argc, char **argv);    /* tools/anvilctl/audit.c */
int ctl_hsm(struct ctl *ctl, int argc, char **argv);          /* tools/anvilctl/hsm.c */
int ctl_ceremony(struct ctl *ctl, int argc, char **argv);     /* tools/anvilctl/ceremony.c */

/* tools/anvilctl/util.c */
/* A connected database handle from the config's database section; on failure a message
 * naming the section is printed. */
anvil_err ctl_db(struct ctl *ctl, struct db **out);
void ctl_done(struct ctl *ctl);
/* "uid=N(name)" of the operator (with sudo's SUDO_USER when run as root through sudo). */
const char *ctl_who(void);
/* The audit chain (lib/auditchain.h) of anvilctl: log.audit_file, by default
 * ANVIL_LOGDIR/anvilctl-audit.chain. main opens it before a command that changes state runs,
 * so a change that could not be audited is never made; -1 (said on stderr) when it cannot. */
const char *ctl_audit_path(struct ctl *ctl);
int ctl_audit_open(struct ctl *ctl);
/* -1 when a record could not be appended since the open (the command then fails). */
int ctl_audit_close(void);
/* One audit record for a change of state, with who ran it: to the audit chain, syslog
 * (authpriv) and stderr. */
void ctl_audit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* jobs.wake_socket, or NULL. */
const char *ctl_wake_socket(const struct ctl *ctl);
const char *ctl_time(int64_t t, char out[32]);   /* ISO 8601 UTC; "-" for 0 */
json_object *ctl_json_time(int64_t t);           /* NULL (JSON null) for 0 */
int ctl_serial_parse(const char *s, char out[DB_SERIAL_HEX_MAX + 1]);
int ctl_reason_parse(const char *s, int *code);
const char *ctl_reason_name(int code);
void ctl_json_print(json_object *o);

#endif
