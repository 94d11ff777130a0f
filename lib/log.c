#include "config.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"
#include "lib/rfc3339.h"

static const char *log_prog = "anvil";
static int log_syslog;
static enum log_level log_max = LOG_LVL_INFO;
/* getpid() is a system call on every line; the pid is kept instead. Every fork() after
 * log_init (anvil-fcgi's and anvil-ocsp's workers, daemon() in the services) runs the atfork
 * handler, which takes the child's own: a cached pid is never its parent's. 0: not yet known. */
static pid_t log_pid;
static pthread_once_t log_atfork_once = PTHREAD_ONCE_INIT;

static void
log_after_fork(void)
{
	log_pid = getpid();
}

static void
log_atfork_register(void)
{
	/* Without the handler a forked child would print its parent's pid: keep asking then. */
	if (pthread_atfork(NULL, NULL, log_after_fork) != 0)
		log_pid = -1;
}

void
log_init(const char *progname, int use_syslog, enum log_level level)
{
	log_prog = progname;
	log_syslog = use_syslog;
	log_max = level;
	pthread_once(&log_atfork_once, log_atfork_register);
	if (log_pid != -1)
		log_pid = getpid();
	if (use_syslog)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	log_max = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

static void log_v(enum log_level lvl, const char *tag, int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void
log_v(enum log_level lvl, const char *tag, int prio, const char *fmt, va_list ap)
{
	char line[2048];

	if (lvl > log_max)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		syslog(prio, "%s %s", tag, line);
		return;
	}
	struct timespec ts;
	char when[RFC3339_BUF];
	clock_gettime(CLOCK_REALTIME, &ts);
	rfc3339_format((int64_t)ts.tv_sec, when);
	fprintf(stderr, "%s %s[%ld] %s %s\n", when, log_prog,
	    (long)(log_pid > 0 ? log_pid : getpid()), tag, line);
}

#define LOG_FN(name, lvl, tag, prio)                  \
	void name(const char *fmt, ...)               \
	{                                             \
		va_list ap;                           \
		va_start(ap, fmt);                    \
		log_v(lvl, tag, prio, fmt, ap);       \
		va_end(ap);                           \
	}
LOG_FN(log_err, LOG_LVL_ERR, "error", LOG_ERR)
LOG_FN(log_warn, LOG_LVL_WARN, "warn", LOG_WARNING)
LOG_FN(log_info, LOG_LVL_INFO, "info", LOG_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG, "debug", LOG_DEBUG)
LOG_FN(log_audit, LOG_LVL_ERR, "audit", LOG_NOTICE)

char *
log_escape(char *out, size_t outsz, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len && s != NULL; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[4];
		size_t n;
		if (c == '"' || c == '\\') {
			tmp[0] = '\\'; tmp[1] = (char)c; n = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			tmp[0] = '\\'; tmp[1] = 'x'; tmp[2] = hex[c >> 4]; tmp[3] = hex[c & 15]; n = 4;
		} else {
			tmp[0] = (char)c; n = 1;
		}
		if (o + n >= outsz)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}
