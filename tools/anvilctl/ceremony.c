/* anvilctl ceremony csr|import: an intermediate under a root that is not on this token (an
 * offline root, a corporate PKI). csr makes (or finds) the intermediate's key on the HSM and
 * prints a CSR signed by it; the root's owner signs it; import checks that what comes back is a
 * CA certificate for that key, issued by the root, and installs it (and the root certificate,
 * the first time) where the configuration says. From then on the intermediate is like one
 * `anvilctl init` made: init keeps it, anvil-signer loads it. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "lib/fileio.h"
#include "tools/anvilctl/ceremony.h"
#include "tools/anvilctl/ctl.h"

#define CERT_FILE_MAX (1024 * 1024)   /* a PEM file of a few certificates */

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl ceremony csr --issuer NAME [--out FILE]\n"
	    "       anvilctl ceremony import --issuer NAME [--root ROOT_PEM] CERT_PEM\n");
	return 2;
}

/* The configured intermediate NAME; NULL with a message. */
static const struct issuer *
intermediate(struct ceremony *c, const char *name)
{
	const struct issuer *is = conf_issuer(&c->sc, name);

	if (is == NULL) {
		fprintf(stderr, "anvilctl: ceremony: no issuer '%s' in the issuers section\n", name);
		return NULL;
	}
	if (is->parent == NULL) {
		fprintf(stderr, "anvilctl: ceremony: issuers.%s is a root; the ceremony makes "
		    "intermediates (issuers.NAME.parent names their root)\n", name);
		return NULL;
	}
	return is;
}

static int
add_req_ext(STACK_OF(X509_EXTENSION) *exts, int nid, const char *val)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, NULL, nid, val);

	if (e == NULL)
		return 0;
	if (!sk_X509_EXTENSION_push(exts, e)) {
		X509_EXTENSION_free(e);
		return 0;
	}
	return 1;
}

/* The CSR: the configured subject, the HSM key, and the extensions an intermediate needs
 * requested (the root's owner decides; `openssl x509 -req -copy_extensions copy` takes them). */
static int
ceremony_csr(struct ctl *ctl, const char *name, const char *out)
{
	struct ceremony c;
	const struct issuer *is;
	EVP_PKEY *pub = NULL, *signer = NULL;
	X509_REQ *req = NULL;
	X509_NAME *subj = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BIO *b = NULL;
	char *data = NULL;
	long len;
	int rc = 1;
	anvil_err e;

	if (cer_open(ctl, &c) != 0 || (is = intermediate(&c, name)) == NULL)
		goto out;
	if (!cer_ensure_key(&c, is, &pub))
		goto out;
	if ((subj = cer_parse_subject(is->subject)) == NULL) {
		fprintf(stderr, "anvilctl: ceremony: issuers.%s.subject is not NAME=VALUE,...\n",
		    name);
		goto out;
	}
	if ((req = X509_REQ_new()) == NULL || (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, subj) || !X509_REQ_set_pubkey(req, pub) ||
	    !add_req_ext(exts, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_req_ext(exts, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") ||
	    !X509_REQ_add_extensions(req, exts) ||
	    hsmkey_wrap(pub, 0, &signer) != AE_OK ||
	    X509_REQ_sign(req, signer, hsmkey_md(is->key_type)) <= 0) {
		fprintf(stderr, "anvilctl: ceremony: %s: cannot build or sign the CSR with the HSM "
		    "key\n", name);
		goto out;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_REQ(b, req) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0)
		goto out;
	if (out == NULL) {
		fwrite(data, 1, (size_t)len, stdout);
	} else if ((e = file_write_durable(out, data, (size_t)len, 0644, 1)) != AE_OK) {
		fprintf(stderr, "anvilctl: ceremony: cannot write %s: %s\n", out,
		    e == AE_EXISTS ? "it exists" : anvil_strerror(e));
		goto out;
	}
	ctl_audit("ceremony-csr issuer=%s key=%s subject=\"%s\"", name,
	    is->key_label ? is->key_label : "(by id)", is->subject);
	if (out != NULL)
		fprintf(stderr, "anvilctl: CSR for %s written to %s; have the root sign it as a CA "
		    "certificate, then: anvilctl ceremony import --issuer %s CERT\n", name, out, name);
	rc = 0;
out:
	BIO_free(b);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	EVP_PKEY_free(signer);
	EVP_PKEY_free(pub);
	cer_close(&c);
	return rc;
}

/* What makes a certificate an intermediate anvil-signer can issue with. NULL when fine, else
 * the reason. */
static const char *
ca_problem(X509 *x, const struct issuer *is, EVP_PKEY *hsm_pub)
{
	time_t now = time(NULL);

	if (EVP_PKEY_eq(X509_get0_pubkey(x), hsm_pub) != 1)
		return "its public key is not the HSM key of this issuer (a certificate for "
		    "another CSR?)";
	if (key_type_of(X509_get0_pubkey(x)) != is->key_type)
		return "its key type differs from the issuer's key_type";
	/* X509_check_ca also accepts a v1 self-signed or a Netscape CA: require the extension. */
	if (!(X509_get_extension_flags(x) & EXFLAG_BCONS) || X509_check_ca(x) != 1)
		return "it is not a CA certificate (basicConstraints CA:TRUE is missing)";
	if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
		return "its keyUsage lacks keyCertSign";
	if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0)
		return "it has expired";
	if (X509_cmp_time(X509_get0_notBefore(x), &(time_t){ now + 86400 }) > 0)
		return "it is not valid before tomorrow (check the root's clock)";
	return NULL;
}

/* Writes x to path, or accepts an identical file there already; 0 with a message. */
static int
install(const char *path, X509 *const *certs, size_t n, const char *what)
{
	X509 *old = cer_read_cert(path);
	int same = old != NULL && X509_cmp(old, certs[0]) == 0;

	X509_free(old);
	if (same) {
		printf("%s: %s holds it already\n", what, path);
		return 1;
	}
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "anvilctl: ceremony: %s exists and holds another certificate; move "
		    "it away first (it is never overwritten)\n", path);
		return 0;
	}
	return cer_write_pem(path, certs, n);
}

