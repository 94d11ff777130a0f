/* anvilctl init: the key ceremony. For every issuer in the config: the key is found on the token
 * by label/id or generated there; roots are self-signed, intermediates signed by their root;
 * certificates and chains are written with durable writes. Idempotent: existing keys are used,
 * existing files are checked against the token and never overwritten. A root whose certificate
 * is installed but whose key is not on the token is external (tools/anvilctl/ceremony.c makes
 * and imports its intermediates): kept, and never signed with. The helpers shared with
 * ceremony.c are declared in ceremony.h. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "ca/hsmkey.h"
#include "ca/p11.h"
#include "ca/profile.h"
#include "lib/fileio.h"
#include "tools/anvilctl/ceremony.h"
#include "tools/anvilctl/ctl.h"

X509_NAME *
cer_parse_subject(const char *s)
{
	X509_NAME *n = X509_NAME_new();
	char part[256];

	/* "CN=Anvil Root,O=Example": comma-separated attribute=value pairs from our config. */
	while (n != NULL && *s) {
		const char *end = strchr(s, ','), *eq;
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len >= sizeof(part))
			goto bad;
		memcpy(part, s, len);
		part[len] = '\0';
		if ((eq = strchr(part, '=')) == NULL)
			goto bad;
		part[eq - part] = '\0';
		if (!X509_NAME_add_entry_by_txt(n, part, MBSTRING_UTF8,
		    (const unsigned char *)eq + 1, -1, -1, 0))
			goto bad;
		s += len + (end ? 1 : 0);
	}
	if (n != NULL && X509_NAME_entry_count(n) > 0)
		return n;
bad:
	X509_NAME_free(n);
	return NULL;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, val);
	ok = e != NULL && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

int
cer_ensure_key(struct ceremony *c, const struct issuer *is, EVP_PKEY **pub)
{
	CK_OBJECT_HANDLE h;
	CK_RV rv = CKR_OK;
	uint8_t id[16];
	const uint8_t *idp = is->key_id_len ? is->key_id : NULL;
	size_t idl = is->key_id_len;
	anvil_err e = p11_find(&c->m, c->sess, CKO_PRIVATE_KEY, is->key_label, idp, idl, &h, &rv);

	if (e == AE_EXISTS) {
		fprintf(stderr, "anvilctl: %s: more than one key matches; set a unique key_label "
		    "or key_id\n", is->name);
		return 0;
	}
	if (e == AE_NOTFOUND) {
		if (idp == NULL) {
			if (RAND_bytes(id, sizeof(id)) != 1)
				return 0;
			idp = id;
			idl = sizeof(id);
		}
		printf("%s: generating %s key '%s' on the token\n", is->name,
		    key_type_name(is->key_type), is->key_label ? is->key_label : "(by id)");
		if (p11_generate(&c->m, c->sess, is->key_type, is->key_label ? is->key_label : "",
		    idp, idl, &rv) != AE_OK) {
			fprintf(stderr, "anvilctl: %s: key generation failed (rv=0x%lx)\n",
			    is->name, (unsigned long)rv);
			return 0;
		}
		e = p11_find(&c->m, c->sess, CKO_PRIVATE_KEY, is->key_label, is->key_id_len ?
		    is->key_id : NULL, is->key_id_len, &h, &rv);
	} else if (e == AE_OK) {
		printf("%s: using the existing key '%s'\n", is->name,
		    is->key_label ? is->key_label : "(by id)");
	}
	if (e != AE_OK) {
		fprintf(stderr, "anvilctl: %s: cannot find the key (rv=0x%lx)\n", is->name,
		    (unsigned long)rv);
		return 0;
	}
	if (p11_public_key(&c->m, c->sess, is->key_label, is->key_id_len ? is->key_id : NULL,
	    is->key_id_len, pub) != AE_OK || key_type_of(*pub) != is->key_type) {
		fprintf(stderr, "anvilctl: %s: the token key is missing its public half or "
		    "is not a %s key\n", is->name, key_type_name(is->key_type));
		return 0;
	}
	c->handle = h;
	return 1;
}

X509 *
cer_read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;

	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	return x;
}

int
cer_write_pem(const char *path, X509 *const *certs, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	int ok = b != NULL;
	anvil_err e;

	for (size_t i = 0; ok && i < n; i++)
		ok = PEM_write_bio_X509(b, certs[i]) == 1;
	if (!ok || (len = BIO_get_mem_data(b, &data)) <= 0) {
		BIO_free(b);
		return 0;
	}
	e = file_write_durable(path, data, (size_t)len, 0644, 1);
	BIO_free(b);
	if (e == AE_EXISTS) {
		fprintf(stderr, "anvilctl: %s exists; refusing to overwrite\n", path);
		return 0;
	}
	if (e != AE_OK) {
		fprintf(stderr, "anvilctl: cannot write %s: %s\n", path, anvil_strerror(e));
		return 0;
	}
	printf("wrote %s\n", path);
	return 1;
}

