/* anvilctl bench-signer: how fast the HSM signs, how much of that the signer daemon keeps, and
 * what it means in certificates per second (doc/signer.md).
 *
 *  1. raw PKCS#11 signatures/s per issuer key at 1..N sessions (one thread per session);
 *  2. the same through the daemon's socket (OCSP requests: one signature each), as a ratio of
 *     the raw rate at the daemon's session count, with its queueing delay and resident memory;
 *  3. whole issuances through the daemon: precertificate + certificate + OCSP with CT,
 *     certificate + OCSP without, and the certificates/s ceiling each implies. */
#include "config.h"
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include "ca/client.h"
#include "ca/p11.h"
#include "ca/profile.h"
#include "lib/clock.h"
#include "lib/num.h"
#include "ocsp/conf.h"
#include "tools/anvilctl/ctl.h"

#define LAT_BUCKETS 20000  /* 10 us each: up to 200 ms, the rest in the last bucket */

struct bench {
	struct signer_conf sc;
	struct ocsp_conf ocsp;    /* the responses' times, as issuance and refresh sign them */
	struct crl_conf crl;
	struct p11_module m;
	int seconds, max_sessions, clients, repeat;
	const char *only_issuer;
	int raw_only;
};

struct runner {
	struct bench *b;
	const struct issuer *is;
	const struct profile *prof;
	int mode;  /* 0 raw, 1 daemon ocsp, 2 daemon issuance */
	volatile int *stop;
	uint64_t ops, errors, busy;
	uint32_t *lat;
	pthread_t tid;
};

/* thisUpdate and nextUpdate as ocsp/sign.c sets them, so the signer's bounds treat the
 * benchmark's responses as they treat real ones. */
static void
ocsp_times(const struct bench *b, struct ocsp_req *o)
{
	o->this_update = (uint64_t)(time(NULL) - b->ocsp.backdate);
	o->next_update = o->this_update + (uint64_t)b->ocsp.validity;
}

static void
record(struct runner *r, uint64_t us)
{
	uint64_t b = us / 10;
	r->lat[b >= LAT_BUCKETS ? LAT_BUCKETS - 1 : b]++;
}

static void *
raw_main(void *arg)
{
	struct runner *r = arg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	uint8_t dg[32], sig[1024];
	anvil_err e;

	memset(dg, 0x5a, sizeof(dg));
	if (p11_session_open(&r->b->m, r->b->sc.pin, 0, &s, NULL) != AE_OK) {
		r->errors++;
		return NULL;
	}
	e = p11_find(&r->b->m, s, CKO_PRIVATE_KEY, r->is->key_label,
	    r->is->key_id_len ? r->is->key_id : NULL, r->is->key_id_len, &key, NULL);
	while (e == AE_OK && !*r->stop) {
		size_t sl = sizeof(sig);
		uint64_t t0 = clock_mono_us();
		if (p11_sign_digest(&r->b->m, s, key, r->is->key_type, NID_sha256, dg, 32, sig, &sl,
		    NULL) != AE_OK) {
			r->errors++;
			break;
		}
		record(r, clock_mono_us() - t0);
		r->ops++;
	}
	if (e != AE_OK)
		r->errors++;
	p11_session_close(&r->b->m, s);
	return NULL;
}

static void
rand_serial(uint8_t *s)
{
	RAND_bytes(s, 16);
	s[0] = (uint8_t)((s[0] & 0x7f) | 1);
}

/* One call, retried while the signer says busy (counted). */
static anvil_err
call(struct runner *r, struct signer_client *c, struct request *q)
{
	struct buf out;
	uint32_t retry = 0;
	anvil_err e;

	buf_init(&out, PROTO_FRAME_MAX);
	for (;;) {
		q->deadline_ms = clock_wall_ms() + 10000;
		buf_reset(&out);
		e = signer_call(c, q, &out, &retry);
		if (e != AE_BUSY || *r->stop)
			break;
		r->busy++;
		usleep(retry > 100 ? 100000 : retry * 1000 + 100);
	}
	buf_free(&out);
	return e;
}

