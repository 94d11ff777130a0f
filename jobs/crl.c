#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ca/client.h"
#include "ca/profile.h"
#include "db/crl.h"
#include "jobs/crl.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "ocsp/conf.h"
#include "lib/hex.h"

/* The signed CRL must fit one reply frame: an entry takes at most 60 bytes of DER (a 20-byte
 * serial, a GeneralizedTime, a reason), its request 33. */
#define ENTRIES_MAX ((PROTO_FRAME_MAX - 65536) / 60 < PROTO_CRL_ENTRIES_MAX ? \
    (PROTO_FRAME_MAX - 65536) / 60 : PROTO_CRL_ENTRIES_MAX)
#define SIGN_BUDGET_MS 10000
#define RETRY_S 5           /* a failed build is tried again this much later */
#define WRITE_MARGIN_S 2    /* lease left when the file is written, at least */

struct jobs_crl {
	char owner[128];
	struct ocsp_conf ocsp;
	struct crl_conf crl;
	struct signer_conf *policy;
	const char *signer_socket;
	int64_t lease, poll;
	struct db *db;
	struct signer_client *signer;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked, stop;       /* under mu */
};

static int
publishes(const struct issuer *is)
{
	return is->parent != NULL && is->crl_url != NULL;
}

anvil_err
jobs_crl_new(const struct db_conf *dbc, json_object *root, struct conf_ctx *cc,
    const char *owner, int64_t poll, struct jobs_crl **out)
{
	struct jobs_crl *c = NULL;
	json_object *sig = NULL;
	size_t n = 0;
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->policy = calloc(1, sizeof(*c->policy))) == NULL)
		goto fail;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	snprintf(c->owner, sizeof(c->owner), "%s", owner);
	c->poll = poll;
	if ((e = ocsp_conf_parse(cc, root, &c->ocsp, &c->crl)) != AE_OK)
		goto fail;
	if (!c->crl.present) {
		e = AE_NOTFOUND;
		goto fail;
	}
	if ((e = conf_get_object(cc, root, "", "signer", 0, &sig)) != AE_OK)
		goto fail;
	if (sig == NULL || !json_object_object_get_ex(root, "issuers", NULL)) {
		/* Nothing signs here (a deployment without its CA yet): nothing to publish. */
		log_warn("crl: no signer or issuers section: no CRL is published");
		e = AE_NOTFOUND;
		goto fail;
	}
	if ((e = signer_conf_parse(cc, root, SIGNER_CONF_POLICY, c->policy)) != AE_OK)
		goto fail;
	if ((e = conf_get_string(cc, sig, "signer", "socket", 1, &c->signer_socket)) != AE_OK)
		goto fail;
	for (size_t i = 0; i < c->policy->nissuers; i++)
		n += publishes(&c->policy->issuers[i]);
	if (n == 0) {
		e = AE_NOTFOUND;
		goto fail;
	}
	/* Short enough that a runner killed mid-build leaves the shard to the next one well
	 * within the revocation bound. */
	c->lease = c->ocsp.revocation_bound / 4;
	if (c->lease < 5)
		c->lease = 5;
	if ((e = db_new(dbc, &c->db)) != AE_OK ||
	    (e = signer_client_new(c->signer_socket, &c->signer)) != AE_OK)
		goto fail;
	*out = c;
	return AE_OK;
fail:
	jobs_crl_free(c);
	return e;
}

static int
stopping(struct jobs_crl *c)
{
	int s;

	pthread_mutex_lock(&c->mu);
	s = c->stop;
	pthread_mutex_unlock(&c->mu);
	return s;
}

static int
file_path(const struct jobs_crl *c, char *out, size_t cap, const char *issuer, int64_t shard)
{
	int n = shard < 0 ? snprintf(out, cap, "%s/%s", c->crl.dir, issuer) :
	    snprintf(out, cap, "%s/%s/%lld.crl", c->crl.dir, issuer, (long long)shard);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Every (issuer, shard) a certificate can name gets a row; a shard whose file is missing is
 * due at once, so every CRL distribution point answers from the start. */
static anvil_err
ensure_shards(struct jobs_crl *c)
{
	char path[4096];
	anvil_err e = AE_OK;

	if (mkdir(c->crl.dir, 0755) != 0 && errno != EEXIST) {
		log_err("crl.dir %s: cannot create: %s", c->crl.dir, strerror(errno));
		return AE_IO;
	}
	for (size_t i = 0; i < c->policy->nissuers; i++) {
		const struct issuer *is = &c->policy->issuers[i];
		if (!publishes(is))
			continue;
		if (file_path(c, path, sizeof(path), is->name, -1) != 0)
			return AE_TOOBIG;
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			log_err("crl.dir: cannot create %s: %s", path, strerror(errno));
			return AE_IO;
		}
		if ((e = db_begin(c->db)) != AE_OK)
			return e;
		for (int64_t s = 0; s < is->crl_shards && e == AE_OK; s++) {
			if (file_path(c, path, sizeof(path), is->name, s) != 0)
				e = AE_TOOBIG;
			else
				e = db_crl_shard_ensure(c->db, is->name, s, access(path, F_OK) != 0);
		}
		if (e == AE_OK)
			e = db_commit(c->db);
		if (e != AE_OK) {
			db_rollback(c->db);
			return e;
		}
	}
	return AE_OK;
}

