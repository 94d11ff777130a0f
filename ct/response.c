#include "config.h"
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include "lib/b64url.h"
#include "ct/response.h"

static anvil_err
fail(char *why, size_t whylen, anvil_err e, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return e;
}

anvil_err
ct_request_chain(struct buf *b, const uint8_t *const *der, const size_t *len, size_t n)
{
	anvil_err e;

	buf_reset(b);
	if (n == 0 || n > CT_CHAIN_MAX)
		return AE_RANGE;
	if ((e = buf_append_str(b, "{\"chain\":[")) != AE_OK)
		return e;
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && (e = buf_append_str(b, ",")) != AE_OK) ||
		    (e = buf_append_str(b, "\"")) != AE_OK ||
		    (e = b64_encode_buf(b, der[i], len[i])) != AE_OK ||
		    (e = buf_append_str(b, "\"")) != AE_OK)
			return e;
	}
	return buf_append_str(b, "]}");
}

anvil_err
ct_json_b64(json_object *o, const char *key, uint8_t *out, size_t outsz, size_t *outlen)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return AE_PARSE;
	return b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v),
	    out, outsz, outlen);
}

json_object *
ct_json_load(const char *body, size_t len, char *why, size_t whylen)
{
	json_tokener *tok;
	json_object *o;
	size_t off;

	if (len > CT_RESPONSE_MAX) {
		fail(why, whylen, AE_TOOBIG, "response over CT_RESPONSE_MAX bytes");
		return NULL;
	}
	if (memchr(body, '\0', len) != NULL) {
		fail(why, whylen, AE_JSON, "response contains a NUL byte");
		return NULL;
	}
	/* Depth 4 is ample for a flat object and stops nesting bombs. */
	if ((tok = json_tokener_new_ex(4)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, body, (int)len);
	off = (size_t)json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (o != NULL && off < len && strchr(" \t\r\n", body[off]) != NULL)
		off++;
	if (o == NULL || off != len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		fail(why, whylen, AE_JSON, "response is not one JSON object");
		return NULL;
	}
	return o;
}

anvil_err
ct_response_parse(const char *body, size_t len, struct ct_sct *s, char *why, size_t whylen)
{
	json_object *o, *v;
	uint8_t sig[4 + CT_SCT_SIG_MAX];
	size_t n;
	anvil_err e = AE_PARSE;

	memset(s, 0, sizeof(*s));
	if ((o = ct_json_load(body, len, why, whylen)) == NULL)
		return len > CT_RESPONSE_MAX ? AE_TOOBIG : AE_JSON;
	if (!json_object_object_get_ex(o, "sct_version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 0) {
		fail(why, whylen, e, "sct_version is not 0 (v1)");
		goto out;
	}
	if (!json_object_object_get_ex(o, "timestamp", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
		fail(why, whylen, e, "timestamp is not a non-negative integer");
		goto out;
	}
	s->timestamp = (uint64_t)json_object_get_int64(v);
	if (ct_json_b64(o, "id", s->log_id, sizeof(s->log_id), &n) != AE_OK || n != 32) {
		fail(why, whylen, e, "id is not base64 of 32 bytes");
		goto out;
	}
	if (ct_json_b64(o, "extensions", s->ext, sizeof(s->ext), &s->ext_len) != AE_OK) {
		fail(why, whylen, e, "extensions is not base64 of at most CT_SCT_EXT_MAX bytes");
		goto out;
	}
	/* signature: a TLS DigitallySigned, hash and signature algorithm then u16 length. */
	if (ct_json_b64(o, "signature", sig, sizeof(sig), &n) != AE_OK || n < 4 ||
	    ((size_t)sig[2] << 8 | sig[3]) != n - 4 || n - 4 == 0) {
		fail(why, whylen, e, "signature is not a base64 DigitallySigned");
		goto out;
	}
	s->hash_alg = sig[0];
	s->sig_alg = sig[1];
	s->sig_len = n - 4;
	memcpy(s->sig, sig + 4, s->sig_len);
	e = AE_OK;
out:
	json_object_put(o);
	return e;
}
