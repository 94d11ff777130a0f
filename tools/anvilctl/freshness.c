/* anvilctl check-freshness: a Nagios-style check (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
 * of what relying parties are served (issue 10 item 6, doc/crl.md "Freshness"). It reads the
 * published files themselves — a sample of OCSP responses (the first entries of each issuer's
 * directory, in the file system's order, and the responses first in the refresher's order from
 * the database) and every CRL shard — parses them, verifies their signatures against the issuer
 * certificate, and checks thisUpdate/nextUpdate against thresholds; then the database's figures
 * (db/freshness.h). Reads no key and writes nothing. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "ca/profile.h"
#include "db/freshness.h"
#include "lib/buf.h"
#include "lib/num.h"
#include "ocsp/conf.h"
#include "tools/anvilctl/ctl.h"

#define FILE_MAX (8u * 1024 * 1024)   /* a CRL shard of ~100k entries fits */
#define SKEW 300                      /* thisUpdate may lie this far ahead (clocks) */

enum { ST_OK, ST_WARN, ST_CRIT, ST_UNKNOWN };
static const char *const st_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

struct opts {
	int64_t ocsp_warn, ocsp_crit;  /* s: age of a response */
	int64_t crl_warn, crl_crit;    /* s: age of a CRL shard */
	int64_t sample;                /* responses per issuer from the directory, and from the db */
	int64_t past_refresh_warn;     /* rows past their refresh point tolerated */
	int no_db;
	const char *issuer;            /* only this one */
};

struct report {
	int level;
	char summary[512];             /* the first message of the worst level */
	struct buf details, perf;
	int64_t now;
	int64_t ocsp_files, crl_files;
};

static void note(struct report *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
note(struct report *r, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)buf_printf(&r->details, "%s: %s\n", st_names[level], line);
	if (level > r->level || r->summary[0] == '\0') {
		snprintf(r->summary, sizeof(r->summary), "%s", line);
		if (level > r->level)
			r->level = level;
	}
}

static int64_t
asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm);
}

static anvil_err
read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[16384];
	size_t n;
	anvil_err e = AE_OK;

	buf_reset(out);
	if (f == NULL)
		return AE_NOTFOUND;
	while (e == AE_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		e = buf_append(out, chunk, n);
	if (ferror(f))
		e = AE_IO;
	fclose(f);
	return e;
}

/* Age thresholds: warn/crit when older; CRITICAL past nextUpdate or thisUpdate ahead. */
static void
judge_times(struct report *r, const char *what, int64_t tu, int64_t nu, int64_t warn,
    int64_t crit)
{
	if (tu < 0 || nu < 0)
		note(r, ST_CRIT, "%s: unreadable thisUpdate/nextUpdate", what);
	else if (nu <= r->now)
		note(r, ST_CRIT, "%s: past its nextUpdate by %llds", what, (long long)(r->now - nu));
	else if (tu > r->now + SKEW)
		note(r, ST_CRIT, "%s: thisUpdate %llds in the future", what, (long long)(tu - r->now));
	else if (r->now - tu > crit)
		note(r, ST_CRIT, "%s: %llds old (critical over %llds)", what,
		    (long long)(r->now - tu), (long long)crit);
	else if (r->now - tu > warn)
		note(r, ST_WARN, "%s: %llds old (warning over %llds)", what,
		    (long long)(r->now - tu), (long long)warn);
}

static int
serial_hex_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= DB_SERIAL_HEX_MAX && n % 2 == 0 &&
	    strspn(s, "0123456789abcdef") == n;
}

struct ctx {
	const struct opts *o;
	struct report *r;
	const struct ocsp_conf *ocsp;
	const struct crl_conf *crl;
	struct signer_conf *sc;
	X509 *certs[MAX_ISSUERS];      /* by issuer index; NULL: not checked */
	struct db *db;
	struct buf file;
};

/* One response file: a successful basic response for exactly this serial of this issuer,
 * signed by the issuer, fresh; and, when the database says the serial was revoked longer ago
 * than the revocation bound, saying so. */