struct entries {
	struct crl_entry *v;
	size_t n, cap;
	anvil_err bad;
};

static anvil_err
add_entry(void *arg, const struct db_crl_entry *en)
{
	struct entries *es = arg;
	struct crl_entry *x;
	size_t len = strlen(en->serial);

	if (es->n == es->cap) {
		size_t ncap = es->cap ? es->cap * 2 : 64;
		struct crl_entry *p = reallocarray(es->v, ncap, sizeof(*p));
		if (p == NULL)
			return AE_NOMEM;
		es->v = p;
		es->cap = ncap;
	}
	x = &es->v[es->n];
	memset(x, 0, sizeof(*x));
	/* The serial column is written by us, but a bad row must not stop a whole shard. */
	if (len == 0 || len > 2 * PROTO_SERIAL_MAX || len % 2 != 0) {
		es->bad = AE_PARSE;
		return AE_OK;
	}
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(en->serial[2 * i]), lo = hex_digit(en->serial[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			es->bad = AE_PARSE;
			return AE_OK;
		}
		x->serial[i] = (uint8_t)(hi << 4 | lo);
	}
	x->serial_len = (uint8_t)(len / 2);
	x->revoked_at = en->revoked_at > 0 ? (uint64_t)en->revoked_at : 0;
	x->reason = en->reason < 0 || en->reason > 10 || en->reason == 7 ? REASON_NONE :
	    (uint8_t)en->reason;
	es->n++;
	return AE_OK;
}

