#include "config.h"
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include "ct/response.h"
#include "ct/sth.h"

static anvil_err
fail(char *why, size_t whylen, anvil_err e, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return e;
}

static int
get_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return 0;
	*out = (uint64_t)json_object_get_int64(v);
	return 1;
}

anvil_err
ct_sth_parse(const char *body, size_t len, struct ct_sth *sth, char *why, size_t whylen)
{
	json_object *o;
	uint8_t sig[4 + CT_SCT_SIG_MAX];
	size_t n;
	anvil_err e = AE_PARSE;

	memset(sth, 0, sizeof(*sth));
	if ((o = ct_json_load(body, len, why, whylen)) == NULL)
		return len > CT_RESPONSE_MAX ? AE_TOOBIG : AE_JSON;
	if (!get_u64(o, "tree_size", &sth->tree_size)) {
		fail(why, whylen, e, "tree_size is not a non-negative integer");
		goto out;
	}
	if (!get_u64(o, "timestamp", &sth->timestamp)) {
		fail(why, whylen, e, "timestamp is not a non-negative integer");
		goto out;
	}
	if (ct_json_b64(o, "sha256_root_hash", sth->root_hash, sizeof(sth->root_hash), &n) !=
	    AE_OK || n != 32) {
		fail(why, whylen, e, "sha256_root_hash is not base64 of 32 bytes");
		goto out;
	}
	if (ct_json_b64(o, "tree_head_signature", sig, sizeof(sig), &n) != AE_OK || n < 4 ||
	    ((size_t)sig[2] << 8 | sig[3]) != n - 4 || n - 4 == 0) {
		fail(why, whylen, e, "tree_head_signature is not a base64 DigitallySigned");
		goto out;
	}
	sth->hash_alg = sig[0];
	sth->sig_alg = sig[1];
	sth->sig_len = n - 4;
	memcpy(sth->sig, sig + 4, sth->sig_len);
	e = AE_OK;
out:
	json_object_put(o);
	return e;
}

anvil_err
ct_sth_verify(const struct ct_sth *sth, const struct ct_log_key *key, uint64_t now_ms,
    char *why, size_t whylen)
{
	uint8_t tbs[2 + 8 + 8 + 32];
	EVP_MD_CTX *md = NULL;
	anvil_err e = AE_PARSE;

	if (sth->hash_alg != CT_HASH_SHA256 || sth->sig_alg != key->alg)
		return fail(why, whylen, e, "tree head signature algorithm does not match the "
		    "log's key");
	if (sth->timestamp > now_ms + CT_SKEW_MS)
		return fail(why, whylen, e, "tree head timestamp is in the future");
	/* TreeHeadSignature: version v1, signature_type tree_hash, timestamp, tree_size, root. */
	tbs[0] = 0;
	tbs[1] = 1;
	for (int i = 0; i < 8; i++) {
		tbs[2 + i] = (uint8_t)(sth->timestamp >> (56 - 8 * i));
		tbs[10 + i] = (uint8_t)(sth->tree_size >> (56 - 8 * i));
	}
	memcpy(tbs + 18, sth->root_hash, 32);
	e = AE_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1 ||
	    EVP_DigestVerify(md, sth->sig, sth->sig_len, tbs, sizeof(tbs)) != 1)
		fail(why, whylen, e, "tree head signature does not verify with the configured key");
	else
		e = AE_OK;
	EVP_MD_CTX_free(md);
	return e;
}
