/* anvilctl hsm slots|keys|login-test: what the configured PKCS#11 module shows an operator,
 * through libp11 (the design card's package) rather than the signer's own PKCS#11 code: these
 * commands walk slots, tokens and objects once, where the signer needs a session pool and raw
 * signing (ca/p11.c). The module, the token and the PIN are the signer's (signer.module,
 * signer.token_label or signer.slot_id, signer.pin), so a login-test that passes means the
 * signer will log in too. The PIN goes to C_Login unchanged: CloudHSM's USER:PASSWORD works. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <libp11.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "ca/profile.h"
#include "lib/hex.h"
#include "tools/anvilctl/ctl.h"

#define HSM_ID_MAX 64   /* CKA_ID bytes shown; longer ids are cut (and marked) */

struct hsm {
	struct signer_conf sc;
	int have_sc;
	PKCS11_CTX *ctx;
	int loaded;
	PKCS11_SLOT *slots;
	unsigned int nslots;
};

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl hsm slots [--json]\n"
	    "       anvilctl hsm keys [--token LABEL] [--json]\n"
	    "       anvilctl hsm login-test\n");
	return 2;
}

/* The last libp11/OpenSSL error as text, the queue cleared. */
static const char *
p11_error(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "no detail from the module");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int
hsm_open(struct ctl *ctl, struct hsm *h)
{
	char err[256];

	memset(h, 0, sizeof(*h));
	if (signer_conf_parse(&ctl->conf, ctl->config, SIGNER_CONF_HSM, &h->sc) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		return -1;
	}
	h->have_sc = 1;
	if ((h->ctx = PKCS11_CTX_new()) == NULL) {
		fprintf(stderr, "anvilctl: out of memory\n");
		return -1;
	}
	if (PKCS11_CTX_load(h->ctx, h->sc.hsm.module) != 0) {
		fprintf(stderr, "anvilctl: cannot load the PKCS#11 module %s (signer.module): %s\n",
		    h->sc.hsm.module, p11_error(err, sizeof(err)));
		return -1;
	}
	h->loaded = 1;
	if (PKCS11_enumerate_slots(h->ctx, &h->slots, &h->nslots) != 0) {
		fprintf(stderr, "anvilctl: the module %s (signer.module) lists no slots: %s\n",
		    h->sc.hsm.module, p11_error(err, sizeof(err)));
		h->slots = NULL;
		return -1;
	}
	return 0;
}

static void
hsm_close(struct hsm *h)
{
	if (h->slots != NULL)
		PKCS11_release_all_slots(h->ctx, h->slots, h->nslots);
	if (h->loaded)
		PKCS11_CTX_unload(h->ctx);
	if (h->ctx != NULL)
		PKCS11_CTX_free(h->ctx);
	if (h->have_sc)
		signer_conf_free(&h->sc);
}

/* The configuration's slot (signer.slot_id or signer.token_label) */
static int
is_configured(const struct hsm *h, PKCS11_SLOT *s)
{
	if (h->sc.hsm.slot_id >= 0)
		return (int64_t)PKCS11_get_slotid_from_slot(s) == h->sc.hsm.slot_id;
	return s->token != NULL && h->sc.hsm.token_label != NULL &&
	    strcmp(s->token->label, h->sc.hsm.token_label) == 0;
}

/* The slot of --token LABEL, or the configured one; NULL with a message. */
static PKCS11_SLOT *
find_slot(struct hsm *h, const char *label)
{
	for (unsigned int i = 0; i < h->nslots; i++) {
		PKCS11_SLOT *s = &h->slots[i];

		if (label != NULL ? s->token != NULL && strcmp(s->token->label, label) == 0 :
		    is_configured(h, s))
			return s;
	}
	if (label != NULL)
		fprintf(stderr, "anvilctl: no token labelled '%s' in %s (anvilctl hsm slots lists "
		    "them)\n", label, h->sc.hsm.module);
	else if (h->sc.hsm.slot_id >= 0)
		fprintf(stderr, "anvilctl: no slot %lld (signer.slot_id) in %s\n",
		    (long long)h->sc.hsm.slot_id, h->sc.hsm.module);
	else
		fprintf(stderr, "anvilctl: no token labelled '%s' (signer.token_label) in %s\n",
		    h->sc.hsm.token_label, h->sc.hsm.module);
	return NULL;
}

