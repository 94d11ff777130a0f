#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "ca/journal.h"
#include "lib/log.h"

/* Record: magic[4] kind[1] slen[1] serial[20] hash[32] derlen[4] der[derlen] check[32], where
 * check is the SHA-256 of everything before it in the record. */
#define MAGIC "AJR1"
#define HDR (4 + 1 + 1 + 20 + 32 + 4)

struct entry {
	struct entry *next;
	uint8_t kind, slen, done;
	uint8_t serial[20];
	uint8_t hash[32];
	off_t off;        /* of the DER in the file */
	uint32_t derlen;
};

struct journal {
	int fd;
	int sync;
	pthread_mutex_t mu;       /* index, end, written */
	pthread_mutex_t sync_mu;  /* one fdatasync at a time */
	struct entry **tab;
	size_t nbuckets, n;
	off_t end;
	uint64_t written, synced;
	/* A failed fdatasync: what the file holds is unknown (the kernel may have dropped the
	 * dirty pages and a later fdatasync would succeed over the hole), and the failed record
	 * may be on disk: signing stops until a restart replays the file. */
	int failed;
	unsigned fail_sync_in;    /* tests: the nth fdatasync from now fails */
};

static size_t
slot_of(const struct journal *j, int kind, const uint8_t *s, size_t slen)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;

	for (size_t i = 0; i < slen; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return (size_t)(h % j->nbuckets);
}

static struct entry *
find(struct journal *j, int kind, const uint8_t *s, size_t slen)
{
	for (struct entry *e = j->tab[slot_of(j, kind, s, slen)]; e != NULL; e = e->next)
		if (e->kind == kind && e->slen == slen && memcmp(e->serial, s, slen) == 0)
			return e;
	return NULL;
}

static anvil_err
grow(struct journal *j)
{
	size_t nb = j->nbuckets * 2, old = j->nbuckets;
	struct entry **ot = j->tab, **nt = calloc(nb, sizeof(*nt));

	if (nt == NULL)
		return AE_NOMEM;
	j->tab = nt;
	j->nbuckets = nb;
	for (size_t i = 0; i < old; i++)
		for (struct entry *e = ot[i], *nx; e != NULL; e = nx) {
			size_t k = slot_of(j, e->kind, e->serial, e->slen);
			nx = e->next;
			e->next = nt[k];
			nt[k] = e;
		}
	free(ot);
	return AE_OK;
}

static anvil_err
insert(struct journal *j, int kind, const uint8_t *s, size_t slen, const uint8_t hash[32],
    struct entry **out)
{
	struct entry *e;
	size_t k;

	if (j->n >= j->nbuckets * 2 && grow(j) != AE_OK)
		return AE_NOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return AE_NOMEM;
	e->kind = (uint8_t)kind;
	e->slen = (uint8_t)slen;
	memcpy(e->serial, s, slen);
	memcpy(e->hash, hash, 32);
	k = slot_of(j, kind, s, slen);
	e->next = j->tab[k];
	j->tab[k] = e;
	j->n++;
	*out = e;
	return AE_OK;
}

