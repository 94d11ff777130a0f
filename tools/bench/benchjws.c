#include "config.h"
#include <string.h>
#include <json-c/json.h>
#include "lib/jwk.h"
#include "lib/jws.h"
#include "tools/bench/benchjws.h"

anvil_err
benchjws_es256(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
    const char *payload, char **out)
{
	json_object *hdr = json_object_new_object(), *jwk = NULL;
	anvil_err e = AE_NOMEM;

	if (hdr == NULL)
		return AE_NOMEM;
	json_object_object_add(hdr, "alg", json_object_new_string("ES256"));
	if (kid != NULL)
		json_object_object_add(hdr, "kid", json_object_new_string(kid));
	else if ((e = jwk_from_pkey(key, &jwk)) != AE_OK)
		goto out;
	else
		json_object_object_add(hdr, "jwk", jwk);
	json_object_object_add(hdr, "nonce", json_object_new_string(nonce));
	json_object_object_add(hdr, "url", json_object_new_string(url));
	e = jws_sign(key, "ES256", hdr, payload, strlen(payload), out);
out:
	json_object_put(hdr);
	return e;
}