static void
check_ocsp_file(struct ctx *c, const struct issuer *is, X509 *ica, const char *serial)
{
	char what[160], path[4096];
	const unsigned char *p;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = NULL;
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rev = NULL;
	struct db_status row;
	int status = -1, reason = -1, have_row = 0;
	anvil_err e;

	snprintf(what, sizeof(what), "%s response %s", is->name, serial);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", c->ocsp->dir, is->name, serial) >=
	    sizeof(path))
		return;
	if (c->db != NULL && db_status_get(c->db, serial, &row) == AE_OK)
		have_row = 1;
	/* The expiry sweep removes these after a grace period: no longer served as fresh. */
	if (have_row && row.not_after < c->r->now)
		return;
	if ((e = read_file(path, &c->file)) != AE_OK || c->file.len > FILE_MAX) {
		note(c->r, ST_CRIT, "%s: %s", what, e == AE_NOTFOUND ? "no response file" :
		    "cannot read the file");
		return;
	}
	c->r->ocsp_files++;
	p = c->file.data;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)c->file.len)) == NULL ||
	    p != c->file.data + c->file.len ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL) {
		note(c->r, ST_CRIT, "%s: not a successful OCSP response", what);
		goto out;
	}
	/* Signed by the issuer itself, or by a responder certificate in the response that the
	 * issuer delegated OCSP signing to (OpenSSL checks the chain to the issuer, trusted here
	 * as it is, and the OCSPSigning EKU). */
	if ((certs = sk_X509_new_null()) == NULL || !sk_X509_push(certs, ica) ||
	    (store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(store, ica) ||
	    !X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) ||
	    OCSP_basic_verify(bs, certs, store, 0) != 1) {
		note(c->r, ST_CRIT, "%s: signature does not verify with the issuer certificate",
		    what);
		goto out;
	}
	if (BN_hex2bn(&bn, serial) == 0 || (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ica),
	    X509_get0_pubkey_bitstr(ica), sn)) == NULL ||
	    OCSP_resp_find_status(bs, id, &status, &reason, &rev, &tu, &nu) != 1) {
		note(c->r, ST_CRIT, "%s: answers for another certificate", what);
		goto out;
	}
	judge_times(c->r, what, asn1_time_unix(tu), asn1_time_unix(nu), c->o->ocsp_warn,
	    c->o->ocsp_crit);
	if (have_row && row.revoked && status != V_OCSP_CERTSTATUS_REVOKED &&
	    c->r->now - row.revoked_at > c->ocsp->revocation_bound)
		note(c->r, ST_CRIT, "%s: says good, revoked %llds ago (bound %llds)", what,
		    (long long)(c->r->now - row.revoked_at), (long long)c->ocsp->revocation_bound);
out:
	X509_STORE_free(store);
	sk_X509_free(certs);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
}

/* The first entries of the issuer's directory: the file system's order, not a scan. */
static void
sample_dir(struct ctx *c, const struct issuer *is, X509 *ica)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int64_t n = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", c->ocsp->dir, is->name) >= sizeof(path))
		return;
	/* None yet: an issuer without certificates (the database check covers a certificate
	 * whose response is missing). */
	if ((d = opendir(path)) == NULL) {
		if (errno != ENOENT)
			note(c->r, ST_CRIT, "%s: cannot read %s: %s", is->name, path, strerror(errno));
		return;
	}
	while (n < c->o->sample && (de = readdir(d)) != NULL) {
		if (!serial_hex_ok(de->d_name))
			continue;   /* ., .., a writer's temporary file */
		check_ocsp_file(c, is, ica, de->d_name);
		n++;
	}
	closedir(d);
}

static anvil_err
oldest_one(void *arg, const char *serial, const char *issuer)
{
	struct ctx *c = arg;
	struct issuer *is = conf_issuer(c->sc, issuer);

	if (is != NULL && c->certs[is->index] != NULL && serial_hex_ok(serial))
		check_ocsp_file(c, is, c->certs[is->index], serial);
	return AE_OK;
}

