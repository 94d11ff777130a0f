#include "config.h"
#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/sha.h>
#include "lib/b64url.h"
#include "ct/sct.h"

#define KEY_DER_MAX 4096

static void
say(char *why, size_t whylen, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
}

anvil_err
ct_log_key_load(struct ct_log_key *k, const char *b64, char *why, size_t whylen)
{
	uint8_t der[KEY_DER_MAX];
	const uint8_t *p = der;
	unsigned char *re = NULL;
	size_t len;
	int relen;
	char group[32];

	memset(k, 0, sizeof(*k));
	if (b64_decode(b64, strlen(b64), der, sizeof(der), &len) != AE_OK) {
		say(why, whylen, "not strict base64 of at most 4096 bytes");
		return AE_CONFIG;
	}
	if ((k->pkey = d2i_PUBKEY(NULL, &p, (long)len)) == NULL || p != der + len) {
		say(why, whylen, "not a DER SubjectPublicKeyInfo");
		goto bad;
	}
	switch (EVP_PKEY_get_base_id(k->pkey)) {
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		    sizeof(group), NULL) || strcmp(group, "prime256v1") != 0) {
			say(why, whylen, "an ECDSA log key must be on P-256 (RFC 6962 section 2.1.4)");
			goto bad;
		}
		k->alg = CT_SIG_ECDSA;
		break;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(k->pkey) < 2048) {
			say(why, whylen, "an RSA log key must have at least 2048 bits");
			goto bad;
		}
		k->alg = CT_SIG_RSA;
		break;
	default:
		say(why, whylen, "must be an ECDSA P-256 or RSA key");
		goto bad;
	}
	/* The log id is the hash of the key's canonical encoding, as logs and OpenSSL compute it. */
	if ((relen = i2d_PUBKEY(k->pkey, &re)) <= 0) {
		say(why, whylen, "cannot encode the key");
		goto bad;
	}
	SHA256(re, (size_t)relen, k->id);
	OPENSSL_free(re);
	return AE_OK;
bad:
	ct_log_key_clear(k);
	return AE_CONFIG;
}

void
ct_log_key_clear(struct ct_log_key *k)
{
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

/* A bounded reader over the serialized form. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static int
get(struct rd *r, size_t n, uint64_t *v)
{
	if (r->left < n)
		return 0;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | r->p[i];
	r->p += n;
	r->left -= n;
	return 1;
}

static int
get_bytes(struct rd *r, size_t n, uint8_t *out)
{
	if (r->left < n)
		return 0;
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return 1;
}

anvil_err
ct_sct_parse(const uint8_t *p, size_t len, struct ct_sct *s)
{
	struct rd r = { p, len };
	uint64_t v, n;

	memset(s, 0, sizeof(*s));
	if (!get(&r, 1, &v))
		return AE_PARSE;
	s->version = (uint8_t)v;
	/* Another version has another layout: nothing after the version can be read. */
	if (s->version != 0)
		return AE_PARSE;
	if (!get_bytes(&r, 32, s->log_id) || !get(&r, 8, &s->timestamp) || !get(&r, 2, &n))
		return AE_PARSE;
	if (n > CT_SCT_EXT_MAX)
		return AE_TOOBIG;
	if (!get_bytes(&r, (size_t)n, s->ext))
		return AE_PARSE;
	s->ext_len = (size_t)n;
	if (!get(&r, 1, &v))
		return AE_PARSE;
	s->hash_alg = (uint8_t)v;
	if (!get(&r, 1, &v))
		return AE_PARSE;
	s->sig_alg = (uint8_t)v;
	if (!get(&r, 2, &n))
		return AE_PARSE;
	if (n > CT_SCT_SIG_MAX)
		return AE_TOOBIG;
	if (n == 0 || !get_bytes(&r, (size_t)n, s->sig))
		return AE_PARSE;
	s->sig_len = (size_t)n;
	return r.left == 0 ? AE_OK : AE_PARSE;
}

static anvil_err
put(struct buf *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];

	for (size_t i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return buf_append(b, tmp, n);
}

anvil_err
ct_sct_serialize(const struct ct_sct *s, struct buf *b)
{
	anvil_err e;

	if (s->ext_len > CT_SCT_EXT_MAX || s->sig_len > CT_SCT_SIG_MAX)
		return AE_INTERNAL;
	if ((e = put(b, s->version, 1)) != AE_OK ||
	    (e = buf_append(b, s->log_id, 32)) != AE_OK ||
	    (e = put(b, s->timestamp, 8)) != AE_OK ||
	    (e = put(b, s->ext_len, 2)) != AE_OK ||
	    (e = buf_append(b, s->ext, s->ext_len)) != AE_OK ||
	    (e = put(b, s->hash_alg, 1)) != AE_OK ||
	    (e = put(b, s->sig_alg, 1)) != AE_OK ||
	    (e = put(b, s->sig_len, 2)) != AE_OK)
		return e;
	return buf_append(b, s->sig, s->sig_len);
}