static int
ceremony_import(struct ctl *ctl, const char *name, const char *root_path, const char *path)
{
	struct ceremony c;
	const struct issuer *is, *ris;
	EVP_PKEY *hpub = NULL;
	X509 *x = NULL, *root = NULL, *have_root = NULL;
	const char *why;
	char cp[4096], subj[512];
	int rc = 1, on;

	if (cer_open(ctl, &c) != 0 || (is = intermediate(&c, name)) == NULL)
		goto out;
	ris = conf_issuer(&c.sc, is->parent);
	if ((x = cer_read_cert(path)) == NULL) {
		fprintf(stderr, "anvilctl: ceremony: %s holds no PEM certificate\n", path);
		goto out;
	}
	/* The key must be there already (ceremony csr made it): never generate one here. */
	if ((on = cer_key_on_token(&c, is)) <= 0) {
		if (on == 0)
			fprintf(stderr, "anvilctl: ceremony: issuers.%s: no key '%s' on the token "
			    "(anvilctl ceremony csr makes it)\n", name,
			    is->key_label ? is->key_label : "(by id)");
		goto out;
	}
	if (!cer_ensure_key(&c, is, &hpub))
		goto out;
	if ((why = ca_problem(x, is, hpub)) != NULL) {
		fprintf(stderr, "anvilctl: ceremony: %s is refused for issuer %s: %s\n", path, name,
		    why);
		goto out;
	}
	have_root = cer_read_cert(ris->cert_path);
	if (root_path != NULL && (root = cer_read_cert(root_path)) == NULL) {
		fprintf(stderr, "anvilctl: ceremony: %s holds no PEM certificate\n", root_path);
		goto out;
	}
	if (root == NULL && have_root == NULL) {
		fprintf(stderr, "anvilctl: ceremony: issuers.%s.cert (%s) does not exist: give the "
		    "root certificate with --root\n", ris->name, ris->cert_path);
		goto out;
	}
	if (root != NULL && have_root != NULL && X509_cmp(root, have_root) != 0) {
		fprintf(stderr, "anvilctl: ceremony: --root %s is not the root installed at "
		    "issuers.%s.cert (%s)\n", root_path, ris->name, ris->cert_path);
		goto out;
	}
	if (root == NULL) {
		root = have_root;
		have_root = NULL;
	}
	if (X509_check_ca(root) != 1) {
		fprintf(stderr, "anvilctl: ceremony: the root certificate of %s is not a CA "
		    "certificate (basicConstraints CA:TRUE is missing)\n", ris->name);
		goto out;
	}
	if (X509_check_issued(root, x) != X509_V_OK || X509_verify(x, X509_get0_pubkey(root)) != 1) {
		fprintf(stderr, "anvilctl: ceremony: %s is not issued by the root %s (name, key "
		    "identifier or signature differ)\n", path, ris->name);
		goto out;
	}
	if (have_root == NULL && !install(ris->cert_path, &root, 1, ris->name))
		goto out;
	{
		X509 *chain[2] = { x, root };

		if (!install(is->cert_path, &x, 1, name) || !cer_chain_path(is, cp, sizeof(cp)) ||
		    !install(cp, chain, 2, name))
			goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	ctl_audit("ceremony-import issuer=%s subject=\"%s\" root=%s", name, subj, ris->name);
	printf("%s: installed; restart anvil-signer (and reload anvil-fcgi, restart anvil-jobs) "
	    "to use it\n", name);
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(hpub);
	X509_free(x);
	X509_free(root);
	X509_free(have_root);
	cer_close(&c);
	return rc;
}

int
ctl_ceremony(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "root", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *name = NULL, *out = NULL, *root = NULL;
	int ch;

	if (argc < 2)
		return usage();
	sub = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "i:o:r:", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': name = optarg; break;
		case 'o': out = optarg; break;
		case 'r': root = optarg; break;
		default: return usage();
		}
	}
	if (name == NULL)
		return usage();
	if (strcmp(sub, "csr") == 0 && optind == argc && root == NULL)
		return ceremony_csr(ctl, name, out);
	if (strcmp(sub, "import") == 0 && optind == argc - 1 && out == NULL)
		return ceremony_import(ctl, name, root, argv[optind]);
	return usage();
}
