#include "config.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "ca/p11.h"
#include "ca/profile.h"

int
p11_rv_reopen(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_KEY_HANDLE_INVALID:
		return 1;
	default:
		return 0;
	}
}

/* Token labels are blank-padded to 32 bytes. */
static int
label_eq(const unsigned char padded[32], const char *want)
{
	size_t n = strlen(want), end = 32;

	while (end > 0 && padded[end - 1] == ' ')
		end--;
	return n == end && memcmp(padded, want, n) == 0;
}

anvil_err
p11_load(struct p11_module *m, const struct p11_where *w, char *err, size_t errlen)
{
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS args;
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;
	anvil_err e = AE_SIGNER_HSM;
	int found = 0;

	memset(m, 0, sizeof(*m));
	m->dl = dlopen(w->module, RTLD_NOW | RTLD_LOCAL);
	if (m->dl == NULL) {
		snprintf(err, errlen, "cannot load PKCS#11 module %s: %s", w->module, dlerror());
		goto out;
	}
	*(void **)&getfl = dlsym(m->dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&m->f) != CKR_OK || m->f == NULL) {
		snprintf(err, errlen, "%s: no usable C_GetFunctionList", w->module);
		goto out;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		snprintf(err, errlen, "C_Initialize failed: rv=0x%lx", (unsigned long)rv);
		goto out;
	}
	m->initialized = rv == CKR_OK;
	if ((rv = m->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK || n == 0 || n > 4096) {
		snprintf(err, errlen, "no token present (rv=0x%lx)", (unsigned long)rv);
		goto out;
	}
	if ((slots = calloc(n, sizeof(*slots))) == NULL) {
		e = AE_NOMEM;
		goto out;
	}
	if ((rv = m->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		snprintf(err, errlen, "C_GetSlotList failed: rv=0x%lx", (unsigned long)rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n && !found; i++) {
		CK_TOKEN_INFO ti;
		if (w->slot_id >= 0) {
			found = slots[i] == (CK_SLOT_ID)w->slot_id;
		} else if (m->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK) {
			found = label_eq(ti.label, w->token_label);
		}
		if (found)
			m->slot = slots[i];
	}
	if (!found) {
		if (w->slot_id >= 0)
			snprintf(err, errlen, "no token in slot %lld", (long long)w->slot_id);
		else
			snprintf(err, errlen, "no token labelled '%s'", w->token_label);
		goto out;
	}
	e = AE_OK;
out:
	free(slots);
	if (e != AE_OK)
		p11_unload(m);
	return e;
}

void
p11_unload(struct p11_module *m)
{
	if (m->f != NULL && m->initialized)
		m->f->C_Finalize(NULL);
	if (m->dl != NULL)
		dlclose(m->dl);
	memset(m, 0, sizeof(*m));
}

anvil_err
p11_session_open(struct p11_module *m, const char *pin, int rw, CK_SESSION_HANDLE *s,
    CK_RV *rv_out)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv;

	rv = m->f->C_OpenSession(m->slot, flags, NULL, NULL, s);
	if (rv == CKR_OK && pin != NULL) {
		rv = m->f->C_Login(*s, CKU_USER, (CK_UTF8CHAR *)pin, (CK_ULONG)strlen(pin));
		if (rv == CKR_USER_ALREADY_LOGGED_IN)
			rv = CKR_OK;
		if (rv != CKR_OK)
			m->f->C_CloseSession(*s);
	}
	if (rv_out != NULL)
		*rv_out = rv;
	return rv == CKR_OK ? AE_OK : AE_SIGNER_HSM;
}

void
p11_session_close(struct p11_module *m, CK_SESSION_HANDLE s)
{
	m->f->C_CloseSession(s);
}

anvil_err
p11_find(struct p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
    const uint8_t *id, size_t idlen, CK_OBJECT_HANDLE *out, CK_RV *rv_out)
{
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG nt = 0, found = 0;
	CK_OBJECT_HANDLE h[2];
	CK_RV rv;

	tmpl[nt++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	if (label != NULL)
		tmpl[nt++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
	if (id != NULL && idlen > 0)
		tmpl[nt++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, idlen };
	rv = m->f->C_FindObjectsInit(s, tmpl, nt);
	if (rv == CKR_OK) {
		rv = m->f->C_FindObjects(s, h, 2, &found);
		CK_RV rv2 = m->f->C_FindObjectsFinal(s);
		if (rv == CKR_OK)
			rv = rv2;
	}
	if (rv_out != NULL)
		*rv_out = rv;
	if (rv != CKR_OK)
		return AE_SIGNER_HSM;
	if (found == 0)
		return AE_NOTFOUND;
	if (found > 1)
		return AE_EXISTS;
	*out = h[0];
	return AE_OK;
}

/* DER DigestInfo prefixes for PKCS#1 v1.5 (RFC 8017 section 9.2, note 1). */
static const uint8_t di_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
static const uint8_t di_sha384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
static const uint8_t di_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };

anvil_err
p11_sign_digest(struct p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
    enum key_type kt, int md_nid, const uint8_t *dgst, size_t dlen, uint8_t *sig,
    size_t *siglen, CK_RV *rv_out)
{
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	uint8_t in[128], raw[1024];
	CK_ULONG inlen = 0, rawlen = sizeof(raw);
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *sv = NULL;
	unsigned char *p;
	anvil_err e = AE_SIGNER_HSM;
	CK_RV rv = CKR_OK;

	if (dlen > 64)
		return AE_INTERNAL;
	if (key_type_is_rsa(kt)) {
		const uint8_t *pre = md_nid == NID_sha256 ? di_sha256 :
		    md_nid == NID_sha384 ? di_sha384 : md_nid == NID_sha512 ? di_sha512 : NULL;
		if (pre == NULL || (size_t)pre[sizeof(di_sha256) - 1] != dlen)
			return AE_INTERNAL;
		mech.mechanism = CKM_RSA_PKCS;
		memcpy(in, pre, sizeof(di_sha256));
		memcpy(in + sizeof(di_sha256), dgst, dlen);
		inlen = (CK_ULONG)(sizeof(di_sha256) + dlen);
	} else {
		memcpy(in, dgst, dlen);
		inlen = (CK_ULONG)dlen;
	}
	rv = m->f->C_SignInit(s, &mech, key);
	if (rv == CKR_OK)
		rv = m->f->C_Sign(s, in, inlen, raw, &rawlen);
	if (rv != CKR_OK)
		goto out;
	if (key_type_is_rsa(kt)) {
		if (rawlen > *siglen)
			goto out;
		memcpy(sig, raw, rawlen);
		*siglen = rawlen;
		e = AE_OK;
		goto out;
	}
	/* PKCS#11 returns r || s; X.509 wants the DER ECDSA-Sig-Value. */
	if (rawlen % 2 != 0 || rawlen == 0)
		goto out;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(raw, (int)(rawlen / 2), NULL)) == NULL ||
	    (sv = BN_bin2bn(raw + rawlen / 2, (int)(rawlen / 2), NULL)) == NULL)
		goto out;
	ECDSA_SIG_set0(es, r, sv);
	r = sv = NULL;
	if ((size_t)i2d_ECDSA_SIG(es, NULL) > *siglen)
		goto out;
	p = sig;
	*siglen = (size_t)i2d_ECDSA_SIG(es, &p);
	e = AE_OK;
out:
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(es);
	if (rv_out != NULL)
		*rv_out = rv;
	return e;
}