/* RFC 6962 section 3.2: the digitally-signed struct of a v1 certificate_timestamp. */
static anvil_err
signed_data(const struct ct_sct *s, const struct ct_entry *entry, struct buf *b)
{
	anvil_err e;

	if (entry->len == 0 || entry->len > 0xffffff)
		return AE_RANGE;
	if ((e = put(b, 0, 1)) != AE_OK ||                   /* sct_version v1 */
	    (e = put(b, 0, 1)) != AE_OK ||                   /* certificate_timestamp */
	    (e = put(b, s->timestamp, 8)) != AE_OK ||
	    (e = put(b, entry->type, 2)) != AE_OK)
		return e;
	if (entry->type == CT_ENTRY_PRECERT &&
	    (e = buf_append(b, entry->issuer_key_hash, 32)) != AE_OK)
		return e;
	if ((e = put(b, entry->len, 3)) != AE_OK ||
	    (e = buf_append(b, entry->der, entry->len)) != AE_OK ||
	    (e = put(b, s->ext_len, 2)) != AE_OK)
		return e;
	return buf_append(b, s->ext, s->ext_len);
}

anvil_err
ct_sct_verify(const struct ct_sct *s, const struct ct_log_key *key,
    const struct ct_entry *entry, uint64_t now_ms, char *why, size_t whylen)
{
	struct buf b;
	EVP_MD_CTX *md = NULL;
	anvil_err e = AE_PARSE;

	buf_init(&b, 16u << 20);
	if (s->version != 0) {
		say(why, whylen, "SCT version is not v1");
		goto out;
	}
	if (memcmp(s->log_id, key->id, 32) != 0) {
		say(why, whylen, "SCT log id is not this log's key");
		goto out;
	}
	if (s->hash_alg != CT_HASH_SHA256 || s->sig_alg != key->alg) {
		say(why, whylen, "SCT signature algorithm does not match the log's key");
		goto out;
	}
	if (s->timestamp > now_ms + CT_SKEW_MS) {
		say(why, whylen, "SCT timestamp is in the future");
		goto out;
	}
	if ((e = signed_data(s, entry, &b)) != AE_OK) {
		say(why, whylen, "cannot build the signed data");
		goto out;
	}
	e = AE_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1 ||
	    EVP_DigestVerify(md, s->sig, s->sig_len, b.data, b.len) != 1) {
		say(why, whylen, "SCT signature does not verify with the log's key");
		goto out;
	}
	e = AE_OK;
out:
	EVP_MD_CTX_free(md);
	buf_free(&b);
	return e;
}

anvil_err
ct_sct_list_encode(const struct ct_sct *const *scts, size_t n, struct buf *b)
{
	anvil_err e;

	buf_reset(b);
	if (n == 0)
		return AE_RANGE;
	if ((e = put(b, 0, 2)) != AE_OK)
		return e;
	for (size_t i = 0; i < n; i++) {
		size_t at = b->len;
		if ((e = put(b, 0, 2)) != AE_OK || (e = ct_sct_serialize(scts[i], b)) != AE_OK)
			return e;
		b->data[at] = (uint8_t)((b->len - at - 2) >> 8);
		b->data[at + 1] = (uint8_t)(b->len - at - 2);
	}
	if (b->len > CT_SCT_LIST_MAX)
		return AE_TOOBIG;
	b->data[0] = (uint8_t)((b->len - 2) >> 8);
	b->data[1] = (uint8_t)(b->len - 2);
	return AE_OK;
}

anvil_err
ct_sct_list_parse(const uint8_t *p, size_t len, struct ct_sct *out, size_t max, size_t *n)
{
	struct rd r = { p, len };
	uint64_t total, one;
	anvil_err e;

	*n = 0;
	if (!get(&r, 2, &total) || total != r.left || total == 0)
		return AE_PARSE;
	while (r.left > 0) {
		if (!get(&r, 2, &one) || one == 0 || one > r.left)
			return AE_PARSE;
		if (*n == max)
			return AE_TOOBIG;
		if ((e = ct_sct_parse(r.p, (size_t)one, &out[*n])) != AE_OK)
			return e;
		(*n)++;
		r.p += one;
		r.left -= (size_t)one;
	}
	return AE_OK;
}
