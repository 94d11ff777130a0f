/* One line per event, key=value fields, to stderr in the foreground or syslog as a daemon.
 * Untrusted text goes through log_escape() before it reaches a format. */
#ifndef ANVIL_LOG_H
#define ANVIL_LOG_H
#include <stddef.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, int use_syslog, enum log_level level);
void log_set_level(enum log_level level);
int log_level_parse(const char *s, enum log_level *out);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Audit lines (every signature) are never suppressed by the level. */
void log_audit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies at most len bytes of s into out (size outsz, always NUL-terminated), replacing
 * control and non-ASCII bytes with \xHH and quotes/backslashes with escapes. Returns out. */
char *log_escape(char *out, size_t outsz, const char *s, size_t len);

#endif