anvil_err
p11_generate(struct p11_module *m, CK_SESSION_HANDLE s, enum key_type kt, const char *label,
    const uint8_t *id, size_t idlen, CK_RV *rv_out)
{
	/* DER OIDs of the curves (CKA_EC_PARAMS is the namedCurve OID). */
	static const uint8_t p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const uint8_t p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const uint8_t f4[] = { 0x01, 0x00, 0x01 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = kt == KT_RSA_2048 ? 2048 : kt == KT_RSA_3072 ? 3072 : 4096;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub[6], priv[8];
	CK_ULONG np = 0, nv = 0;
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv;

	pub[np++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_VERIFY, &yes, sizeof(yes) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, idlen };
	if (key_type_is_rsa(kt)) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		pub[np++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof(bits) };
		pub[np++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4) };
	} else {
		const uint8_t *c = kt == KT_EC_P384 ? p384 : p256;
		pub[np++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)c,
			kt == KT_EC_P384 ? sizeof(p384) : sizeof(p256) };
	}
	priv[nv++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	priv[nv++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &yes, sizeof(yes) };
	priv[nv++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &yes, sizeof(yes) };
	priv[nv++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &no, sizeof(no) };
	priv[nv++] = (CK_ATTRIBUTE){ CKA_SIGN, &yes, sizeof(yes) };
	priv[nv++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
	priv[nv++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, idlen };
	rv = m->f->C_GenerateKeyPair(s, &mech, pub, np, priv, nv, &hpub, &hpriv);
	if (rv_out != NULL)
		*rv_out = rv;
	return rv == CKR_OK ? AE_OK : AE_SIGNER_HSM;
}

/* Reads one attribute into a malloc'd buffer (capped at 8 KiB). */
static CK_RV
get_attr(struct p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t,
    uint8_t **out, size_t *outlen)
{
	CK_ATTRIBUTE a = { t, NULL, 0 };
	CK_RV rv = m->f->C_GetAttributeValue(s, h, &a, 1);

	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 8192)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = m->f->C_GetAttributeValue(s, h, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*out = a.pValue;
	*outlen = a.ulValueLen;
	return CKR_OK;
}

anvil_err
p11_public_key(struct p11_module *m, CK_SESSION_HANDLE s, const char *label, const uint8_t *id,
    size_t idlen, EVP_PKEY **out)
{
	CK_OBJECT_HANDLE h;
	CK_KEY_TYPE kt;
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	uint8_t *v1 = NULL, *v2 = NULL;
	size_t l1 = 0, l2 = 0;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	BIGNUM *n = NULL, *ex = NULL;
	ASN1_OCTET_STRING *pt = NULL;
	ASN1_OBJECT *oid = NULL;
	char curve[64];  /* referenced by the param builder until OSSL_PARAM_BLD_to_param */
	anvil_err e;

	*out = NULL;
	if ((e = p11_find(m, s, CKO_PUBLIC_KEY, label, id, idlen, &h, NULL)) != AE_OK)
		return e;
	e = AE_SIGNER_HSM;
	if (m->f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if (kt == CKK_RSA) {
		if (get_attr(m, s, h, CKA_MODULUS, &v1, &l1) != CKR_OK ||
		    get_attr(m, s, h, CKA_PUBLIC_EXPONENT, &v2, &l2) != CKR_OK ||
		    (n = BN_bin2bn(v1, (int)l1, NULL)) == NULL ||
		    (ex = BN_bin2bn(v2, (int)l2, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex))
			goto out;
		pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else if (kt == CKK_EC) {
		const unsigned char *p;
		if (get_attr(m, s, h, CKA_EC_PARAMS, &v1, &l1) != CKR_OK ||
		    get_attr(m, s, h, CKA_EC_POINT, &v2, &l2) != CKR_OK)
			goto out;
		p = v1;
		if ((oid = d2i_ASN1_OBJECT(NULL, &p, (long)l1)) == NULL ||
		    OBJ_obj2txt(curve, sizeof(curve), oid, 0) <= 0)
			goto out;
		/* CKA_EC_POINT is a DER OCTET STRING around the uncompressed point. */
		p = v2;
		if ((pt = d2i_ASN1_OCTET_STRING(NULL, &p, (long)l2)) == NULL ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
		    ASN1_STRING_get0_data(pt), (size_t)ASN1_STRING_length(pt)))
			goto out;
		pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else {
		goto out;
	}
	if (pctx == NULL || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	e = AE_OK;
out:
	free(v1);
	free(v2);
	BN_free(n);
	BN_free(ex);
	ASN1_OCTET_STRING_free(pt);
	ASN1_OBJECT_free(oid);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pctx);
	return e;
}