static void
check_crl_file(struct ctx *c, const struct issuer *is, X509 *ica, int64_t shard)
{
	char what[160], path[4096], want[1200];
	const unsigned char *p;
	X509_CRL *crl = NULL;
	ISSUING_DIST_POINT *idp = NULL;
	ASN1_INTEGER *num = NULL;
	anvil_err e;

	snprintf(what, sizeof(what), "%s CRL shard %lld", is->name, (long long)shard);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%lld.crl", c->crl->dir, is->name,
	    (long long)shard) >= sizeof(path))
		return;
	if ((e = read_file(path, &c->file)) != AE_OK || c->file.len > FILE_MAX) {
		note(c->r, ST_CRIT, "%s: %s (%s)", what, e == AE_NOTFOUND ? "not published" :
		    "cannot read the file", path);
		return;
	}
	c->r->crl_files++;
	p = c->file.data;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)c->file.len)) == NULL ||
	    p != c->file.data + c->file.len) {
		note(c->r, ST_CRIT, "%s: not a DER CRL", what);
		goto out;
	}
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ica)) != 0 ||
	    X509_CRL_verify(crl, X509_get0_pubkey(ica)) != 1) {
		note(c->r, ST_CRIT, "%s: signature does not verify with the issuer certificate",
		    what);
		goto out;
	}
	judge_times(c->r, what, asn1_time_unix(X509_CRL_get0_lastUpdate(crl)),
	    asn1_time_unix(X509_CRL_get0_nextUpdate(crl)), c->o->crl_warn, c->o->crl_crit);
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) == NULL)
		note(c->r, ST_CRIT, "%s: no CRL number", what);
	snprintf(want, sizeof(want), "%s%lld.crl", is->crl_url, (long long)shard);
	idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
	if (idp == NULL || idp->distpoint == NULL || idp->distpoint->type != 0 ||
	    sk_GENERAL_NAME_num(idp->distpoint->name.fullname) != 1 ||
	    sk_GENERAL_NAME_value(idp->distpoint->name.fullname, 0)->type != GEN_URI ||
	    (size_t)ASN1_STRING_length(sk_GENERAL_NAME_value(idp->distpoint->name.fullname,
	    0)->d.uniformResourceIdentifier) != strlen(want) ||
	    memcmp(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(idp->distpoint->name.fullname,
	    0)->d.uniformResourceIdentifier), want, strlen(want)) != 0)
		note(c->r, ST_CRIT, "%s: its issuingDistributionPoint is not %s", what, want);
out:
	ASN1_INTEGER_free(num);
	ISSUING_DIST_POINT_free(idp);
	X509_CRL_free(crl);
}

