/* The published responses as the responder reads them: ocsp.dir/<issuer>/<serial> (ocsp/
 * README.md), each parsed once for the times its caching headers need and then kept in a
 * per-worker cache. A request costs one fstatat(); the file is read again only when it was
 * replaced (another inode, size or mtime), which is how the publisher writes (rename). */
#ifndef ANVIL_OCSP_STORE_H
#define ANVIL_OCSP_STORE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "ocsp/request.h"

#define OCSP_RESPONSE_MAX 16384   /* bytes of one stored response */
#define OCSP_REL_MAX 96           /* "<issuer>/<serial hex>" */

struct ocsp_resp {
	char rel[OCSP_REL_MAX];       /* the key: path below ocsp.dir */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	int bad;                      /* not a usable response (logged once per version) */
	uint8_t *body;
	size_t len;
	int64_t this_update, next_update;
	char etag[40];                /* "\"" + 32 hex of SHA-256(body) + "\"" */
	char last_modified[40], expires[40];  /* HTTP-dates */
};

enum ocsp_lookup { OCSP_FOUND, OCSP_NO_FILE, OCSP_BAD_FILE };

struct ocsp_store;

/* dir: ocsp.dir (opened now, read later). NULL when it cannot be opened or memory is short. */
struct ocsp_store *ocsp_store_new(const char *dir);
void ocsp_store_free(struct ocsp_store *s);

/* The response for issuer's serial; *out points into the cache, valid until the next call. */
enum ocsp_lookup ocsp_store_get(struct ocsp_store *s, const char *issuer,
    const struct ocsp_certid *id, const struct ocsp_resp **out);

/* RFC 7231 IMF-fixdate of t into out (at least 30 bytes). */
void ocsp_http_date(int64_t t, char *out, size_t outsz);

#endif
