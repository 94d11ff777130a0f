/* A thin PKCS#11 layer: the module is dlopen'd and driven through its function list so that the
 * signer owns its sessions (one per worker thread), caches key handles, and can reopen a session
 * that a device reset or a logout broke. libp11 0.4.12 hides its session pool and cannot
 * generate EC keys, which is why the hot path does not go through it. */
#ifndef ANVIL_CA_P11_H
#define ANVIL_CA_P11_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
#include "ca/keytype.h"
#include "lib/err.h"

struct p11_module {
	void *dl;
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	int initialized;   /* we called C_Initialize and must C_Finalize */
};

struct p11_where;  /* ca/profile.h: the module, slot or token of the configuration */

/* Loads the module, initialises it for OS threads and finds the slot. */
anvil_err p11_load(struct p11_module *m, const struct p11_where *w, char *err, size_t errlen);
void p11_unload(struct p11_module *m);

/* Opens a session and logs the user in (an already logged-in token is fine). The PIN is passed
 * through untouched: any format (CloudHSM's USER:PASSWORD) works. */
anvil_err p11_session_open(struct p11_module *m, const char *pin, int rw, CK_SESSION_HANDLE *s,
    CK_RV *rv_out);
void p11_session_close(struct p11_module *m, CK_SESSION_HANDLE s);

/* Finds an object of class cls by label (when non-NULL) and/or id; AE_NOTFOUND if none,
 * AE_EXISTS if more than one. */
anvil_err p11_find(struct p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
    const char *label, const uint8_t *id, size_t idlen, CK_OBJECT_HANDLE *out, CK_RV *rv_out);

/* Signs a digest with the key: ECDSA returns the DER ECDSA-Sig-Value; RSA builds the PKCS#1
 * v1.5 DigestInfo for md_nid. sig has room for siglen bytes; *siglen is set. */
anvil_err p11_sign_digest(struct p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
    enum key_type kt, int md_nid, const uint8_t *dgst, size_t dlen, uint8_t *sig,
    size_t *siglen, CK_RV *rv_out);

/* Generates a key pair on the token (private key sensitive, non-extractable). */
anvil_err p11_generate(struct p11_module *m, CK_SESSION_HANDLE s, enum key_type kt,
    const char *label, const uint8_t *id, size_t idlen, CK_RV *rv_out);

/* Reads the public key of the key pair with this label/id (from the public key object, or the
 * private key's attributes) as an EVP_PKEY. */
anvil_err p11_public_key(struct p11_module *m, CK_SESSION_HANDLE s, const char *label,
    const uint8_t *id, size_t idlen, EVP_PKEY **out);

/* True when rv means the session or login is gone and reopening may help. */
int p11_rv_reopen(CK_RV rv);

#endif