static void
check_db(struct ctx *c, size_t nissuers)
{
	struct db_freshness f[MAX_ISSUERS];
	size_t n = 0;
	int truncated = 0;
	anvil_err e;

	for (size_t i = 0; i < c->sc->nissuers && n < MAX_ISSUERS; i++)
		if (c->certs[i] != NULL)
			snprintf(f[n++].issuer, sizeof(f[0].issuer), "%s", c->sc->issuers[i].name);
	(void)nissuers;
	if ((e = db_freshness(c->db, c->r->now, c->o->sample * 100, f, n, &truncated)) != AE_OK) {
		note(c->r, ST_UNKNOWN, "database: %s (%s)", anvil_strerror(e), db_error(c->db));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct db_freshness *x = &f[i];
		int64_t age = x->oldest_this_update ? c->r->now - x->oldest_this_update : 0;
		int64_t crl_age = x->crl_oldest_this_update ?
		    c->r->now - x->crl_oldest_this_update : 0;

		if (c->ocsp->present) {
			if (x->past_next_update > 0)
				note(c->r, ST_CRIT, "%s: %lld responses past their nextUpdate (database)",
				    x->issuer, (long long)x->past_next_update);
			if (x->unsigned_responses > 0)
				note(c->r, ST_CRIT, "%s: %lld certificates without a response (database)",
				    x->issuer, (long long)x->unsigned_responses);
			if (x->past_refresh > c->o->past_refresh_warn)
				note(c->r, ST_WARN, "%s: %lld responses past their refresh point "
				    "(database; warning over %lld)", x->issuer,
				    (long long)x->past_refresh, (long long)c->o->past_refresh_warn);
			if (age > c->o->ocsp_crit)
				note(c->r, ST_CRIT, "%s: oldest response %llds old (database)",
				    x->issuer, (long long)age);
			else if (age > c->o->ocsp_warn)
				note(c->r, ST_WARN, "%s: oldest response %llds old (database)",
				    x->issuer, (long long)age);
			(void)buf_printf(&c->r->perf, " %s_ocsp_oldest_age=%llds;%lld;%lld "
			    "%s_ocsp_past_refresh=%lld;%lld %s_ocsp_past_next_update=%lld;;0",
			    x->issuer, (long long)age, (long long)c->o->ocsp_warn,
			    (long long)c->o->ocsp_crit, x->issuer, (long long)x->past_refresh,
			    (long long)c->o->past_refresh_warn, x->issuer,
			    (long long)x->past_next_update);
		}
		if (c->crl->present && x->crl_shards > 0) {
			if (x->crl_past_next_update > 0)
				note(c->r, ST_CRIT, "%s: %lld CRL shards past their nextUpdate "
				    "(database)", x->issuer, (long long)x->crl_past_next_update);
			if (x->crl_overdue > 0 &&
			    c->r->now - x->crl_oldest_due_at > c->ocsp->revocation_bound)
				note(c->r, ST_CRIT, "%s: a CRL shard due %llds ago is not rebuilt "
				    "(bound %llds): is anvil-jobs running?", x->issuer,
				    (long long)(c->r->now - x->crl_oldest_due_at),
				    (long long)c->ocsp->revocation_bound);
			(void)buf_printf(&c->r->perf, " %s_crl_oldest_age=%llds;%lld;%lld "
			    "%s_crl_overdue=%lld", x->issuer, (long long)crl_age,
			    (long long)c->o->crl_warn, (long long)c->o->crl_crit, x->issuer,
			    (long long)x->crl_overdue);
		}
	}
	if (truncated)
		(void)buf_printf(&c->r->details, "note: over %lld rows past their refresh point: "
		    "database counts are lower bounds\n", (long long)(c->o->sample * 100));
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;

	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	return x;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvilctl check-freshness [--ocsp-warn S] [--ocsp-crit S] "
	    "[--crl-warn S] [--crl-crit S]\n"
	    "         [--sample N] [--past-refresh-warn N] [--issuer NAME] [--no-db]\n"
	    "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (doc/crl.md \"Freshness\")\n");
}