/* Builds and signs (with the key c->handle) a CA certificate for is. */
static X509 *
make_ca_cert(struct ceremony *c, const struct issuer *is, EVP_PKEY *pub, X509 *parent,
    const struct issuer *pis)
{
	X509 *x = X509_new();
	X509_NAME *subj = cer_parse_subject(is->subject);
	ASN1_INTEGER *sn = NULL;
	EVP_PKEY *signer = NULL;
	BIGNUM *bn = NULL;
	uint8_t rnd[16];
	time_t now = time(NULL);
	char val[4096];
	int ok = 0;

	if (x == NULL || subj == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x01;
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, sn) ||
	    !X509_set_subject_name(x, subj) ||
	    !X509_set_issuer_name(x, parent ? X509_get_subject_name(parent) : subj) ||
	    !X509_set_pubkey(x, pub) || ASN1_TIME_set(X509_getm_notBefore(x), now - 3600) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), now + is->validity_days * 86400) == NULL ||
	    !add_ext(x, parent ? parent : x, NID_basic_constraints,
	    parent ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE") ||
	    !add_ext(x, parent ? parent : x, NID_key_usage, parent ?
	    "critical,digitalSignature,keyCertSign,cRLSign" : "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, parent ? parent : x, NID_subject_key_identifier, "hash"))
		goto out;
	if (parent != NULL) {
		if (!add_ext(x, parent, NID_authority_key_identifier, "keyid:always") ||
		    !add_ext(x, parent, NID_ext_key_usage, "serverAuth,clientAuth"))
			goto out;
		if (pis->issuer_url != NULL) {
			snprintf(val, sizeof(val), "caIssuers;URI:%s", pis->issuer_url);
			if (!add_ext(x, parent, NID_info_access, val))
				goto out;
		}
		if (is->n_permitted_dns > 0) {
			size_t off = (size_t)snprintf(val, sizeof(val), "critical");
			for (size_t i = 0; i < is->n_permitted_dns && off < sizeof(val); i++)
				off += (size_t)snprintf(val + off, sizeof(val) - off,
				    ",permitted;DNS:%s", is->permitted_dns[i]);
			if (!add_ext(x, parent, NID_name_constraints, val))
				goto out;
		}
	}
	if (hsmkey_wrap(parent ? X509_get0_pubkey(parent) : pub, 0, &signer) != AE_OK)
		goto out;
	c->ht.keys = &c->handle;
	ok = X509_sign(x, signer, hsmkey_md(pis->key_type)) > 0;
out:
	if (!ok) {
		fprintf(stderr, "anvilctl: init: %s: cannot build or sign the certificate%s\n",
		    is->name, subj == NULL ? " (bad subject)" : "");
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(subj);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	EVP_PKEY_free(signer);
	return x;
}

/* The delegated OCSP responder certificate of intermediate is (its certificate ica, its key
 * c->handle): end entity, digitalSignature, id-kp-OCSPSigning, ocsp-nocheck (relying parties
 * do not check a responder's own revocation: it is short-lived instead). */
static X509 *
make_responder_cert(struct ceremony *c, const struct issuer *is, EVP_PKEY *pub, X509 *ica)
{
	X509 *x = X509_new();
	X509_NAME *subj = X509_NAME_new();
	ASN1_INTEGER *sn = NULL;
	EVP_PKEY *signer = NULL;
	BIGNUM *bn = NULL;
	uint8_t rnd[16];
	char cn[128];
	time_t now = time(NULL);
	int ok = 0;

	snprintf(cn, sizeof(cn), "%s OCSP responder", is->name);
	if (x == NULL || subj == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	    -1, 0))
		goto out;
	rnd[0] = (uint8_t)((rnd[0] & 0x7f) | 0x01);
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, sn) ||
	    !X509_set_subject_name(x, subj) || !X509_set_issuer_name(x, X509_get_subject_name(ica)) ||
	    !X509_set_pubkey(x, pub) || ASN1_TIME_set(X509_getm_notBefore(x), now - 3600) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), now + is->responder_days * 86400) == NULL ||
	    !add_ext(x, ica, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, ica, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, ica, NID_ext_key_usage, "OCSPSigning") ||
	    !add_ext(x, ica, NID_id_pkix_OCSP_noCheck, "ignored") ||
	    !add_ext(x, ica, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, ica, NID_authority_key_identifier, "keyid:always") ||
	    hsmkey_wrap(X509_get0_pubkey(ica), 0, &signer) != AE_OK)
		goto out;
	c->ht.keys = &c->handle;
	ok = X509_sign(x, signer, hsmkey_md(is->key_type)) > 0;