/* Opens a session on s and logs the user in with signer.pin. */
static int
login(struct hsm *h, PKCS11_SLOT *s)
{
	char err[256];

	if (s->token == NULL || !s->token->initialized) {
		fprintf(stderr, "anvilctl: slot %lu has no initialised token\n",
		    PKCS11_get_slotid_from_slot(s));
		return -1;
	}
	if (PKCS11_open_session(s, 0) != 0) {
		fprintf(stderr, "anvilctl: cannot open a session on token '%s': %s\n",
		    s->token->label, p11_error(err, sizeof(err)));
		return -1;
	}
	if (PKCS11_login(s, 0, h->sc.pin) != 0) {
		fprintf(stderr, "anvilctl: login to token '%s' failed: %s; check signer.pin "
		    "(the PIN, or the file it names)%s\n", s->token->label,
		    p11_error(err, sizeof(err)), s->token->userPinLocked ?
		    "; the user PIN is LOCKED (the SO must reset it)" : s->token->userPinFinalTry ?
		    "; one try is left before the PIN locks" : "");
		return -1;
	}
	return 0;
}

static json_object *
slot_json(struct hsm *h, PKCS11_SLOT *s)
{
	json_object *o = json_object_new_object(), *t = NULL;

	json_object_object_add(o, "slot_id",
	    json_object_new_int64((int64_t)PKCS11_get_slotid_from_slot(s)));
	json_object_object_add(o, "description", json_object_new_string(s->description));
	json_object_object_add(o, "manufacturer", json_object_new_string(s->manufacturer));
	json_object_object_add(o, "configured", json_object_new_boolean(is_configured(h, s)));
	if (s->token != NULL) {
		t = json_object_new_object();
		json_object_object_add(t, "label", json_object_new_string(s->token->label));
		json_object_object_add(t, "manufacturer",
		    json_object_new_string(s->token->manufacturer));
		json_object_object_add(t, "model", json_object_new_string(s->token->model));
		json_object_object_add(t, "serial", json_object_new_string(s->token->serialnr));
		json_object_object_add(t, "initialized",
		    json_object_new_boolean(s->token->initialized));
		json_object_object_add(t, "login_required",
		    json_object_new_boolean(s->token->loginRequired));
		json_object_object_add(t, "user_pin_locked",
		    json_object_new_boolean(s->token->userPinLocked));
		json_object_object_add(t, "user_pin_final_try",
		    json_object_new_boolean(s->token->userPinFinalTry));
	}
	json_object_object_add(o, "token", t);
	return o;
}

static int
hsm_slots(struct hsm *h, int json)
{
	json_object *arr = json_object_new_array();

	if (arr == NULL)
		return 1;
	for (unsigned int i = 0; i < h->nslots; i++)
		json_object_array_add(arr, slot_json(h, &h->slots[i]));
	if (json) {
		ctl_json_print(arr);
	} else {
		printf("module %s\n%-8s %-24s %-16s %-12s %s\n", h->sc.hsm.module, "SLOT", "TOKEN",
		    "MODEL", "STATE", "");
		for (unsigned int i = 0; i < h->nslots; i++) {
			PKCS11_SLOT *s = &h->slots[i];
			PKCS11_TOKEN *t = s->token;

			printf("%-8lu %-24s %-16s %-12s %s\n", PKCS11_get_slotid_from_slot(s),
			    t ? t->label : "-", t ? t->model : "-",
			    t == NULL ? "no token" : !t->initialized ? "uninit" :
			    t->userPinLocked ? "pin-locked" : "ready",
			    is_configured(h, s) ? "(signer)" : "");
		}
	}
	json_object_put(arr);
	return 0;
}

/* The issuers of the configuration whose key (or OCSP responder key) has this label. */
static json_object *
users_of(const struct hsm *h, const char *label)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; label != NULL && i < h->sc.nissuers; i++) {
		const struct issuer *is = &h->sc.issuers[i];

		if (is->key_label != NULL && strcmp(is->key_label, label) == 0)
			json_object_array_add(a, json_object_new_string(is->name));
		if (is->responder_key_label != NULL && strcmp(is->responder_key_label, label) == 0) {
			char n[128];

			snprintf(n, sizeof(n), "%s (OCSP responder)", is->name);
			json_object_array_add(a, json_object_new_string(n));
		}
	}
	return a;
}

