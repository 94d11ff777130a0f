/* lib/pem.c against OpenSSL's PEM writers: fcgi/cert.c serves stored certificates with
 * pem_from_der instead of d2i_X509 + PEM_write_bio_X509, so the two must agree byte for byte. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "lib/pem.h"
#include "t/tap.h"

/* OpenSSL's PEM of data as label, NUL-terminated, malloc'd. */
static char *
openssl_pem(const char *label, const uint8_t *data, size_t len, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out = NULL;
	long n;

	if (b == NULL)
		return NULL;
	if ((x != NULL ? PEM_write_bio_X509(b, x) : PEM_write_bio(b, label, "", data, (long)len)) > 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 && (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return out;
}

static char *
ours(const char *label, const uint8_t *data, size_t len)
{
	size_t need = pem_encoded_len(label, len), got = 0;
	char *out = need ? malloc(need + 1) : NULL;

	if (out == NULL)
		return NULL;
	if (pem_from_der(label, data, len, out, need + 1, &got) != AE_OK || got != need ||
	    strlen(out) != need) {
		free(out);
		return NULL;
	}
	return out;
}

/* A self-signed P-256 certificate whose CN and O have cnlen characters together: DER of every
 * length mod 48. */
static X509 *
make_cert(EVP_PKEY *key, size_t cnlen)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	char cn[128];

	memset(cn, 'a', cnlen);
	cn[cnlen] = '\0';
	if (x == NULL || nm == NULL ||
	    !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (unsigned char *)cn + cnlen / 2,
	    -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (unsigned char *)cn,
	    (int)(cnlen - cnlen / 2), -1, 0) ||
	    !X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), 7) ||
	    !X509_set_subject_name(x, nm) ||
	    !X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"issuer", -1, -1, 0) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || !X509_set_pubkey(x, key) ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(nm);
	return x;
}

int
main(void)
{
	uint8_t data[300];
	EVP_PKEY *key = EVP_EC_gen("P-256");
	int same = 1, certs_same = 1, seen[48] = { 0 }, residues = 0;
	char buf[256];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 1; len <= sizeof(data); len++) {
		char *a = openssl_pem("CERTIFICATE", data, len, NULL), *b = ours("CERTIFICATE",
		    data, len);
		if (a == NULL || b == NULL || strcmp(a, b) != 0) {
			diag("length %zu differs", len);
			same = 0;
		}
		free(a);
		free(b);
	}
	ok(same, "pem_from_der equals PEM_write_bio for every length 1..300");

	for (size_t cnlen = 2; cnlen <= 110 && key != NULL; cnlen++) {
		X509 *x = make_cert(key, cnlen);
		unsigned char *der = NULL;
		int len = x != NULL ? i2d_X509(x, &der) : -1;
		char *a = NULL, *b = NULL;
		if (len > 0) {
			a = openssl_pem(NULL, NULL, 0, x);
			b = ours("CERTIFICATE", der, (size_t)len);
			if (!seen[len % 48]++)
				residues++;
		}
		if (len <= 0 || a == NULL || b == NULL || strcmp(a, b) != 0 ||
		    !pem_der_is_one_sequence(der, (size_t)len)) {
			diag("certificate with names of %zu characters differs", cnlen);
			certs_same = 0;
		}
		free(a);
		free(b);
		OPENSSL_free(der);
		X509_free(x);
	}
	ok(key != NULL && certs_same, "certificates: pem_from_der(DER) equals "
	    "PEM_write_bio_X509(d2i_X509(DER))");
	ok(residues >= 40, "the certificates covered %d of the 48 line remainders", residues);

	ok(pem_encoded_len("CERTIFICATE", 0) == 0 &&
	    pem_from_der("CERTIFICATE", data, 0, buf, sizeof(buf), NULL) == AE_PARSE,
	    "nothing to encode is refused");
	ok(pem_from_der("CERTIFICATE", data, 10, buf, pem_encoded_len("CERTIFICATE", 10), NULL) ==
	    AE_TOOBIG && pem_from_der("CERTIFICATE", data, 10, buf,
	    pem_encoded_len("CERTIFICATE", 10) + 1, NULL) == AE_OK,
	    "the output size counts the NUL");

	{
		static const uint8_t good[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
		static const uint8_t trailing[] = { 0x30, 0x03, 0x02, 0x01, 0x05, 0x00 };
		static const uint8_t shortv[] = { 0x30, 0x04, 0x02, 0x01, 0x05 };
		static const uint8_t notseq[] = { 0x31, 0x03, 0x02, 0x01, 0x05 };
		static const uint8_t indef[] = { 0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00 };
		static const uint8_t nonmin[] = { 0x30, 0x81, 0x03, 0x02, 0x01, 0x05 };
		uint8_t big[300];
		big[0] = 0x30;
		big[1] = 0x82;
		big[2] = 0x01;
		big[3] = 0x28;  /* 296 = 300 - 4 */
		memset(big + 4, 0, sizeof(big) - 4);
		ok(pem_der_is_one_sequence(good, sizeof(good)) &&
		    pem_der_is_one_sequence(big, sizeof(big)), "one DER SEQUENCE is accepted");
		ok(!pem_der_is_one_sequence(trailing, sizeof(trailing)) &&
		    !pem_der_is_one_sequence(shortv, sizeof(shortv)) &&
		    !pem_der_is_one_sequence(notseq, sizeof(notseq)) &&
		    !pem_der_is_one_sequence(indef, sizeof(indef)) &&
		    !pem_der_is_one_sequence(nonmin, sizeof(nonmin)) &&
		    !pem_der_is_one_sequence(big, sizeof(big) - 1) &&
		    !pem_der_is_one_sequence(good, 1), "trailing bytes, short values, other tags, "
		    "indefinite and non-minimal lengths are refused");
	}
	EVP_PKEY_free(key);
	return done_testing();
}