int
ctl_check_freshness(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ocsp-warn", required_argument, NULL, 'a' },
		{ "ocsp-crit", required_argument, NULL, 'b' },
		{ "crl-warn", required_argument, NULL, 'c' },
		{ "crl-crit", required_argument, NULL, 'd' },
		{ "sample", required_argument, NULL, 's' },
		{ "past-refresh-warn", required_argument, NULL, 'p' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "no-db", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ocsp_conf ocsp;
	struct crl_conf crl;
	struct signer_conf *sc = calloc(1, sizeof(*sc));
	struct db_conf dbc;
	struct opts o;
	struct report r;
	struct ctx c;
	int64_t *set[] = { &o.ocsp_warn, &o.ocsp_crit, &o.crl_warn, &o.crl_crit, &o.sample,
		&o.past_refresh_warn };
	int ch, have_dbc = 0, rc = ST_UNKNOWN;
	size_t checked = 0;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		*set[i] = -1;
	buf_init(&r.details, 1u << 20);
	buf_init(&r.perf, 1u << 16);
	buf_init(&c.file, FILE_MAX);
	if (sc == NULL)
		goto out;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		const char *k = "abcdsp";
		const char *at = strchr(k, ch);
		if (ch == 'i') {
			o.issuer = optarg;
		} else if (ch == 'n') {
			o.no_db = 1;
		} else if (ch != 'h' && at != NULL) {
			if (num_parse_i64(optarg, 0, INT64_MAX / 1000, set[at - k]) != AE_OK) {
				fprintf(stderr, "anvilctl check-freshness: --%s: not a number\n",
				    lo[at - k].name);
				goto out;
			}
		} else {
			usage(ch == 'h' ? stdout : stderr);
			rc = ch == 'h' ? 0 : ST_UNKNOWN;
			goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		goto out;
	}
	if (ocsp_conf_parse(&ctl->conf, ctl->config, &ocsp, &crl) != AE_OK ||
	    signer_conf_parse(&ctl->conf, ctl->config, SIGNER_CONF_POLICY, sc) != AE_OK ||
	    (!o.no_db && db_conf_parse(&ctl->conf, ctl->config, &dbc) != AE_OK)) {
		printf("FRESHNESS UNKNOWN - %s\n", ctl->conf.err);
		goto out;
	}
	have_dbc = !o.no_db;
	/* Defaults (doc/crl.md): OCSP warns once a response is past its refresh point by a tenth
	 * of its validity, is critical half way from there to nextUpdate; a CRL warns after two
	 * missed rebuilds, is critical with less than one interval left. */
	{
		int64_t refresh = ocsp.validity * ocsp.refresh_percent / 100;
		if (o.ocsp_warn < 0)
			o.ocsp_warn = refresh + ocsp.validity / 10;
		if (o.ocsp_crit < 0)
			o.ocsp_crit = refresh + (ocsp.validity - refresh) / 2;
		if (o.crl_warn < 0)
			o.crl_warn = 2 * crl.interval;
		if (o.crl_crit < 0)
			o.crl_crit = crl.validity - crl.interval;
		if (o.sample < 0)
			o.sample = 100;
		if (o.past_refresh_warn < 0)
			o.past_refresh_warn = ocsp.batch;
	}
	r.now = (int64_t)time(NULL);
	c.o = &o;
	c.r = &r;
	c.ocsp = &ocsp;
	c.crl = &crl;
	c.sc = sc;
	if (!ocsp.present && !crl.present) {
		printf("FRESHNESS UNKNOWN - neither an ocsp nor a crl section: nothing is published\n");
		goto out;
	}
	if (have_dbc && db_new(&dbc, &c.db) != AE_OK) {
		printf("FRESHNESS UNKNOWN - database: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < sc->nissuers; i++) {
		struct issuer *is = &sc->issuers[i];
		if (is->parent == NULL || (o.issuer != NULL && strcmp(o.issuer, is->name) != 0))
			continue;
		if ((c.certs[i] = load_cert(is->cert_path)) == NULL) {
			note(&r, ST_UNKNOWN, "%s: cannot read issuers.%s.cert %s", is->name, is->name,
			    is->cert_path);
			continue;
		}
		checked++;
		if (ocsp.present)
			sample_dir(&c, is, c.certs[i]);
		if (crl.present && is->crl_url != NULL)
			for (int64_t s = 0; s < is->crl_shards; s++)
				check_crl_file(&c, is, c.certs[i], s);
	}
	if (o.issuer != NULL && checked == 0)
		note(&r, ST_UNKNOWN, "no intermediate issuer named %s", o.issuer);
	if (c.db != NULL && ocsp.present) {
		anvil_err e = db_oldest_responses(c.db, r.now, (size_t)o.sample, oldest_one, &c);
		if (e != AE_OK)
			note(&r, ST_UNKNOWN, "database: %s (%s)", anvil_strerror(e), db_error(c.db));
	}
	if (c.db != NULL && r.level != ST_UNKNOWN)
		check_db(&c, checked);
	if (r.summary[0] == '\0')
		snprintf(r.summary, sizeof(r.summary), "%lld OCSP response files and %lld CRL shards "
		    "verified", (long long)r.ocsp_files, (long long)r.crl_files);
	(void)buf_nul(&r.perf);
	(void)buf_nul(&r.details);
	printf("FRESHNESS %s - %s | ocsp_files=%lld crl_files=%lld%s\n", st_names[r.level],
	    r.summary, (long long)r.ocsp_files, (long long)r.crl_files,
	    r.perf.data ? (char *)r.perf.data : "");
	if (r.details.len > 0)
		fputs((char *)r.details.data, stdout);
	rc = r.level;
out:
	for (size_t i = 0; i < MAX_ISSUERS; i++)
		X509_free(c.certs[i]);
	db_free(c.db);
	if (have_dbc)
		db_conf_free(&dbc);
	if (sc != NULL)
		signer_conf_free(sc);
	free(sc);
	buf_free(&c.file);
	buf_free(&r.details);
	buf_free(&r.perf);
	return rc;
}