out:
	if (!ok) {
		fprintf(stderr, "anvilctl: init: %s: cannot build or sign the OCSP responder "
		    "certificate\n", is->name);
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(subj);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	EVP_PKEY_free(signer);
	return x;
}

/* The responder of intermediate is: its key found or generated on the token, its certificate
 * kept while it matches and has more than a third of its life left, otherwise issued anew and
 * written over the old one (it is short-lived by design: run the ceremony before it ends). */
static int
do_responder(struct ceremony *c, const struct issuer *is, X509 *ica)
{
	struct issuer r = *is;
	EVP_PKEY *pub = NULL, *ipub = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	char *data = NULL;
	long len;
	int ok = 0;

	snprintf(r.name, sizeof(r.name), "%s", is->name);
	r.key_label = is->responder_key_label;
	r.key_id_len = 0;
	if (!cer_ensure_key(c, &r, &pub))
		goto out;
	if ((x = cer_read_cert(is->responder_cert_path)) != NULL &&
	    EVP_PKEY_eq(X509_get0_pubkey(x), pub) == 1 && X509_check_issued(ica, x) == X509_V_OK &&
	    X509_cmp_time(X509_get0_notAfter(x), &(time_t){ time(NULL) +
	    is->responder_days * 86400 / 3 }) > 0) {
		printf("%s: OCSP responder certificate %s is valid; kept\n", is->name,
		    is->responder_cert_path);
		ok = 1;
		goto out;
	}
	X509_free(x);
	/* Signed by the intermediate: its key becomes the one in use. */
	if (!cer_ensure_key(c, is, &ipub) || (x = make_responder_cert(c, is, pub, ica)) == NULL)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(b, x) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0 ||
	    file_write_durable(is->responder_cert_path, data, (size_t)len, 0644, 0) != AE_OK) {
		fprintf(stderr, "anvilctl: init: %s: cannot write %s\n", is->name,
		    is->responder_cert_path);
		goto out;
	}
	printf("wrote %s (OCSP responder of %s, %lld days)\n", is->responder_cert_path,
	    is->name, (long long)is->responder_days);
	ok = 1;
out:
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ipub);
	return ok;
}

int
cer_chain_path(const struct issuer *is, char *out, size_t outsz)
{
	size_t n = strlen(is->cert_path);
	int w;

	if (n > 4 && strcmp(is->cert_path + n - 4, ".pem") == 0)
		w = snprintf(out, outsz, "%.*s-chain.pem", (int)(n - 4), is->cert_path);
	else
		w = snprintf(out, outsz, "%s-chain.pem", is->cert_path);
	return w > 0 && (size_t)w < outsz;
}

