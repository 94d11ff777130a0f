#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "lib/jwk.h"
#include "lib/keycache.h"

struct entry {
	int64_t id;                /* 0: free (account ids start at 1) */
	char *jwk;                 /* the stored text the key was parsed from */
	EVP_PKEY *key;
	struct jws_verifier *ver;  /* NULL when it could not be set up */
	uint64_t used;             /* tick of the last hit, for replacement */
};

struct keycache {
	struct entry *e;
	size_t slots, count;
	uint64_t tick, hits;
};

static void
entry_clear(struct keycache *kc, struct entry *en)
{
	if (en->id == 0)
		return;
	jws_verifier_free(en->ver);
	EVP_PKEY_free(en->key);
	free(en->jwk);
	memset(en, 0, sizeof(*en));
	kc->count--;
}

struct keycache *
keycache_new(size_t slots)
{
	struct keycache *kc;

	if (slots == 0 || (kc = calloc(1, sizeof(*kc))) == NULL)
		return NULL;
	if ((kc->e = calloc(slots, sizeof(*kc->e))) == NULL) {
		free(kc);
		return NULL;
	}
	kc->slots = slots;
	return kc;
}

void
keycache_free(struct keycache *kc)
{
	if (kc == NULL)
		return;
	for (size_t i = 0; i < kc->slots; i++)
		entry_clear(kc, &kc->e[i]);
	free(kc->e);
	free(kc);
}

/* The entry of id, or NULL. One entry per id: a changed key replaces it. */
static struct entry *
find(struct keycache *kc, int64_t id)
{
	for (size_t i = 0; i < kc->slots; i++)
		if (kc->e[i].id == id)
			return &kc->e[i];
	return NULL;
}

/* A free slot, else the least recently used one, emptied. */
static struct entry *
victim(struct keycache *kc)
{
	struct entry *v = &kc->e[0];

	for (size_t i = 0; i < kc->slots; i++) {
		if (kc->e[i].id == 0)
			return &kc->e[i];
		if (kc->e[i].used < v->used)
			v = &kc->e[i];
	}
	entry_clear(kc, v);
	return v;
}

static anvil_err
parse(const char *jwk, EVP_PKEY **key, const char **detail)
{
	json_object *o = json_tokener_parse(jwk);
	anvil_err e = jwk_to_pkey_stored(o, key, detail);

	json_object_put(o);
	return e;
}

anvil_err
keycache_get(struct keycache *kc, int64_t id, const char *jwk, EVP_PKEY **key,
    struct jws_verifier **ver, const char **detail)
{
	struct entry *en = NULL;
	EVP_PKEY *k = NULL;
	char *copy = NULL;
	anvil_err e;

	*key = NULL;
	*ver = NULL;
	if (detail != NULL)
		*detail = NULL;
	if (jwk == NULL || id <= 0)
		return AE_JWS_BADKEY;
	if (kc != NULL && (en = find(kc, id)) != NULL) {
		/* The stored text decides: anything else than what this key came from is a miss. */
		if (strcmp(en->jwk, jwk) == 0 && EVP_PKEY_up_ref(en->key) == 1) {
			en->used = ++kc->tick;
			kc->hits++;
			*key = en->key;
			*ver = en->ver;
			return AE_OK;
		}
		entry_clear(kc, en);
	}
	if ((e = parse(jwk, &k, detail)) != AE_OK)
		return e;
	*key = k;
	/* Without a cache, or short of memory, the key is still good for this request. */
	if (kc == NULL || (copy = strdup(jwk)) == NULL || EVP_PKEY_up_ref(k) != 1) {
		free(copy);
		return AE_OK;
	}
	en = victim(kc);
	en->id = id;
	en->jwk = copy;
	en->key = k;
	en->used = ++kc->tick;
	if (jws_verifier_new(k, &en->ver) != AE_OK)
		en->ver = NULL;
	kc->count++;
	*ver = en->ver;
	return AE_OK;
}

void
keycache_forget(struct keycache *kc, int64_t id)
{
	struct entry *en;

	if (kc != NULL && id > 0 && (en = find(kc, id)) != NULL)
		entry_clear(kc, en);
}

size_t
keycache_count(const struct keycache *kc)
{
	return kc != NULL ? kc->count : 0;
}

uint64_t
keycache_hits(const struct keycache *kc)
{
	return kc != NULL ? kc->hits : 0;
}
