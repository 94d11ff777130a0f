#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include "lib/log.h"
#include "ocsp/store.h"
#include "lib/hex.h"

/* Direct-mapped: a collision costs one re-read, never a wrong answer (the key is compared). */
#define SLOTS 4096

struct ocsp_store {
	int dirfd;
	struct ocsp_resp slot[SLOTS];
};

struct ocsp_store *
ocsp_store_new(const char *dir)
{
	struct ocsp_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if ((s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_err("ocsp.dir %s: %s", dir, strerror(errno));
		free(s);
		return NULL;
	}
	return s;
}

void
ocsp_store_free(struct ocsp_store *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < SLOTS; i++)
		free(s->slot[i].body);
	close(s->dirfd);
	free(s);
}

void
ocsp_http_date(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, outsz, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		snprintf(out, outsz, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static int
asn1_time_unix(const ASN1_GENERALIZEDTIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* The serial in an OpenSSL INTEGER is the magnitude without leading zeros, as ours. */
static int
serial_is(const ASN1_INTEGER *a, const struct ocsp_certid *id)
{
	return a != NULL && ASN1_STRING_type(a) == V_ASN1_INTEGER &&
	    (size_t)ASN1_STRING_length(a) == id->serial_len &&
	    memcmp(ASN1_STRING_get0_data(a), id->serial, id->serial_len) == 0;
}

/* The response must be a successful basic response with a SingleResponse for this serial that
 * has both times (RFC 5019 §2.2.4: nextUpdate is what caches go by). Only our own files are
 * parsed here, with OpenSSL; the request (untrusted) never is. */
static int
parse_times(struct ocsp_resp *r, const struct ocsp_certid *id)
{
	const unsigned char *p = r->body;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)r->len);
	OCSP_BASICRESP *bs = NULL;
	int rc = -1;

	if (resp == NULL || p != r->body + r->len ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL)
		goto out;
	for (int i = 0; i < OCSP_resp_count(bs); i++) {
		OCSP_SINGLERESP *sr = OCSP_resp_get0(bs, i);
		ASN1_INTEGER *serial = NULL;
		ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
		int reason;

		if (OCSP_id_get0_info(NULL, NULL, NULL, &serial,
		    (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(sr)) != 1 || !serial_is(serial, id) ||
		    OCSP_single_get0_status(sr, &reason, &rev, &thisu, &nextu) < 0)
			continue;
		if (asn1_time_unix(thisu, &r->this_update) == 0 &&
		    asn1_time_unix(nextu, &r->next_update) == 0 &&
		    r->next_update > r->this_update) {
			rc = 0;
			break;
		}
	}
out:
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return rc;
}

static void
etag_of(struct ocsp_resp *r)
{
	uint8_t md[32];
	unsigned int n = 0;
	size_t k = 1;

	r->etag[0] = '"';
	if (EVP_Digest(r->body, r->len, md, &n, EVP_sha256(), NULL) == 1) {
		hex_encode(md, 16, r->etag + 1);
		k += 32;
	}
	r->etag[k++] = '"';
	r->etag[k] = '\0';
}

/* Reads the file into slot r (whose key is set). */
static enum ocsp_lookup
load(struct ocsp_store *s, struct ocsp_resp *r, const struct ocsp_certid *id)
{
	struct stat st;
	ssize_t got;
	size_t have = 0;
	int fd;

	free(r->body);
	r->body = NULL;
	r->len = 0;
	r->bad = 0;
	r->ino = 0;
	if ((fd = openat(s->dirfd, r->rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return OCSP_NO_FILE;
		log_warn("ocsp.dir: %s: %s", r->rel, strerror(errno));
		return OCSP_BAD_FILE;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > OCSP_RESPONSE_MAX || (r->body = malloc((size_t)st.st_size)) == NULL)
		goto bad;
	while (have < (size_t)st.st_size) {
		got = read(fd, r->body + have, (size_t)st.st_size - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	r->len = have;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->size = st.st_size;
	r->mtim = st.st_mtim;
	if (have != (size_t)st.st_size || parse_times(r, id) != 0)
		goto bad;
	close(fd);
	etag_of(r);
	ocsp_http_date(r->this_update, r->last_modified, sizeof(r->last_modified));
	ocsp_http_date(r->next_update, r->expires, sizeof(r->expires));
	return OCSP_FOUND;
bad:
	close(fd);
	free(r->body);
	r->body = NULL;
	r->len = 0;
	r->bad = 1;
	log_warn("ocsp.dir: %s is not a usable OCSP response for its serial (answering "
	    "internalError until it is replaced)", r->rel);
	return OCSP_BAD_FILE;
}

enum ocsp_lookup
ocsp_store_get(struct ocsp_store *s, const char *issuer, const struct ocsp_certid *id,
    const struct ocsp_resp **out)
{
	char rel[OCSP_REL_MAX], hex[2 * OCSP_SERIAL_MAX + 1];
	uint32_t h = 2166136261u;
	struct ocsp_resp *r;
	struct stat st;
	enum ocsp_lookup l;
	int n;

	*out = NULL;
	ocsp_serial_hex(id, hex);
	n = snprintf(rel, sizeof(rel), "%s/%s", issuer, hex);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return OCSP_NO_FILE;
	for (const char *p = rel; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	r = &s->slot[h % SLOTS];
	if (fstatat(s->dirfd, rel, &st, 0) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return OCSP_NO_FILE;
		return OCSP_BAD_FILE;
	}
	if (strcmp(r->rel, rel) == 0 && r->ino == st.st_ino && r->dev == st.st_dev &&
	    r->size == st.st_size && r->mtim.tv_sec == st.st_mtim.tv_sec &&
	    r->mtim.tv_nsec == st.st_mtim.tv_nsec) {
		if (r->bad)
			return OCSP_BAD_FILE;
		*out = r;
		return OCSP_FOUND;
	}
	memcpy(r->rel, rel, (size_t)n + 1);
	if ((l = load(s, r, id)) != OCSP_FOUND) {
		/* Vanished since the stat, or could not be opened (e.g. out of descriptors):
		 * nothing to remember. */
		if (!r->bad) {
			r->rel[0] = '\0';
			return l;
		}
		/* A bad file: keep its identity so the next request does not log again. */
		r->dev = st.st_dev;
		r->ino = st.st_ino;
		r->size = st.st_size;
		r->mtim = st.st_mtim;
		return OCSP_BAD_FILE;
	}
	*out = r;
	return OCSP_FOUND;
}