/* One issuer: reuse a matching certificate, or make and write one. */
static int
do_issuer(struct ceremony *c, const struct issuer *is, X509 **certs)
{
	const struct issuer *pis = is->parent ? conf_issuer(&c->sc, is->parent) : is;
	X509 *parent = is->parent ? certs[pis->index] : NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	char cp[4096];
	int ok = 0;

	if (is->parent != NULL && parent == NULL)
		return 0;
	/* An external root (an offline or corporate root, anvilctl ceremony): its certificate
	 * is installed, its key is elsewhere. Never make a key for it here: a root key that
	 * does not match the root certificate could only sign intermediates nobody trusts. */
	if (is->parent == NULL && (x = cer_read_cert(is->cert_path)) != NULL) {
		int on = cer_key_on_token(c, is);

		if (on < 0)
			goto out;
		if (on == 0) {
			printf("%s: %s is an external root (its key is not on this token); kept\n",
			    is->name, is->cert_path);
			certs[is->index] = x;
			x = NULL;
			ok = 1;
			goto out;
		}
		X509_free(x);
		x = NULL;
	}
	if (!cer_ensure_key(c, is, &pub))
		goto out;
	if ((x = cer_read_cert(is->cert_path)) != NULL) {
		if (EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1 ||
		    (parent != NULL && X509_check_issued(parent, x) != X509_V_OK)) {
			fprintf(stderr, "anvilctl: init: %s: %s does not match the token key or its "
			    "parent; refusing to overwrite\n", is->name, is->cert_path);
			goto out;
		}
		printf("%s: %s exists and matches; kept\n", is->name, is->cert_path);
		certs[is->index] = x;
		x = NULL;
		ok = 1;
		goto out;
	}
	if (access(is->cert_path, F_OK) == 0) {
		fprintf(stderr, "anvilctl: init: %s: %s exists but is not a PEM certificate\n",
		    is->name, is->cert_path);
		goto out;
	}
	/* Sign with the parent's key (or our own, for a root). */
	if (parent != NULL) {
		EVP_PKEY *ppub = NULL;
		int pok, on = cer_key_on_token(c, pis);

		if (on <= 0) {
			if (on == 0)
				fprintf(stderr, "anvilctl: init: %s: its parent %s is an external "
				    "root (no key on this token): make a CSR with anvilctl ceremony "
				    "csr --issuer %s, have the root sign it, then anvilctl ceremony "
				    "import\n", is->name, pis->name, is->name);
			goto out;
		}
		pok = cer_ensure_key(c, pis, &ppub);
		EVP_PKEY_free(ppub);
		if (!pok)
			goto out;
	}
	if ((x = make_ca_cert(c, is, pub, parent, pis)) == NULL)
		goto out;
	if (!cer_write_pem(is->cert_path, &x, 1))
		goto out;
	if (parent != NULL) {
		X509 *chain[2] = { x, parent };
		if (!cer_chain_path(is, cp, sizeof(cp)) || !cer_write_pem(cp, chain, 2))
			goto out;
	}
	certs[is->index] = x;
	x = NULL;
	ok = 1;
out:
	X509_free(x);
	EVP_PKEY_free(pub);
	return ok;
}

int
cer_key_on_token(struct ceremony *c, const struct issuer *is)
{
	CK_OBJECT_HANDLE h;
	CK_RV rv = CKR_OK;
	anvil_err e = p11_find(&c->m, c->sess, CKO_PRIVATE_KEY, is->key_label,
	    is->key_id_len ? is->key_id : NULL, is->key_id_len, &h, &rv);

	if (e == AE_OK || e == AE_EXISTS)
		return 1;
	if (e == AE_NOTFOUND)
		return 0;
	fprintf(stderr, "anvilctl: %s: cannot search the token (rv=0x%lx)\n", is->name,
	    (unsigned long)rv);
	return -1;
}

int
cer_open(struct ctl *ctl, struct ceremony *c)
{
	char err[512];
	CK_RV rv = CKR_OK;

	memset(c, 0, sizeof(*c));
	if (signer_conf_parse(&ctl->conf, ctl->config, SIGNER_CONF_HSM, &c->sc) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		return -1;
	}
	c->have_sc = 1;
	if (p11_load(&c->m, &c->sc.hsm, err, sizeof(err)) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", err);
		return -1;
	}
	if (p11_session_open(&c->m, c->sc.pin, 1, &c->sess, &rv) != AE_OK) {
		fprintf(stderr, "anvilctl: cannot log in to the token (rv=0x%lx); check signer.pin "
		    "(anvilctl hsm login-test)\n", (unsigned long)rv);
		return -1;
	}
	c->have_sess = 1;
	c->ht.m = &c->m;
	c->ht.session = c->sess;
	c->ht.keys = &c->handle;
	c->ht.nkeys = 1;
	hsmkey_set_thread(&c->ht);
	return 0;
}

void
cer_close(struct ceremony *c)
{
	hsmkey_set_thread(NULL);
	if (c->have_sess)
		p11_session_close(&c->m, c->sess);
	if (c->m.f != NULL)
		p11_unload(&c->m);
	if (c->have_sc)
		signer_conf_free(&c->sc);
}

int
ctl_init(struct ctl *ctl, int argc, char **argv)
{
	struct ceremony c;
	X509 *certs[MAX_ISSUERS] = { NULL };
	int rc = 1;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: anvilctl init\n");
		return 2;
	}
	if (cer_open(ctl, &c) != 0)
		goto out;
	/* Roots first: intermediates need their parent's certificate. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c.sc.nissuers; i++) {
			const struct issuer *is = &c.sc.issuers[i];
			if ((pass == 0) != (is->parent == NULL))
				continue;
			if (!do_issuer(&c, is, certs))
				goto out;
			if (is->responder_key_label != NULL &&
			    !do_responder(&c, is, certs[is->index]))
				goto out;
		}
	printf("ceremony complete: %zu issuer(s)\n", c.sc.nissuers);
	rc = 0;
out:
	for (size_t i = 0; i < MAX_ISSUERS; i++)
		X509_free(certs[i]);
	cer_close(&c);
	return rc;
}