/* A certificate (after its precertificate on a CT profile) for serial. */
static anvil_err
issue_one(struct runner *r, struct signer_client *c, const struct profile *prof,
    const uint8_t serial[16], const uint8_t *spki, int spki_len, struct ident *id)
{
	struct request q;
	struct cert_req *cr = &q.u.cert;
	uint8_t sct[64];
	anvil_err e = AE_OK;

	/* A syntactically valid one-entry SCT list. */
	memset(sct, 0, sizeof(sct));
	sct[1] = 50;
	sct[3] = 48;
	memset(&q, 0, sizeof(q));
	snprintf(cr->profile, sizeof(cr->profile), "%s", prof->name);
	memcpy(cr->serial, serial, 16);
	cr->serial_len = 16;
	cr->spki = spki;
	cr->spki_len = (size_t)spki_len;
	cr->ids = id;
	cr->nids = 1;
	cr->not_before = (uint64_t)time(NULL);
	cr->not_after = cr->not_before + 86400;
	if (prof->ct) {
		q.op = OP_PRECERT;
		e = call(r, c, &q);
		cr->sct = sct;
		cr->sct_len = 52;
	}
	if (e == AE_OK) {
		q.op = OP_CERT;
		e = call(r, c, &q);
	}
	return e;
}

/* A good response for serial (which the signer must have signed: it refuses others). */
static anvil_err
ocsp_one(struct runner *r, struct signer_client *c, const struct issuer *is,
    const uint8_t serial[16])
{
	struct request q;

	memset(&q, 0, sizeof(q));
	q.op = OP_OCSP;
	snprintf(q.u.ocsp.issuer, sizeof(q.u.ocsp.issuer), "%s", is->name);
	memcpy(q.u.ocsp.serial, serial, 16);
	q.u.ocsp.serial_len = 16;
	q.u.ocsp.reason = REASON_NONE;
	ocsp_times(r->b, &q.u.ocsp);
	return call(r, c, &q);
}

static void *
daemon_main(void *arg)
{
	struct runner *r = arg;
	struct signer_client *c = NULL;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	const struct profile *prof = r->prof;
	uint8_t spki[256], fixed[16];
	unsigned char *p = spki;
	struct ident id;
	char name[300];
	int spki_len;

	if (k == NULL || signer_client_new(r->b->sc.socket_path, &c) != AE_OK) {
		r->errors++;
		goto out;
	}
	spki_len = i2d_PUBKEY(k, &p);
	/* OCSP alone: responses for one certificate of a profile of this issuer. */
	for (size_t i = 0; prof == NULL && i < r->b->sc.nprofiles; i++)
		if (r->b->sc.profiles[i].issuer == r->is)
			prof = &r->b->sc.profiles[i];
	if (prof == NULL) {
		fprintf(stderr, "bench-signer: no profile of issuer %s to sign a certificate for "
		    "its OCSP responses\n", r->is->name);
		r->errors++;
		goto out;
	}
	/* A name inside the profile's policy. */
	snprintf(name, sizeof(name), "bench.%s", prof->n_dns_suffixes ?
	    prof->dns_suffixes[0] : "example.com");
	memset(&id, 0, sizeof(id));
	id.type = ID_DNS;
	id.len = (uint8_t)strlen(name);
	memcpy(id.val, name, id.len + 1);
	if (r->mode == 1) {
		rand_serial(fixed);
		if (issue_one(r, c, prof, fixed, spki, spki_len, &id) != AE_OK) {
			fprintf(stderr, "bench-signer: cannot sign a certificate for the OCSP run\n");
			r->errors++;
			goto out;
		}
	}
	while (!*r->stop) {
		uint64_t t0 = clock_mono_us();
		anvil_err e;
		if (r->mode == 1) {
			e = ocsp_one(r, c, r->is, fixed);
		} else {
			uint8_t serial[16];
			rand_serial(serial);
			e = issue_one(r, c, prof, serial, spki, spki_len, &id);
			if (e == AE_OK)
				e = ocsp_one(r, c, prof->issuer, serial);
		}
		if (e != AE_OK) {
			if (r->errors++ == 0)
				fprintf(stderr, "bench-signer: request failed: %s\n", anvil_strerror(e));
			if (r->errors > 100)
				break;
			continue;
		}
		record(r, clock_mono_us() - t0);
		r->ops++;
	}
out:
	signer_client_free(c);
	EVP_PKEY_free(k);
	return NULL;
}

