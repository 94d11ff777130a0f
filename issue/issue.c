#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "ca/client.h"
#include "issue/issue.h"
#include "issue/internal.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/hex.h"

/* Entries of acme.weak_keys_file: 64 MiB of hashes at most. */
#define WEAK_KEYS_MAX 2000000


int64_t
issue_now_ms(void)
{
	return (int64_t)clock_mono_ms();
}

/* The certificates of a PEM file, re-encoded (nothing but certificates survives). */
static char *
load_chain(const char *path)
{
	BIO *in = BIO_new_file(path, "r"), *out = BIO_new(BIO_s_mem());
	X509 *x = NULL;
	char *pem = NULL, *data = NULL;
	long len;
	int n = 0;

	if (in == NULL || out == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (PEM_write_bio_X509(out, x) != 1)
			goto out;
		X509_free(x);
		x = NULL;
		n++;
	}
	if (n == 0 || (len = BIO_get_mem_data(out, &data)) <= 0 ||
	    (pem = malloc((size_t)len + 1)) == NULL)
		goto out;
	memcpy(pem, data, (size_t)len);
	pem[len] = '\0';
out:
	X509_free(x);
	BIO_free(in);
	BIO_free(out);
	return pem;
}

static int
cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* One SHA-256 SPKI hash (64 hex digits) per line; '#' starts a comment. */
static anvil_err
load_weak(struct issue_ctx *ic, struct conf_ctx *cc, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t cap = 0, lineno = 0;
	anvil_err e = AE_OK;

	if (f == NULL)
		return conf_fail(cc, "acme", "weak_keys_file", "cannot open %s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end;
		lineno++;
		if ((end = strchr(p, '#')) != NULL)
			*end = '\0';
		p += strspn(p, " \t\r\n");
		end = p + strcspn(p, " \t\r\n");
		*end = '\0';
		if (*p == '\0')
			continue;
		if (strlen(p) != 64 || ic->nweak == WEAK_KEYS_MAX) {
			e = conf_fail(cc, "acme", "weak_keys_file", "%s line %zu: not a SHA-256 "
			    "hash in hex (or over %d entries)", path, lineno, WEAK_KEYS_MAX);
			goto out;
		}
		if (ic->nweak == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			void *n = realloc(ic->weak, ncap * 32);
			if (n == NULL) {
				e = AE_NOMEM;
				goto out;
			}
			ic->weak = n;
			cap = ncap;
		}
		for (size_t i = 0; i < 32; i++) {
			int hi = hex_digit(p[2 * i]), lo = hex_digit(p[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				e = conf_fail(cc, "acme", "weak_keys_file", "%s line %zu: not hex",
				    path, lineno);
				goto out;
			}
			ic->weak[ic->nweak][i] = (uint8_t)(hi << 4 | lo);
		}
		ic->nweak++;
	}
	if (ic->nweak > 0)
		qsort(ic->weak, ic->nweak, 32, cmp32);
out:
	fclose(f);
	return e;
}

/* What both constructors do once ic->conf is there. */
static anvil_err
ctx_start(struct issue_ctx *ic, struct conf_ctx *cc)
{
	anvil_err e;

	if (ic->conf.signer_socket != NULL &&
	    (e = signer_client_new(ic->conf.signer_socket, &ic->signer)) != AE_OK)
		goto out;
	for (size_t i = 0; i < issue_conf_nissuers(&ic->conf); i++) {
		const struct issuer *is = &ic->conf.policy->issuers[i];
		struct chains *c = &ic->chains[i];
		/* A root's file may hold only the root; roots never issue leaves. A missing file
		 * (no ceremony yet) leaves the chain unavailable: downloads answer 503. */
		if ((c->pem[0] = load_chain(is->cert_path)) == NULL)
			log_warn("issuer %s: cannot read certificate %s: downloads of its "
			    "certificates will fail", is->name, is->cert_path);
		c->n = 1;
		for (size_t k = 0; k < ic->conf.alt[i].n; k++) {
			if ((c->pem[c->n++] = load_chain(ic->conf.alt[i].paths[k])) == NULL)
				log_warn("issuer %s: cannot read alternate chain %s", is->name,
				    ic->conf.alt[i].paths[k]);
		}
	}
	if (ic->conf.weak_keys_file != NULL &&
	    (e = load_weak(ic, cc, ic->conf.weak_keys_file)) != AE_OK)
		goto out;
	if ((e = issue_ct_init(ic)) != AE_OK) {
		conf_fail(cc, "ct", "logs", "the CT client cannot start: %s", anvil_strerror(e));
		goto out;
	}
	e = AE_OK;
out:
	return e;
}

anvil_err
issue_ctx_new(struct db *db, json_object *root, struct conf_ctx *cc, struct issue_ctx **out)
{
	struct issue_ctx *ic = calloc(1, sizeof(*ic));
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if (ic == NULL)
		goto out;
	ic->db = db;
	ic->root = json_object_get(root);
	if ((e = issue_conf_parse(cc, root, &ic->conf)) != AE_OK ||
	    (e = ctx_start(ic, cc)) != AE_OK)
		goto out;
	*out = ic;
	ic = NULL;
out:
	issue_ctx_free(ic);
	return e;
}

anvil_err
issue_ctx_new_conf(struct db *db, const struct issue_conf *conf, struct conf_ctx *cc,
    struct issue_ctx **out)
{
	struct issue_ctx *ic = calloc(1, sizeof(*ic));
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if (ic == NULL)
		goto out;
	ic->db = db;
	ic->conf = *conf;
	ic->conf_borrowed = 1;
	if ((e = ctx_start(ic, cc)) != AE_OK)
		goto out;
	*out = ic;
	ic = NULL;
out:
	issue_ctx_free(ic);
	return e;
}

void
issue_ctx_free(struct issue_ctx *ic)
{
	if (ic == NULL)
		return;
	signer_client_free(ic->signer);
	issue_ct_free(ic);
	for (size_t i = 0; i < MAX_ISSUERS; i++)
		for (size_t k = 0; k < ic->chains[i].n; k++)
			free(ic->chains[i].pem[k]);
	free(ic->weak);
	if (!ic->conf_borrowed)
		issue_conf_free(&ic->conf);
	json_object_put(ic->root);
	free(ic);
}

const struct issue_conf *
issue_ctx_conf(const struct issue_ctx *ic)
{
	return &ic->conf;
}

static const struct chains *
chains_of(const struct issue_ctx *ic, const char *issuer)
{
	for (size_t i = 0; i < issue_conf_nissuers(&ic->conf); i++)
		if (strcmp(ic->conf.policy->issuers[i].name, issuer) == 0)
			return &ic->chains[i];
	return NULL;
}

const char *
issue_chain_pem(const struct issue_ctx *ic, const char *issuer, size_t n)
{
	const struct chains *c = chains_of(ic, issuer);

	return c != NULL && n < c->n ? c->pem[n] : NULL;
}

size_t
issue_chain_count(const struct issue_ctx *ic, const char *issuer)
{
	const struct chains *c = chains_of(ic, issuer);

	return c != NULL ? c->n : 0;
}

int
issue_key_weak(const struct issue_ctx *ic, const uint8_t spki_sha256[32])
{
	return ic->nweak > 0 && bsearch(spki_sha256, ic->weak, ic->nweak, 32, cmp32) != NULL;
}
