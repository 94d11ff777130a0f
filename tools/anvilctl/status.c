/* anvilctl status: is the CA working? Each daemon reached the way its clients reach it (the
 * database by a query, the signer by its health and stats operations, the FastCGI and OCSP
 * sockets by a connect, anvil-jobs by its PID file and by whether due jobs wait unclaimed),
 * the queue depths, and per issuer the freshness of what relying parties are served
 * (db/freshness.h). Exit 0 when every configured part answers, 1 otherwise. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "ca/client.h"
#include "db/admin.h"
#include "db/freshness.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/num.h"
#include "tools/anvilctl/ctl.h"

#define STUCK_AFTER 60   /* s a due job may wait for a runner before it counts as stuck */

struct st {
	json_object *root, *daemons;
	int bad;
	struct ctl *ctl;
};

static const char *
cfg_str(const struct ctl *ctl, const char *section, const char *sub, const char *key)
{
	json_object *s, *v;

	if (!json_object_object_get_ex(ctl->config, section, &s))
		return NULL;
	if (sub != NULL && !json_object_object_get_ex(s, sub, &s))
		return NULL;
	if (!json_object_object_get_ex(s, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *
daemon_entry(struct st *st, const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_object *
daemon_entry(struct st *st, const char *name, int ok, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, "detail", json_object_new_string(msg));
	json_object_object_add(st->daemons, name, o);
	if (!ok)
		st->bad = 1;
	return o;
}

/* 0: something accepts connections (or datagrams) on the Unix socket at path. */
static int
sock_reachable(const char *path, int type, char *why, size_t whysz)
{
	struct sockaddr_un sa;
	int fd, rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whysz, "path too long");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(why, whysz, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		rc = 0;
	else
		snprintf(why, whysz, "%s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* The PID in a daemon's PID file, when that process is alive; 0 otherwise (why says). */
static long
pid_alive(const char *path, char *why, size_t whysz)
{
	char text[32];
	size_t n = 0;
	int64_t pid;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return 0;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	if (num_parse_i64(text, 1, 1 << 30, &pid) != AE_OK) {
		snprintf(why, whysz, "%s: not a PID", path);
		return 0;
	}
	/* EPERM: alive, another user's (anvilctl need not be root to look). */
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM) {
		snprintf(why, whysz, "PID %lld (%s) is not running", (long long)pid, path);
		return 0;
	}
	return (long)pid;
}

static void
signer(struct st *st)
{
	const char *path = cfg_str(st->ctl, "signer", NULL, "socket");
	struct signer_client *c = NULL;
	struct request q;
	struct buf out;
	uint32_t retry = 0;
	json_object *o;
	anvil_err e;

	if (path == NULL)
		return;
	buf_init(&out, 65536);
	memset(&q, 0, sizeof(q));
	q.op = OP_HEALTH;
	q.id = 1;
	q.deadline_ms = clock_wall_ms() + 3000;
	if ((e = signer_client_new(path, &c)) != AE_OK ||
	    (e = signer_call(c, &q, &out, &retry)) != AE_OK || buf_nul(&out) != AE_OK) {
		daemon_entry(st, "anvil-signer", 0, "%s: %s", path, anvil_strerror(e));
		goto out;
	}
	o = daemon_entry(st, "anvil-signer", 1, "%s", (const char *)out.data);
	/* Stats need the operator's uid in signer.permissions; health alone says it is up. */
	buf_free(&out);
	buf_init(&out, 65536);
	q.op = OP_STATS;
	q.id = 2;
	if (signer_call(c, &q, &out, &retry) == AE_OK && buf_nul(&out) == AE_OK)
		json_object_object_add(o, "stats", json_tokener_parse((const char *)out.data));
out:
	buf_free(&out);
	signer_client_free(c);
}

static void
socket_daemon(struct st *st, const char *name, const char *path, const char *pidfile)
{
	char why[300] = "", why2[300] = "";
	long pid = 0;
	int up;

	if (path == NULL && pidfile == NULL)
		return;
	up = path == NULL || sock_reachable(path, SOCK_STREAM, why, sizeof(why)) == 0;
	if (pidfile != NULL && (pid = pid_alive(pidfile, why2, sizeof(why2))) == 0)
		up = 0;
	if (up)
		daemon_entry(st, name, 1, "%s%s%.0ld", path ? path : "", pid ? " pid " : "", pid);
	else
		daemon_entry(st, name, 0, "%s%s%s", why, why[0] && why2[0] ? "; " : "", why2);
}

struct depths {
	json_object *o;
};

static anvil_err
depth(void *arg, const char *kind, const char *state, int64_t n, int64_t oldest)
{
	struct depths *d = arg;
	json_object *k, *e = json_object_new_object();

	if (!json_object_object_get_ex(d->o, kind, &k)) {
		k = json_object_new_object();
		json_object_object_add(d->o, kind, k);
	}
	json_object_object_add(e, "count", json_object_new_int64(n));
	json_object_object_add(e, "oldest_due", ctl_json_time(oldest));
	json_object_object_add(k, state, e);
	return AE_OK;
}

static anvil_err
count_stuck(void *arg, const struct db_job_row *j)
{
	int64_t *n = arg;

	if (strcmp(j->state, "queued") == 0)
		n[0]++;
	else
		n[1]++;
	return AE_OK;
}

static void
database(struct st *st)
{
	struct db_freshness f[16];
	struct depths d = { json_object_new_object() };
	json_object *is, *fr;
	struct db *db = NULL;
	int64_t now = (int64_t)time(NULL), troubled[2] = { 0, 0 };
	size_t n = 0;
	int truncated = 0;
	const char *jobs_pid;
	char why[300];
	anvil_err e;

	json_object_object_add(st->root, "queues", d.o);
	if (ctl_db(st->ctl, &db) != AE_OK) {
		daemon_entry(st, "database", 0, "unreachable (see above)");
		goto out;
	}
	if ((e = db_jobs_depths(db, depth, &d)) != AE_OK) {
		daemon_entry(st, "database", 0, "%s: %s", anvil_strerror(e), db_error(db));
		goto out;
	}
	daemon_entry(st, "database", 1, "connected");
	e = db_jobs_troubled(db, now, now - STUCK_AFTER, 10000, count_stuck, troubled);
	if (e != AE_OK && e != AE_TOOBIG)
		troubled[0] = troubled[1] = -1;
	/* anvil-jobs is alive when its PID is, and working when no due job waits for it. */
	if (json_object_object_get_ex(st->ctl->config, "jobs", NULL)) {
		jobs_pid = cfg_str(st->ctl, "jobs", NULL, "pid_file");
		long pid = jobs_pid ? pid_alive(jobs_pid, why, sizeof(why)) : -1;
		int ok = pid != 0 && troubled[0] == 0;
		json_object *o = daemon_entry(st, "anvil-jobs", ok, "%s%.0ld; due jobs unclaimed for "
		    "over %d s: %lld", pid > 0 ? "pid " : pid == 0 ? why : "no jobs.pid_file",
		    pid > 0 ? pid : 0, STUCK_AFTER, (long long)troubled[0]);
		json_object_object_add(o, "stuck_jobs", json_object_new_int64(troubled[0]));
	}
	json_object_object_add(st->root, "failed_jobs", json_object_new_int64(troubled[1]));
	if (json_object_object_get_ex(st->ctl->config, "issuers", &is) &&
	    json_object_is_type(is, json_type_object)) {
		memset(f, 0, sizeof(f));
		json_object_object_foreach(is, name, v) {
			(void)v;
			if (n < sizeof(f) / sizeof(f[0]))
				snprintf(f[n++].issuer, sizeof(f[0].issuer), "%s", name);
		}
	}
	if (n == 0)
		goto out;
	fr = json_object_new_object();
	json_object_object_add(st->root, "freshness", fr);
	if ((e = db_freshness(db, now, 100000, f, n, &truncated)) != AE_OK) {
		json_object_object_add(fr, "error", json_object_new_string(anvil_strerror(e)));
		st->bad = 1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "ocsp_oldest_this_update",
		    ctl_json_time(f[i].oldest_this_update));
		json_object_object_add(o, "ocsp_oldest_age_s", f[i].oldest_this_update ?
		    json_object_new_int64(now - f[i].oldest_this_update) : NULL);
		json_object_object_add(o, "ocsp_unsigned", json_object_new_int64(f[i].unsigned_responses));
		json_object_object_add(o, "ocsp_past_refresh", json_object_new_int64(f[i].past_refresh));
		json_object_object_add(o, "ocsp_past_next_update",
		    json_object_new_int64(f[i].past_next_update));
		json_object_object_add(o, "crl_shards", json_object_new_int64(f[i].crl_shards));
		json_object_object_add(o, "crl_oldest_this_update",
		    ctl_json_time(f[i].crl_oldest_this_update));
		json_object_object_add(o, "crl_unpublished", json_object_new_int64(f[i].crl_unpublished));
		json_object_object_add(o, "crl_overdue", json_object_new_int64(f[i].crl_overdue));
		json_object_object_add(o, "crl_past_next_update",
		    json_object_new_int64(f[i].crl_past_next_update));
		if (truncated)
			json_object_object_add(o, "lower_bounds", json_object_new_boolean(1));
		json_object_object_add(fr, f[i].issuer, o);
		/* Relying parties reject these: the CA is failing them now. */
		if (f[i].past_next_update > 0 || f[i].crl_past_next_update > 0)
			st->bad = 1;
	}
out:
	db_free(db);
}

static void
text(json_object *root)
{
	json_object *d, *q, *fr;

	printf("config           %s\n", json_object_get_string(json_object_object_get(root,
	    "config")));
	if (json_object_object_get_ex(root, "daemons", &d)) {
		json_object_object_foreach(d, name, o)
			printf("%-16s %-4s %s\n", name, json_object_get_boolean(
			    json_object_object_get(o, "ok")) ? "ok" : "DOWN",
			    json_object_get_string(json_object_object_get(o, "detail")));
	}
	if (json_object_object_get_ex(root, "queues", &q)) {
		json_object_object_foreach(q, kind, states) {
			json_object_object_foreach(states, state, e)
				printf("queue            %s %s: %lld (oldest due %s)\n", kind, state,
				    (long long)json_object_get_int64(json_object_object_get(e,
				    "count")), json_object_get_string(json_object_object_get(e,
				    "oldest_due")) ?: "-");
		}
	}
	printf("failed jobs      %lld\n", (long long)json_object_get_int64(
	    json_object_object_get(root, "failed_jobs")));
	if (json_object_object_get_ex(root, "freshness", &fr)) {
		json_object_object_foreach(fr, issuer, o) {
			if (!json_object_is_type(o, json_type_object))
				continue;
			printf("issuer %s:\n", issuer);
			json_object_object_foreach(o, k, v)
				printf("  %-24s %s\n", k, v ? json_object_get_string(v) : "-");
		}
	}
	printf("status           %s\n", json_object_get_boolean(json_object_object_get(root,
	    "ok")) ? "OK" : "PROBLEM");
}

int
ctl_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct st st;
	int ch, json = 0;

	(void)argv;
	while ((ch = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
		if (ch != 'j') {
			fprintf(stderr, "usage: anvilctl status [--json]\n");
			return 2;
		}
		json = 1;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: anvilctl status [--json]\n");
		return 2;
	}
	memset(&st, 0, sizeof(st));
	st.ctl = ctl;
	st.root = json_object_new_object();
	st.daemons = json_object_new_object();
	json_object_object_add(st.root, "config", json_object_new_string(ctl->config_path));
	json_object_object_add(st.root, "daemons", st.daemons);
	database(&st);
	signer(&st);
	socket_daemon(&st, "anvil-fcgi", cfg_str(ctl, "fcgi", NULL, "socket"),
	    cfg_str(ctl, "fcgi", NULL, "pid_file"));
	socket_daemon(&st, "anvil-ocsp", cfg_str(ctl, "ocsp", "responder", "socket"), NULL);
	json_object_object_add(st.root, "ok", json_object_new_boolean(!st.bad));
	if (json)
		ctl_json_print(st.root);
	else
		text(st.root);
	json_object_put(st.root);
	ctl_done(ctl);
	return st.bad ? 1 : 0;
}