struct result {
	double rate;
	double cpu_us;  /* CPU per operation: ours for raw, the daemon's for daemon runs */
	uint64_t p50, p99, errors, busy;
};

static long daemon_pid;

/* CPU time used so far, in us: this process (raw runs) or the daemon (from /proc). */
static uint64_t
cpu_us(int of_daemon)
{
	char path[64], line[1024], *p, *end;
	unsigned long long ut = 0, st = 0;
	struct rusage ru;
	FILE *f;

	if (!of_daemon) {
		getrusage(RUSAGE_SELF, &ru);
		return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", daemon_pid);
	if (daemon_pid <= 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* Fields 14 and 15 (utime, stime), counted after the ")" that ends the command name. */
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return 0;
	for (int field = 2; field < 14 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return 0;
	ut = strtoull(p + 1, &end, 10);
	st = strtoull(end, NULL, 10);
	return (uint64_t)((ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Runs n runners of one kind for the configured time. */
static struct result
run(struct bench *b, const struct issuer *is, const struct profile *prof, int mode, int n)
{
	struct runner *rs = calloc((size_t)n, sizeof(*rs));
	uint32_t *lat = calloc(LAT_BUCKETS, sizeof(*lat));
	volatile int stop = 0;
	struct result res;
	uint64_t t0, t1, total = 0, seen = 0, c0, c1;

	memset(&res, 0, sizeof(res));
	if (rs == NULL || lat == NULL)
		goto out;
	for (int i = 0; i < n; i++) {
		rs[i].b = b;
		rs[i].is = is;
		rs[i].prof = prof;
		rs[i].mode = mode;
		rs[i].stop = &stop;
		rs[i].lat = calloc(LAT_BUCKETS, sizeof(uint32_t));
	}
	c0 = cpu_us(mode != 0);
	t0 = clock_mono_us();
	for (int i = 0; i < n; i++)
		pthread_create(&rs[i].tid, NULL, mode == 0 ? raw_main : daemon_main, &rs[i]);
	sleep((unsigned)b->seconds);
	stop = 1;
	for (int i = 0; i < n; i++)
		pthread_join(rs[i].tid, NULL);
	t1 = clock_mono_us();
	c1 = cpu_us(mode != 0);
	for (int i = 0; i < n; i++) {
		total += rs[i].ops;
		res.errors += rs[i].errors;
		res.busy += rs[i].busy;
		for (int k = 0; rs[i].lat && k < LAT_BUCKETS; k++)
			lat[k] += rs[i].lat[k];
	}
	res.rate = (double)total * 1e6 / (double)(t1 - t0);
	res.cpu_us = total ? (double)(c1 - c0) / (double)total : 0;
	for (int k = 0; k < LAT_BUCKETS; k++) {
		seen += lat[k];
		if (res.p50 == 0 && seen * 2 >= total && total)
			res.p50 = (uint64_t)k * 10 + 10;
		if (res.p99 == 0 && seen * 100 >= total * 99 && total)
			res.p99 = (uint64_t)k * 10 + 10;
	}
out:
	for (int i = 0; rs != NULL && i < n; i++)
		free(rs[i].lat);
	free(rs);
	free(lat);
	return res;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Raw and daemon alternately, b->repeat times each, so that both see the same machine load;
 * the medians are compared. */
static void
paired(struct bench *b, const struct issuer *is, struct result *raw, struct result *dmn)
{
	double rr[16], dr[16], rc[16], dc[16];
	int n = b->repeat > 16 ? 16 : b->repeat;

	for (int i = 0; i < n; i++) {
		*raw = run(b, is, NULL, 0, (int)b->sc.sessions);
		*dmn = run(b, is, NULL, 1, b->clients);
		rr[i] = raw->rate;
		dr[i] = dmn->rate;
		rc[i] = raw->cpu_us;
		dc[i] = dmn->cpu_us;
	}
	qsort(rc, (size_t)n, sizeof(double), cmp_double);
	qsort(dc, (size_t)n, sizeof(double), cmp_double);
	raw->cpu_us = rc[n / 2];
	dmn->cpu_us = dc[n / 2];
	qsort(rr, (size_t)n, sizeof(double), cmp_double);
	qsort(dr, (size_t)n, sizeof(double), cmp_double);
	raw->rate = rr[n / 2];
	dmn->rate = dr[n / 2];
}

/* The daemon's pid (from the socket's peer credentials) and its resident memory. */
static long
daemon_rss_kb(const char *path, long *pid_out)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char file[64], line[256];
	long rss = -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FILE *f;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	*pid_out = (long)cred.pid;
	snprintf(file, sizeof(file), "/proc/%ld/status", (long)cred.pid);
	if ((f = fopen(file, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			char *endp = NULL;
			rss = strtol(line + 6, &endp, 10);
		}
	fclose(f);
	return rss;
}

static int
daemon_stat(struct signer_client *c, const char *key, uint64_t *out)
{
	struct request q;
	struct buf o;
	uint32_t retry;
	char *p;
	int ok = 0;

	memset(&q, 0, sizeof(q));
	q.op = OP_STATS;
	q.deadline_ms = clock_wall_ms() + 5000;
	buf_init(&o, 65536);
	if (signer_call(c, &q, &o, &retry) == AE_OK && buf_nul(&o) == AE_OK &&
	    (p = strstr((char *)o.data, key)) != NULL) {
		*out = strtoull(p + strlen(key) + 1, NULL, 10);  /* past the ':' */
		ok = 1;
	}
	buf_free(&o);
	return ok;
}

static void
usage(void)
{
	fprintf(stderr, "usage: anvilctl bench-signer [-s SECONDS] [-n MAX_SESSIONS] "
	    "[-C CLIENTS] [-R REPEAT] [-i ISSUER] [--raw-only]\n");
}

int
ctl_bench_signer(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "sessions", required_argument, NULL, 'n' },
		{ "clients", required_argument, NULL, 'C' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "raw-only", no_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b;
	char err[512];
	int ch, rc = 1;
	double raw_at[MAX_ISSUERS];

	memset(&b, 0, sizeof(b));
	b.seconds = 3;
	b.max_sessions = 4;
	b.repeat = 3;
	while ((ch = getopt_long(argc, argv, "s:n:C:i:R:r", opts, NULL)) != -1) {
		int64_t v;
		switch (ch) {
		case 's':
		case 'n':
		case 'C':
		case 'R':
			if (num_parse_i64(optarg, 1, ch == 'R' ? 16 : 3600, &v) != AE_OK) {
				usage();
				return 2;
			}
			if (ch == 's') b.seconds = (int)v;
			else if (ch == 'n') b.max_sessions = (int)v;
			else if (ch == 'R') b.repeat = (int)v;
			else b.clients = (int)v;
			break;
		case 'i': b.only_issuer = optarg; break;
		case 'r': b.raw_only = 1; break;
		default: usage(); return 2;
		}
	}
	if (signer_conf_parse(&ctl->conf, ctl->config, SIGNER_CONF_DAEMON, &b.sc) != AE_OK ||
	    ocsp_conf_parse(&ctl->conf, ctl->config, &b.ocsp, &b.crl) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		goto out;
	}
	if (p11_load(&b.m, &b.sc.hsm, err, sizeof(err)) != AE_OK) {
		fprintf(stderr, "anvilctl: bench-signer: %s\n", err);
		goto out;
	}
	printf("# 1. raw PKCS#11 signatures/s (module %s), %d s per point\n", b.sc.hsm.module,
	    b.seconds);
	printf("%-16s %-11s %8s %12s %9s %9s\n", "issuer", "key", "sessions", "sigs/s",
	    "p50_us", "p99_us");
	for (size_t i = 0; i < b.sc.nissuers; i++) {
		const struct issuer *is = &b.sc.issuers[i];
		raw_at[i] = 0;
		if (is->parent == NULL || (b.only_issuer && strcmp(b.only_issuer, is->name) != 0))
			continue;
		for (int n = 1; n <= b.max_sessions; n++) {
			struct result r = run(&b, is, NULL, 0, n);
			printf("%-16s %-11s %8d %12.0f %9llu %9llu%s\n", is->name,
			    key_type_name(is->key_type), n, r.rate, (unsigned long long)r.p50,
			    (unsigned long long)r.p99, r.errors ? "  (errors)" : "");
			if (n == b.sc.sessions || (n == b.max_sessions && n < b.sc.sessions))
				raw_at[i] = r.rate;
		}
	}
	fflush(stdout);
	if (b.raw_only) {
		rc = 0;
		goto out;
	}
	if (b.clients == 0)
		b.clients = (int)b.sc.sessions * 4;
	{
		struct signer_client *c = NULL;
		uint64_t v;
		long pid = 0, rss;
		if (signer_client_new(b.sc.socket_path, &c) != AE_OK || !daemon_stat(c, "\"signed\"",
		    &v)) {
			fprintf(stderr, "bench-signer: no signer answers on %s; start anvil-signer for "
			    "parts 2 and 3\n", b.sc.socket_path);
			signer_client_free(c);
			rc = 0;
			goto out;
		}
		(void)daemon_rss_kb(b.sc.socket_path, &daemon_pid);
		printf("\n# 2. through the daemon (%s): OCSP requests, %d clients, daemon sessions "
		    "%lld\n", b.sc.socket_path, b.clients, (long long)b.sc.sessions);
		printf("(raw at %lld sessions and daemon alternately, median of %d runs each)\n",
		    (long long)b.sc.sessions, b.repeat);
		printf("%-16s %8s %9s %7s %7s %8s %8s %6s %11s\n", "issuer", "raw/s", "daemon/s",
		    "vs_raw", "p99_us", "rawcpu", "dmncpu", "busy", "qdelay_p99");
		for (size_t i = 0; i < b.sc.nissuers; i++) {
			const struct issuer *is = &b.sc.issuers[i];
			struct result r, raw;
			uint64_t q99 = 0;
			if (is->parent == NULL ||
			    (b.only_issuer && strcmp(b.only_issuer, is->name) != 0))
				continue;
			paired(&b, is, &raw, &r);
			raw_at[i] = raw.rate;  /* at the daemon's session count, for part 3 */
			daemon_stat(c, "\"queue_delay_p99_us\"", &q99);
			printf("%-16s %8.0f %9.0f %7.2f %7llu %6.0fus %6.0fus %6llu %9lluus%s\n",
			    is->name, raw.rate, r.rate, raw.rate > 0 ? r.rate / raw.rate : 0.0,
			    (unsigned long long)r.p99, raw.cpu_us, r.cpu_us,
			    (unsigned long long)r.busy, (unsigned long long)q99,
			    r.errors ? "  (errors)" : "");
		}
		printf("\n# 3. whole issuances through the daemon, %d clients\n", b.clients);
		printf("%-12s %-4s %9s %10s %10s %14s\n", "profile", "ct", "sigs/cert", "certs/s",
		    "sigs/s", "ceiling_certs/s");
		for (size_t i = 0; i < b.sc.nprofiles; i++) {
			const struct profile *p = &b.sc.profiles[i];
			int spc = p->ct ? 3 : 2;
			size_t ii = p->issuer->index;
			struct result r;
			if (b.only_issuer && strcmp(b.only_issuer, p->issuer->name) != 0)
				continue;
			r = run(&b, p->issuer, p, 2, b.clients);
			printf("%-12s %-4s %9d %10.0f %10.0f %14.0f%s\n", p->name, p->ct ? "yes" : "no",
			    spc, r.rate, r.rate * spc, raw_at[ii] / spc,
			    r.errors ? "  (errors)" : "");
		}
		rss = daemon_rss_kb(b.sc.socket_path, &pid);
		printf("\n# daemon pid %ld resident memory: %ld KiB\n", pid, rss);
		signer_client_free(c);
	}
	rc = 0;
out:
	if (b.m.f != NULL)
		p11_unload(&b.m);
	signer_conf_free(&b.sc);
	return rc;
}