static void
unlink_entry(struct journal *j, struct entry *victim)
{
	struct entry **pp = &j->tab[slot_of(j, victim->kind, victim->serial, victim->slen)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (*pp == victim) {
			*pp = victim->next;
			free(victim);
			j->n--;
			return;
		}
}

static int
read_full(int fd, void *p, size_t n, off_t off)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = pread(fd, b, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads and checks the record at off into rec; its total length, or 0 if it is not whole and
 * intact. */
static size_t
read_record(struct journal *j, uint8_t *rec, off_t off, off_t size)
{
	uint8_t check[32];
	uint32_t dl;

	if (size - off < HDR || read_full(j->fd, rec, HDR, off) != 0 || memcmp(rec, MAGIC, 4) != 0)
		return 0;
	dl = be32(rec + HDR - 4);
	if (dl > JOURNAL_DER_MAX || rec[5] == 0 || rec[5] > 20 ||
	    (rec[4] != J_PRECERT && rec[4] != J_CERT) || size - off < (off_t)(HDR + dl + 32) ||
	    read_full(j->fd, rec + HDR, dl + 32, off + HDR) != 0 ||
	    !EVP_Digest(rec, HDR + dl, check, NULL, EVP_sha256(), NULL) ||
	    memcmp(check, rec + HDR + dl, 32) != 0)
		return 0;
	return HDR + dl + 32;
}

/* Whether an intact record starts anywhere after off: then the damage at off is not a torn
 * tail but corruption in the middle, and cutting there would forget signed serials. */
static int
intact_record_after(struct journal *j, uint8_t *rec, off_t off, off_t size)
{
	uint8_t chunk[65536];

	for (off_t pos = off + 1; pos < size; pos += (off_t)sizeof(chunk) - 3) {
		size_t n = (size_t)(size - pos) < sizeof(chunk) ? (size_t)(size - pos) : sizeof(chunk);
		if (read_full(j->fd, chunk, n, pos) != 0)
			return 1;  /* unreadable: do not cut */
		for (size_t i = 0; i + 4 <= n; i++)
			if (memcmp(chunk + i, MAGIC, 4) == 0 &&
			    read_record(j, rec, pos + (off_t)i, size) > 0)
				return 1;
		if (n < sizeof(chunk))
			break;
	}
	return 0;
}

/* Replays every whole record. A torn last record (a crash mid-append) is cut off; damage
 * followed by intact records stops the start instead. */
static anvil_err
replay(struct journal *j, off_t size)
{
	uint8_t *rec = malloc(HDR + JOURNAL_DER_MAX + 32);
	off_t off = 0;
	anvil_err e = AE_OK;
	size_t n;

	if (rec == NULL)
		return AE_NOMEM;
	while (off < size && (n = read_record(j, rec, off, size)) > 0) {
		struct entry *en = find(j, rec[4], rec + 6, rec[5]);
		if (en == NULL && (e = insert(j, rec[4], rec + 6, rec[5], rec + 26, &en)) != AE_OK)
			goto out;
		en->done = 1;
		en->off = off + HDR;
		en->derlen = be32(rec + HDR - 4);
		off += (off_t)n;
	}
	if (off < size) {
		if (intact_record_after(j, rec, off, size)) {
			log_err("event=journal_corrupt offset=%lld hint=\"restore serials.journal from "
			    "backup; refusing to start rather than forget signed serials\"",
			    (long long)off);
			e = AE_IO;
			goto out;
		}
		log_warn("event=journal_truncate kept=%lld dropped=%lld reason=torn_tail",
		    (long long)off, (long long)(size - off));
		if (ftruncate(j->fd, off) != 0 || fsync(j->fd) != 0)
			e = AE_IO;
	}
	j->end = off;
out:
	free(rec);
	return e;
}

anvil_err
journal_open(const char *dir, int sync, struct journal **out, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));
	char path[4096];
	struct stat st;
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if (j == NULL)
		return AE_NOMEM;
	j->fd = -1;
	j->sync = sync;
	pthread_mutex_init(&j->mu, NULL);
	pthread_mutex_init(&j->sync_mu, NULL);
	j->nbuckets = 4096;
	if ((j->tab = calloc(j->nbuckets, sizeof(*j->tab))) == NULL)
		goto out;
	e = AE_IO;
	if ((size_t)snprintf(path, sizeof(path), "%s/serials.journal", dir) >= sizeof(path))
		goto out;
	if ((j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || fstat(j->fd, &st) != 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if ((e = replay(j, st.st_size)) != AE_OK) {
		snprintf(err, errlen, "cannot replay %s: %s", path, anvil_strerror(e));
		goto out;
	}
	*out = j;
	j = NULL;
	e = AE_OK;
out:
	journal_close(j);
	return e;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; j->tab != NULL && i < j->nbuckets; i++)
		for (struct entry *e = j->tab[i], *nx; e != NULL; e = nx) {
			nx = e->next;
			free(e);
		}
	free(j->tab);
	if (j->fd >= 0)
		close(j->fd);
	pthread_mutex_destroy(&j->mu);
	pthread_mutex_destroy(&j->sync_mu);
	free(j);
}

static anvil_err
read_der(struct journal *j, const struct entry *en, uint8_t **der, size_t *derlen)
{
	uint8_t *p = malloc(en->derlen ? en->derlen : 1);

	if (p == NULL)
		return AE_NOMEM;
	if (read_full(j->fd, p, en->derlen, en->off) != 0) {
		free(p);
		return AE_IO;
	}
	*der = p;
	*derlen = en->derlen;
	return AE_OK;
}

anvil_err
journal_reserve(struct journal *j, int kind, const uint8_t *serial, size_t slen,
    const uint8_t hash[32], uint8_t **der, size_t *derlen)
{
	struct entry *en, copy;
	anvil_err e;

	if (slen == 0 || slen > 20)
		return AE_SIGNER_SERIAL;
	pthread_mutex_lock(&j->mu);
	en = find(j, kind, serial, slen);
	if (j->failed && (en == NULL || !en->done)) {
		/* Only what was made durable before the failure is still answered. */
		pthread_mutex_unlock(&j->mu);
		return AE_IO;
	}
	if (en == NULL) {
		e = insert(j, kind, serial, slen, hash, &en);
		pthread_mutex_unlock(&j->mu);
		return e;
	}
	copy = *en;
	pthread_mutex_unlock(&j->mu);
	if (memcmp(copy.hash, hash, 32) != 0)
		return AE_SIGNER_DUPLICATE;
	if (!copy.done)
		return AE_BUSY;
	e = read_der(j, &copy, der, derlen);
	return e == AE_OK ? AE_EXISTS : e;
}

void
journal_release(struct journal *j, int kind, const uint8_t *serial, size_t slen)
{
	struct entry *en;

	pthread_mutex_lock(&j->mu);
	/* After a failed sync the claim stays: its record may be in the file, and a restart
	 * replays it; forgetting it here would let the serial be signed again meanwhile. */
	if ((en = find(j, kind, serial, slen)) != NULL && !en->done && !j->failed)
		unlink_entry(j, en);
	pthread_mutex_unlock(&j->mu);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int
sync_file(struct journal *j)
{
	if (j->fail_sync_in > 0 && --j->fail_sync_in == 0) {
		errno = EIO;
		return -1;
	}
	return fdatasync(j->fd);
}

anvil_err
journal_commit(struct journal *j, int kind, const uint8_t *serial, size_t slen,
    const uint8_t *der, size_t derlen)
{
	uint8_t *rec = NULL;
	size_t n = HDR + derlen + 32, off = 0;
	struct entry *en;
	uint64_t seq = 0, target;
	anvil_err e = AE_TOOBIG;

	if (derlen > JOURNAL_DER_MAX)
		goto out;
	e = AE_NOMEM;
	if ((rec = calloc(1, n)) == NULL)
		goto out;
	memcpy(rec, MAGIC, 4);
	rec[4] = (uint8_t)kind;
	rec[5] = (uint8_t)slen;
	memcpy(rec + 6, serial, slen);
	pthread_mutex_lock(&j->mu);
	en = find(j, kind, serial, slen);
	if (en == NULL || en->done) {
		pthread_mutex_unlock(&j->mu);
		e = AE_INTERNAL;
		goto out;
	}
	if (j->failed) {
		pthread_mutex_unlock(&j->mu);
		e = AE_IO;
		goto out;
	}
	memcpy(rec + 26, en->hash, 32);
	put32(rec + HDR - 4, (uint32_t)derlen);
	memcpy(rec + HDR, der, derlen);
	EVP_Digest(rec, HDR + derlen, rec + HDR + derlen, NULL, EVP_sha256(), NULL);
	/* Appends happen under the index lock, so file order is commit order. */
	while (off < n) {
		ssize_t w = pwrite(j->fd, rec + off, n - off, j->end + (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off != n) {
		/* Leave no half record behind that a later append would follow. */
		if (ftruncate(j->fd, j->end) != 0)
			log_err("event=journal_truncate_failed errno=%d", errno);
		pthread_mutex_unlock(&j->mu);
		e = AE_IO;
		goto out;
	}
	en->off = j->end + HDR;
	en->derlen = (uint32_t)derlen;
	j->end += (off_t)n;
	seq = ++j->written;
	pthread_mutex_unlock(&j->mu);
	e = AE_OK;
	if (j->sync) {
		pthread_mutex_lock(&j->sync_mu);
		pthread_mutex_lock(&j->mu);
		target = j->written;
		/* A record appended before a failed sync is not durable, whoever syncs next. */
		if (j->failed)
			e = AE_IO;
		pthread_mutex_unlock(&j->mu);
		if (e == AE_OK && j->synced < seq) {
			if (sync_file(j) == 0)
				j->synced = target;
			else {
				log_err("event=journal_sync_failed errno=%d: signing stops until "
				    "anvil-signer is restarted (the journal is replayed then)", errno);
				pthread_mutex_lock(&j->mu);
				j->failed = 1;
				pthread_mutex_unlock(&j->mu);
				e = AE_IO;
			}
		}
		pthread_mutex_unlock(&j->sync_mu);
	}
	if (e == AE_OK) {
		pthread_mutex_lock(&j->mu);
		en->done = 1;
		pthread_mutex_unlock(&j->mu);
	}
out:
	free(rec);
	return e;
}

anvil_err
journal_get(struct journal *j, int kind, const uint8_t *serial, size_t slen, uint8_t **der,
    size_t *derlen)
{
	struct entry *en, copy;

	pthread_mutex_lock(&j->mu);
	en = find(j, kind, serial, slen);
	if (en != NULL)
		copy = *en;
	pthread_mutex_unlock(&j->mu);
	if (en == NULL || !copy.done)
		return AE_NOTFOUND;
	return read_der(j, &copy, der, derlen);
}

uint64_t
journal_count(struct journal *j)
{
	uint64_t n;

	pthread_mutex_lock(&j->mu);
	n = j->written;
	pthread_mutex_unlock(&j->mu);
	return n;
}

int
journal_failed(struct journal *j)
{
	int f;

	pthread_mutex_lock(&j->mu);
	f = j->failed;
	pthread_mutex_unlock(&j->mu);
	return f;
}

void
journal_test_fail_sync(struct journal *j, unsigned n)
{
	pthread_mutex_lock(&j->sync_mu);
	j->fail_sync_in = n;
	pthread_mutex_unlock(&j->sync_mu);
}
