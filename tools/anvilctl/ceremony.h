/* The key ceremony's shared parts (tools/anvilctl/init.c): the token session with an HSM key
 * bound for OpenSSL's signing calls, the issuers' keys and certificate files. Used by
 * `anvilctl init` and `anvilctl ceremony`; PKCS#11 stays in these two (t/0009). */
#ifndef ANVIL_CTL_CEREMONY_H
#define ANVIL_CTL_CEREMONY_H
#include <stddef.h>
#include <openssl/x509.h>
#include "ca/hsmkey.h"
#include "ca/p11.h"
#include "ca/profile.h"
#include "tools/anvilctl/ctl.h"

struct ceremony {
	struct signer_conf sc;
	int have_sc;
	struct p11_module m;
	CK_SESSION_HANDLE sess;
	int have_sess;
	CK_OBJECT_HANDLE handle;   /* the key signing right now */
	struct hsm_thread ht;
};

/* The signer section's token, logged in read-write, bound to this thread; -1 with a message
 * naming the key at fault. cer_close undoes what cer_open did, also after a failure. */
int cer_open(struct ctl *ctl, struct ceremony *c);
void cer_close(struct ceremony *c);
/* Finds the issuer's key on the token (generating it when absent) and makes it the one
 * hsmkey signs with; *pub its public key. 0 with a message on failure. */
int cer_ensure_key(struct ceremony *c, const struct issuer *is, EVP_PKEY **pub);
/* 1 when the issuer's private key is on the token, 0 when not, -1 with a message on error. */
int cer_key_on_token(struct ceremony *c, const struct issuer *is);
/* "CN=...,O=..." of the configuration; NULL when malformed. */
X509_NAME *cer_parse_subject(const char *s);
/* The first certificate of a PEM file; NULL when there is none. */
X509 *cer_read_cert(const char *path);
/* Writes certs as PEM, durably, never over an existing file; 0 with a message on failure. */
int cer_write_pem(const char *path, X509 *const *certs, size_t n);
/* An intermediate's chain file: its cert path with -chain.pem for .pem. */
int cer_chain_path(const struct issuer *is, char *out, size_t outsz);

#endif