/* Builds, signs, writes and records one claimed shard. */
static anvil_err
build(struct jobs_crl *c, struct db_crl_shard *s)
{
	const struct issuer *is = conf_issuer(c->policy, s->issuer);
	struct entries es = { NULL, 0, 0, AE_OK };
	struct request req;
	struct buf der;
	char path[4096];
	uint32_t retry_ms = 0;
	int64_t now = (int64_t)time(NULL);
	anvil_err e;

	buf_init(&der, PROTO_FRAME_MAX);
	memset(&req, 0, sizeof(req));
	if (is == NULL || !publishes(is) || s->shard >= is->crl_shards) {
		/* A shard of an issuer this configuration no longer publishes: leave it be. */
		log_warn("crl issuer=%s shard=%lld: not in this configuration (issuers.%s), skipped",
		    s->issuer, (long long)s->shard, s->issuer);
		e = AE_NOTFOUND;
		goto out;
	}
	if ((e = db_crl_revoked(c->db, s->issuer, s->shard, ENTRIES_MAX, add_entry, &es))
	    != AE_OK) {
		if (e == AE_TOOBIG)
			log_err("crl issuer=%s shard=%lld: over %d revoked serials: raise "
			    "issuers.%s.crl_shards for new certificates", s->issuer,
			    (long long)s->shard, (int)ENTRIES_MAX, s->issuer);
		goto out;
	}
	if (es.bad != AE_OK)
		log_err("crl issuer=%s shard=%lld: a cert_status row has a malformed serial, "
		    "left out", s->issuer, (long long)s->shard);
	req.op = OP_CRL;
	req.deadline_ms = clock_wall_ms() + SIGN_BUDGET_MS;
	if (strlen(s->issuer) >= sizeof(req.u.crl.issuer))
		goto out;   /* not a key of issuers: crl_shards rows come from the config */
	memcpy(req.u.crl.issuer, s->issuer, strlen(s->issuer) + 1);
	/* Derived from thisUpdate, so it grows without state; past the stored one in any case
	 * (two builds within a second, a clock stepped back). */
	req.u.crl.number = (uint64_t)(now > s->crl_number ? now : s->crl_number + 1);
	req.u.crl.this_update = (uint64_t)now;
	req.u.crl.next_update = (uint64_t)(now + c->crl.validity);
	if ((size_t)snprintf(req.u.crl.idp, sizeof(req.u.crl.idp), "%s%lld.crl", is->crl_url,
	    (long long)s->shard) >= sizeof(req.u.crl.idp)) {
		log_err("crl issuers.%s.crl_url: too long", s->issuer);
		e = AE_CONFIG;
		goto out;
	}
	req.u.crl.entries = es.v;
	req.u.crl.nentries = es.n;
	if ((e = signer_call(c->signer, &req, &der, &retry_ms)) != AE_OK) {
		log_warn("crl issuer=%s shard=%lld: signer: %s", s->issuer, (long long)s->shard,
		    anvil_strerror(e));
		goto out;
	}
	/* A runner that stalled past its lease must not overwrite a newer CRL. */
	if ((e = db_crl_lease_check(c->db, s->issuer, s->shard, c->owner,
	    (int64_t)time(NULL) + WRITE_MARGIN_S)) != AE_OK) {
		log_warn("crl issuer=%s shard=%lld: lease lost before writing", s->issuer,
		    (long long)s->shard);
		goto out;
	}
	if (file_path(c, path, sizeof(path), s->issuer, s->shard) != 0) {
		e = AE_TOOBIG;
		goto out;
	}
	if ((e = file_write_durable(path, der.data, der.len, 0644, 0)) != AE_OK) {
		log_err("crl.dir: cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	s->this_update = now;
	s->next_update = now + c->crl.validity;
	s->crl_number = (int64_t)req.u.crl.number;
	if ((e = db_crl_published(c->db, s, c->owner, now + c->crl.interval)) != AE_OK) {
		log_warn("crl issuer=%s shard=%lld: published, but not recorded: %s", s->issuer,
		    (long long)s->shard, anvil_strerror(e));
		goto out;
	}
	log_info("crl issuer=%s shard=%lld number=%lld entries=%zu bytes=%zu", s->issuer,
	    (long long)s->shard, (long long)s->crl_number, es.n, der.len);
out:
	/* Failed: due again soon; a shard this configuration does not know, at the next
	 * scheduled time (another runner's configuration may know it). */
	if (e != AE_OK && e != AE_DENIED)
		(void)db_crl_release(c->db, s->issuer, s->shard, c->owner, (int64_t)time(NULL) +
		    (e == AE_NOTFOUND ? c->crl.interval : RETRY_S));
	free(es.v);
	buf_free(&der);
	return e;
}

/* Claims and builds until nothing is due; returns the seconds to wait before looking again.
 * Every wake-up of the runner reaches here (validations and issuances wake it too), so a
 * plain indexed read decides whether a claim's transaction is worth it. */
static int64_t
work(struct jobs_crl *c)
{
	struct db_crl_shard batch[DB_CRL_CLAIM_MAX];
	int64_t now, due = 0;
	size_t n = 0;
	anvil_err e;

	for (;;) {
		if (stopping(c))
			return 0;
		now = (int64_t)time(NULL);
		/* The next shard due, or a dead runner's lease ending (a claim sets due_at to
		 * the end of its lease). */
		if ((e = db_crl_next_due(c->db, &due)) == AE_NOTFOUND)
			return c->poll;
		if (e != AE_OK) {
			log_warn("crl: reading crl_shards: %s (%s)", anvil_strerror(e),
			    db_error(c->db));
			return 1;
		}
		if (due > now)
			return due - now < c->poll ? due - now : c->poll;
		e = db_crl_claim(c->db, c->owner, now, now + c->lease, DB_CRL_CLAIM_MAX, batch, &n);
		/* Due but leased: a revocation came during another runner's build. */
		if (e == AE_NOTFOUND)
			return 1;
		if (e != AE_OK) {
			log_warn("crl: claiming shards: %s (%s)", anvil_strerror(e), db_error(c->db));
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			(void)build(c, &batch[i]);
	}
}

static void *
crl_main(void *arg)
{
	struct jobs_crl *c = arg;
	int ensured = 0;

	while (!stopping(c)) {
		int64_t wait = 1;
		struct timespec ts;

		if (!ensured) {
			anvil_err e = ensure_shards(c);
			if (e == AE_OK)
				ensured = 1;
			else
				wait = c->poll;
			if (e != AE_OK)
				log_warn("crl: cannot list the shards yet: %s (%s)", anvil_strerror(e),
				    db_error(c->db));
		}
		if (ensured)
			wait = work(c);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait;
		pthread_mutex_lock(&c->mu);
		while (!c->stop && !c->kicked)
			if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
				break;
		c->kicked = 0;
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

anvil_err
jobs_crl_start(struct jobs_crl *c)
{
	sigset_t all, old;
	anvil_err e = AE_OK;

	log_info("crl: publishing to %s, validity %llds, every %llds, lease %llds", c->crl.dir,
	    (long long)c->crl.validity, (long long)c->crl.interval, (long long)c->lease);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&c->th, NULL, crl_main, c) != 0)
		e = AE_NOMEM;
	else
		c->started = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

void
jobs_crl_kick(void *arg)
{
	struct jobs_crl *c = arg;

	pthread_mutex_lock(&c->mu);
	c->kicked = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void
jobs_crl_free(struct jobs_crl *c)
{
	if (c == NULL)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->th, NULL);
	}
	signer_client_free(c->signer);
	db_free(c->db);
	if (c->policy != NULL)
		signer_conf_free(c->policy);
	free(c->policy);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
