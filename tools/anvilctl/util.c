/* What the operator commands share: the database handle, who is running them (for the audit
 * log), where anvil-jobs is woken, and the text forms of times, keys and revocation reasons. */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "lib/auditchain.h"
#include "lib/log.h"
#include "lib/rfc3339.h"
#include "tools/anvilctl/ctl.h"

anvil_err
ctl_db(struct ctl *ctl, struct db **out)
{
	anvil_err e;

	*out = NULL;
	if (!ctl->have_dbc) {
		if (db_conf_parse(&ctl->conf, ctl->config, &ctl->dbc) != AE_OK) {
			fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
			return AE_CONFIG;
		}
		ctl->have_dbc = 1;
	}
	if ((e = db_new(&ctl->dbc, out)) != AE_OK || (e = db_connect(*out)) != AE_OK) {
		fprintf(stderr, "anvilctl: database (section database of %s): %s%s%s\n",
		    ctl->config_path, anvil_strerror(e), *out ? ": " : "",
		    *out ? db_error(*out) : "");
		db_free(*out);
		*out = NULL;
	}
	return e;
}

void
ctl_done(struct ctl *ctl)
{
	if (ctl->have_dbc)
		db_conf_free(&ctl->dbc);
	ctl->have_dbc = 0;
}

/* The real uid decides; SUDO_USER only says who asked sudo (it is the caller's to set). */
const char *
ctl_who(void)
{
	static char who[160];
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);
	const char *sudo = getenv("SUDO_USER");
	char esc[64];

	if (who[0] != '\0')
		return who;
	if (sudo != NULL && uid == 0)
		snprintf(who, sizeof(who), "uid=%u(%s),sudo_user=%s", (unsigned)uid,
		    pw ? pw->pw_name : "?", log_escape(esc, sizeof(esc), sudo, strlen(sudo)));
	else
		snprintf(who, sizeof(who), "uid=%u(%s)", (unsigned)uid, pw ? pw->pw_name : "?");
	return who;
}

static struct auditchain *ctl_chain;
static int ctl_chain_failed;

const char *
ctl_audit_path(struct ctl *ctl)
{
	const char *path = ANVIL_LOGDIR "/anvilctl-audit.chain";
	json_object *log = NULL;

	if (conf_get_object(&ctl->conf, ctl->config, "", "log", 0, &log) == AE_OK && log != NULL)
		conf_get_string(&ctl->conf, log, "log", "audit_file", 0, &path);
	return path;
}

int
ctl_audit_open(struct ctl *ctl)
{
	const char *path = ctl_audit_path(ctl);
	char err[PATH_MAX + 128], *slash;

	if (ctl_chain != NULL)
		return 0;
	/* Where tmpfiles.d or the init scripts have not made the log directory yet. */
	if (snprintf(err, sizeof(err), "%s", path) < (int)sizeof(err) &&
	    (slash = strrchr(err, '/')) != NULL && slash != err) {
		*slash = '\0';
		if (mkdir(err, 0750) != 0 && errno != EEXIST)
			fprintf(stderr, "anvilctl: mkdir %s: %s\n", err, strerror(errno));
	}
	if (auditchain_open(path, 1, &ctl_chain, err, sizeof(err)) != AE_OK) {
		fprintf(stderr, "anvilctl: audit file (log.audit_file of %s): %s; nothing was "
		    "changed: changes are refused when they cannot be audited\n", ctl->config_path,
		    err);
		return -1;
	}
	return 0;
}

int
ctl_audit_close(void)
{
	int failed = ctl_chain_failed;

	auditchain_close(ctl_chain);
	ctl_chain = NULL;
	ctl_chain_failed = 0;
	return failed ? -1 : 0;
}

void
ctl_audit(const char *fmt, ...)
{
	char line[1024], text[AUDIT_TEXT_MAX], hash[AUDIT_HASH_HEX] = "-";
	uint64_t seq = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "%s by=%s", line, ctl_who());
	if (ctl_chain == NULL || auditchain_append(ctl_chain, text, &seq, hash) != AE_OK) {
		ctl_chain_failed = 1;
		fprintf(stderr, "anvilctl: the audit file could not take this record: %s\n", text);
	}
	/* Also to the system log (journald keeps it with the uid), and to stderr for the
	 * operator at the terminal, with the record's place in the chain. */
	openlog("anvilctl", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_NOTICE, "audit %s audit_seq=%llu audit_hash=%s", text,
	    (unsigned long long)seq, hash);
	closelog();
	log_audit("%s audit_seq=%llu audit_hash=%s", text, (unsigned long long)seq, hash);
}

const char *
ctl_wake_socket(const struct ctl *ctl)
{
	json_object *jobs, *ws;

	if (json_object_object_get_ex(ctl->config, "jobs", &jobs) &&
	    json_object_object_get_ex(jobs, "wake_socket", &ws) &&
	    json_object_is_type(ws, json_type_string))
		return json_object_get_string(ws);
	return NULL;
}

const char *
ctl_time(int64_t t, char out[32])
{
	if (t <= 0) {
		snprintf(out, 32, "-");
		return out;
	}
	rfc3339_format(t, out);
	return out;
}

json_object *
ctl_json_time(int64_t t)
{
	char s[32];

	if (t <= 0)
		return NULL;
	return json_object_new_string(ctl_time(t, s));
}

/* A serial as the operator may paste it (openssl's upper case, colons, a 0x) in the form of
 * certificates.serial: lowercase hex of the minimal bytes. */
int
ctl_serial_parse(const char *s, char out[DB_SERIAL_HEX_MAX + 1])
{
	size_t n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n >= DB_SERIAL_HEX_MAX)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	/* Leading zero bytes are not part of the stored form. */
	while (n >= 2 && out[0] == '0' && out[1] == '0') {
		memmove(out, out + 2, n - 1);
		n -= 2;
	}
	return n == 0 || n % 2 != 0 ? -1 : 0;
}

/* RFC 5280 CRLReason: the ones an operator revokes an end-entity certificate with (the
 * CA/Browser Forum's list; certificateHold and removeFromCRL are not used). */
static const struct { const char *name; int code; } reasons[] = {
	{ "unspecified", 0 }, { "keyCompromise", 1 }, { "affiliationChanged", 3 },
	{ "superseded", 4 }, { "cessationOfOperation", 5 }, { "privilegeWithdrawn", 9 },
};

int
ctl_reason_parse(const char *s, int *code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		char num[8];

		snprintf(num, sizeof(num), "%d", reasons[i].code);
		if (strcasecmp(s, reasons[i].name) == 0 || strcmp(s, num) == 0) {
			*code = reasons[i].code;
			return 0;
		}
	}
	return -1;
}

const char *
ctl_reason_name(int code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return code < 0 ? "-" : "other";
}

void
ctl_json_print(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}
