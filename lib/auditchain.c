#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "lib/auditchain.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/num.h"

#define HASH_SUFFIX 70   /* " hash=" and 64 hex digits */

struct auditchain {
	int fd;
	int sync;
	int failed;
	pthread_mutex_t mu;       /* seq, head, end, written, failed */
	pthread_mutex_t sync_mu;  /* one fdatasync at a time */
	uint64_t seq;             /* the last record's */
	char head[AUDIT_HASH_HEX];
	off_t end;                /* file size after what this process last saw or wrote */
	uint64_t written, synced; /* this process's appends, for group commit */
	char path[256];
};

static const char ZERO_HASH[AUDIT_HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static void
sha256_hex(const char *p, size_t n, char out[AUDIT_HASH_HEX])
{
	uint8_t d[32];
	unsigned int dl = 0;

	EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
	hex_encode(d, sizeof(d), out);
}

static int
is_hex64(const char *p)
{
	for (int i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

/* The seq of a line (without its newline): 0 when it does not start with a valid one. */
static uint64_t
line_seq(const char *line, size_t n)
{
	char digits[24];
	size_t i = 4, d = 0;
	int64_t v;

	if (n < 5 || memcmp(line, "seq=", 4) != 0)
		return 0;
	while (i < n && line[i] >= '0' && line[i] <= '9' && d < sizeof(digits) - 1)
		digits[d++] = line[i++];
	digits[d] = '\0';
	if (i >= n || line[i] != ' ' || num_parse_i64(digits, 1, INT64_MAX, &v) != AE_OK)
		return 0;
	return (uint64_t)v;
}

/* Learns seq and head from the file's last complete line, cutting a torn one. Called with the
 * file locked. */
static anvil_err
load_tail(struct auditchain *a, char *err, size_t errlen)
{
	char buf[AUDIT_LINE_MAX + 1];
	struct stat st;
	off_t from;
	ssize_t got;
	size_t n, start, last_nl;

	if (fstat(a->fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", a->path, strerror(errno));
		return AE_IO;
	}
	a->seq = 0;
	memcpy(a->head, ZERO_HASH, sizeof(a->head));
	a->end = st.st_size;
	if (st.st_size == 0)
		return AE_OK;
	from = st.st_size > (off_t)sizeof(buf) ? st.st_size - (off_t)sizeof(buf) : 0;
	got = pread(a->fd, buf, (size_t)(st.st_size - from), from);
	if (got != st.st_size - from) {
		snprintf(err, errlen, "%s: read failed", a->path);
		return AE_IO;
	}
	n = (size_t)got;
	for (last_nl = n; last_nl > 0 && buf[last_nl - 1] != '\n'; last_nl--)
		;
	if (last_nl == 0 && from > 0) {
		snprintf(err, errlen, "%s: its last %zu bytes hold no complete record; check it "
		    "with `anvilctl audit verify`", a->path, n);
		return AE_PARSE;
	}
	if (last_nl < n) {
		/* A crash mid-write: the torn record was never acknowledged to anyone. */
		log_warn("event=audit_torn_tail file=%s cut_bytes=%zu", a->path, n - last_nl);
		if (ftruncate(a->fd, from + (off_t)last_nl) != 0) {
			snprintf(err, errlen, "%s: cutting a torn last record: %s", a->path,
			    strerror(errno));
			return AE_IO;
		}
		a->end = from + (off_t)last_nl;
	}
	if (last_nl == 0)
		return AE_OK;
	for (start = last_nl - 1; start > 0 && buf[start - 1] != '\n'; start--)
		;
	n = last_nl - 1 - start;  /* the line without its newline */
	if ((start == 0 && from > 0) || n < HASH_SUFFIX ||
	    memcmp(buf + start + n - HASH_SUFFIX, " hash=", 6) != 0 ||
	    !is_hex64(buf + start + n - 64) || (a->seq = line_seq(buf + start, n)) == 0) {
		snprintf(err, errlen, "%s: the last record is not an audit record; check it with "
		    "`anvilctl audit verify`", a->path);
		return AE_PARSE;
	}
	memcpy(a->head, buf + start + n - 64, 64);
	a->head[64] = '\0';
	return AE_OK;
}

anvil_err
auditchain_open(const char *path, int sync, struct auditchain **out, char *err, size_t errlen)
{
	struct auditchain *a;
	anvil_err e;

	*out = NULL;
	if (strlen(path) >= sizeof(a->path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return AE_TOOBIG;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return AE_NOMEM;
	}
	memcpy(a->path, path, strlen(path) + 1);
	a->sync = sync;
	a->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (a->fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(a);
		return AE_IO;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->sync_mu, NULL);
	if (flock(a->fd, LOCK_EX) != 0) {
		snprintf(err, errlen, "%s: flock: %s", path, strerror(errno));
		e = AE_IO;
	} else {
		e = load_tail(a, err, errlen);
		flock(a->fd, LOCK_UN);
	}
	if (e != AE_OK) {
		auditchain_close(a);
		return e;
	}
	*out = a;
	return AE_OK;
}

void
auditchain_close(struct auditchain *a)
{
	if (a == NULL)
		return;
	close(a->fd);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->sync_mu);
	free(a);
}

int
auditchain_failed(struct auditchain *a)
{
	int f;

	pthread_mutex_lock(&a->mu);
	f = a->failed;
	pthread_mutex_unlock(&a->mu);
	return f;
}

static size_t
compose(struct auditchain *a, const char *text, char *line, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char when[40] = "";
	size_t n, t;
	int w;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	w = snprintf(line, cap, "seq=%llu time=%s.%03ldZ prev=%s ",
	    (unsigned long long)(a->seq + 1), when, ts.tv_nsec / 1000000, a->head);
	if (w < 0 || (size_t)w >= cap)
		return 0;
	n = (size_t)w;
	/* One record, one line: a newline in the text would forge a record boundary. */
	for (t = 0; text[t] != '\0' && t < AUDIT_TEXT_MAX && n + HASH_SUFFIX + 2 < cap; t++) {
		unsigned char c = (unsigned char)text[t];
		line[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	memcpy(line + n, " hash=", 6);
	sha256_hex(line, n, line + n + 6);
	n += HASH_SUFFIX;
	line[n++] = '\n';
	return n;
}

static anvil_err
write_locked(struct auditchain *a, const char *text, uint64_t *seq, char *hash_hex,
    uint64_t *mine)
{
	char line[AUDIT_LINE_MAX];
	char err[256];
	struct stat st;
	size_t n, off = 0;

	if (fstat(a->fd, &st) != 0)
		return AE_IO;
	if (st.st_size != a->end && load_tail(a, err, sizeof(err)) != AE_OK) {
		/* Another writer left the file in a state we cannot chain onto. */
		log_err("event=audit_append_failed error=\"%s\"", err);
		return AE_IO;
	}
	if ((n = compose(a, text, line, sizeof(line))) == 0)
		return AE_INTERNAL;
	while (off < n) {
		ssize_t w = write(a->fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off != n) {
		log_err("event=audit_append_failed file=%s errno=%d", a->path, errno);
		if (ftruncate(a->fd, a->end) != 0)
			log_err("event=audit_truncate_failed file=%s errno=%d", a->path, errno);
		return AE_IO;
	}
	a->end += (off_t)n;
	a->seq++;
	memcpy(a->head, line + n - 65, 64);
	*mine = ++a->written;
	if (seq != NULL)
		*seq = a->seq;
	if (hash_hex != NULL)
		memcpy(hash_hex, a->head, AUDIT_HASH_HEX);
	return AE_OK;
}

anvil_err
auditchain_append(struct auditchain *a, const char *text, uint64_t *seq,
    char hash_hex[AUDIT_HASH_HEX])
{
	uint64_t mine = 0, target;
	anvil_err e = AE_IO;

	pthread_mutex_lock(&a->mu);
	if (!a->failed) {
		if (flock(a->fd, LOCK_EX) == 0) {
			e = write_locked(a, text, seq, hash_hex, &mine);
			flock(a->fd, LOCK_UN);
		}
		if (e == AE_IO)
			a->failed = 1;
	}
	pthread_mutex_unlock(&a->mu);
	if (e != AE_OK || !a->sync)
		return e;
	/* Group commit: whoever syncs covers every record written before it started. */
	pthread_mutex_lock(&a->sync_mu);
	pthread_mutex_lock(&a->mu);
	target = a->written;
	e = a->failed ? AE_IO : AE_OK;
	pthread_mutex_unlock(&a->mu);
	if (e == AE_OK && a->synced < mine) {
		if (fdatasync(a->fd) != 0) {
			/* What reached the disk is unknown; nothing more may be audited on it. */
			log_err("event=audit_sync_failed file=%s errno=%d", a->path, errno);
			pthread_mutex_lock(&a->mu);
			a->failed = 1;
			pthread_mutex_unlock(&a->mu);
			e = AE_IO;
		} else {
			a->synced = target;
		}
	}
	pthread_mutex_unlock(&a->sync_mu);
	return e;
}

static anvil_err
bad(struct audit_verify *v, uint64_t line, const char *why, uint64_t seq)
{
	v->bad_line = line;
	if (seq != 0)
		snprintf(v->why, sizeof(v->why), "seq=%llu: %s", (unsigned long long)seq, why);
	else
		snprintf(v->why, sizeof(v->why), "%s", why);
	return AE_PARSE;
}

anvil_err
auditchain_verify(FILE *f, struct audit_verify *v)
{
	char line[AUDIT_LINE_MAX + 2], prev[AUDIT_HASH_HEX], calc[AUDIT_HASH_HEX];
	uint64_t lineno = 0, want = 1, seq;
	const char *p;
	size_t n;

	memset(v, 0, sizeof(*v));
	memcpy(prev, ZERO_HASH, sizeof(prev));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		n = strlen(line);
		if (n == 0 || line[n - 1] != '\n')
			return bad(v, lineno, n + 1 >= sizeof(line) ? "longer than any record"
			    : "torn: no end of line (a crash mid-write, or cut)", 0);
		line[--n] = '\0';
		if ((seq = line_seq(line, n)) == 0 || n < HASH_SUFFIX ||
		    memcmp(line + n - HASH_SUFFIX, " hash=", 6) != 0 || !is_hex64(line + n - 64) ||
		    (p = strstr(line, " prev=")) == NULL || p + 6 + 64 > line + n - HASH_SUFFIX)
			return bad(v, lineno, "not an audit record", 0);
		if (seq != want)
			return bad(v, lineno, "out of order: a record before it was deleted, inserted "
			    "or moved", seq);
		if (memcmp(p + 6, prev, 64) != 0)
			return bad(v, lineno, "prev is not the hash of the record before: a record was "
			    "deleted, inserted or moved", seq);
		sha256_hex(line, n - HASH_SUFFIX, calc);
		if (memcmp(calc, line + n - 64, 64) != 0)
			return bad(v, lineno, "its hash does not match its text: the record was "
			    "edited", seq);
		memcpy(prev, calc, sizeof(prev));
		want = seq + 1;
		v->records++;
		memcpy(v->head, calc, sizeof(v->head));
	}
	return ferror(f) ? AE_IO : AE_OK;
}