static json_object *
key_json(const struct hsm *h, PKCS11_KEY *k, const char *kind)
{
	json_object *o = json_object_new_object();
	char id[2 * HSM_ID_MAX + 2], type[32];
	size_t idn = k->id_len > HSM_ID_MAX ? HSM_ID_MAX : k->id_len;
	EVP_PKEY *pub = PKCS11_get_public_key(k);

	hex_encode(k->id, idn, id);
	if (idn < k->id_len)
		snprintf(id + 2 * idn, sizeof(id) - 2 * idn, "+");
	if (pub == NULL)
		snprintf(type, sizeof(type), "%s", PKCS11_get_key_type(k) == EVP_PKEY_RSA ? "rsa" :
		    PKCS11_get_key_type(k) == EVP_PKEY_EC ? "ec" : "other");
	else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
		snprintf(type, sizeof(type), "rsa-%d", EVP_PKEY_get_bits(pub));
	else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC)
		snprintf(type, sizeof(type), "ecdsa-p%d", EVP_PKEY_get_bits(pub));
	else
		snprintf(type, sizeof(type), "other");
	EVP_PKEY_free(pub);
	ERR_clear_error();
	json_object_object_add(o, "label", json_object_new_string(k->label ? k->label : ""));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "class", json_object_new_string(kind));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "issuers", users_of(h, k->label));
	return o;
}

static int
hsm_keys(struct hsm *h, const char *label, int json)
{
	PKCS11_SLOT *s;
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0;
	json_object *arr = NULL;
	char err[256];
	int rc = 1;

	if ((s = find_slot(h, label)) == NULL || login(h, s) != 0)
		return 1;
	if ((arr = json_object_new_array()) == NULL)
		return 1;
	for (int pass = 0; pass < 2; pass++) {
		int r = pass == 0 ? PKCS11_enumerate_keys(s->token, &keys, &n) :
		    PKCS11_enumerate_public_keys(s->token, &keys, &n);

		if (r != 0) {
			fprintf(stderr, "anvilctl: cannot list the keys of token '%s': %s\n",
			    s->token->label, p11_error(err, sizeof(err)));
			goto out;
		}
		for (unsigned int i = 0; i < n; i++)
			json_object_array_add(arr, key_json(h, &keys[i], pass == 0 ? "private" :
			    "public"));
	}
	if (json) {
		ctl_json_print(arr);
	} else {
		printf("token %s (slot %lu)\n%-24s %-8s %-10s %-18s %s\n", s->token->label,
		    PKCS11_get_slotid_from_slot(s), "LABEL", "CLASS", "TYPE", "ID", "ISSUERS");
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *k = json_object_array_get_idx(arr, i), *v;
			const char *f[4];
			static const char *const names[4] = { "label", "class", "type", "id" };

			for (int j = 0; j < 4; j++) {
				json_object_object_get_ex(k, names[j], &v);
				f[j] = json_object_get_string(v);
			}
			json_object_object_get_ex(k, "issuers", &v);
			printf("%-24s %-8s %-10s %-18s %s\n", f[0], f[1], f[2], f[3],
			    json_object_array_length(v) ? json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN) : "-");
		}
	}
	rc = 0;
out:
	json_object_put(arr);
	return rc;
}

static int
hsm_login_test(struct hsm *h)
{
	PKCS11_SLOT *s;

	if ((s = find_slot(h, NULL)) == NULL || login(h, s) != 0)
		return 1;
	printf("login OK: token '%s' (slot %lu, %s %s) with signer.pin, module %s\n",
	    s->token->label, PKCS11_get_slotid_from_slot(s), s->token->manufacturer,
	    s->token->model, h->sc.hsm.module);
	return 0;
}

int
ctl_hsm(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "token", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct hsm h;
	const char *sub, *token = NULL;
	int ch, json = 0, rc;

	if (argc < 2)
		return usage();
	sub = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "jt:", lo, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 't': token = optarg; break;
		default: return usage();
		}
	}
	if (optind != argc ||
	    (strcmp(sub, "slots") != 0 && strcmp(sub, "keys") != 0 &&
	    strcmp(sub, "login-test") != 0) ||
	    (token != NULL && strcmp(sub, "keys") != 0) ||
	    (json && strcmp(sub, "login-test") == 0))
		return usage();
	if (hsm_open(ctl, &h) != 0)
		rc = 1;
	else if (strcmp(sub, "slots") == 0)
		rc = hsm_slots(&h, json);
	else if (strcmp(sub, "keys") == 0)
		rc = hsm_keys(&h, token, json);
	else
		rc = hsm_login_test(&h);
	hsm_close(&h);
	return rc;
}
