/* ct/: SCT parsing, verification and list encoding against known vectors made by an
 * independent implementation (t/data/ct/make-vectors.py: python3-cryptography and the test
 * log's own DER walk), cross-checked with OpenSSL's CT code (SCT_validate); the log response
 * parser against malformed answers as data; strict base64; the ct configuration section's
 * errors naming their keys. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/ct.h>
#include <openssl/x509.h>
#include "lib/b64url.h"
#include "lib/rfc3339.h"
#include "ct/conf.h"
#include "ct/entry.h"
#include "ct/response.h"
#include "ct/sct.h"
#include "ct/sth.h"
#include "lib/clock.h"
#include "t/tap.h"

struct file {
	uint8_t data[8192];
	size_t len;
};

static struct file *
load(const char *name)
{
	const char *top = getenv("ANVIL_SRCDIR");
	char path[1024];
	struct file *f = calloc(1, sizeof(*f));
	FILE *fp;

	snprintf(path, sizeof(path), "%s/t/data/ct/%s", top ? top : ".", name);
	if (f == NULL || (fp = fopen(path, "rb")) == NULL) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	f->len = fread(f->data, 1, sizeof(f->data) - 1, fp);
	fclose(fp);
	while (f->len > 0 && (f->data[f->len - 1] == '\n'))
		f->len--;
	f->data[f->len] = '\0';
	return f;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* OpenSSL's verdict on one serialized SCT for a leaf (precert or cert) and a log key. */
static int
openssl_validates(const struct file *sct_bin, const struct file *leaf, const struct file *issuer,
    const char *log_b64, int precert)
{
	const unsigned char *p = sct_bin->data, *lp = leaf->data, *ip = issuer->data;
	SCT *sct = o2i_SCT(NULL, &p, sct_bin->len);
	X509 *x = d2i_X509(NULL, &lp, (long)leaf->len), *is = d2i_X509(NULL, &ip,
	    (long)issuer->len);
	CTLOG_STORE *store = CTLOG_STORE_new();
	CT_POLICY_EVAL_CTX *ctx = CT_POLICY_EVAL_CTX_new();
	char path[] = "/tmp/anvil-7001-XXXXXX";
	int fd = mkstemp(path), st = -1;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	/* OpenSSL 3.0 fills a log store only from its ctlog_file format. */
	if (f != NULL) {
		fprintf(f, "enabled_logs = v\n[v]\ndescription = vector\nkey = %s\n", log_b64);
		fclose(f);
	}
	if (sct != NULL && x != NULL && is != NULL && store != NULL && ctx != NULL &&
	    f != NULL && CTLOG_STORE_load_file(store, path) == 1) {
		SCT_set_log_entry_type(sct, precert ? CT_LOG_ENTRY_TYPE_PRECERT :
		    CT_LOG_ENTRY_TYPE_X509);
		CT_POLICY_EVAL_CTX_set1_cert(ctx, x);
		CT_POLICY_EVAL_CTX_set1_issuer(ctx, is);
		CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, store);
		SCT_validate(sct, ctx);
		st = (int)SCT_get_validation_status(sct);
	}
	if (fd >= 0)
		unlink(path);
	CT_POLICY_EVAL_CTX_free(ctx);
	CTLOG_STORE_free(store);
	SCT_free(sct);
	X509_free(x);
	X509_free(is);
	return st == SCT_VALIDATION_STATUS_VALID;
}

static void
test_vectors(void)
{
	struct file *issuer = load("issuer.der"), *pre = load("precert.der"),
	    *cert = load("cert.der"), *ec_b64 = load("log-ec.b64"), *rsa_b64 = load("log-rsa.b64"),
	    *ec_id = load("log-ec.id"), *rsa_id = load("log-rsa.id"),
	    *sct_ec = load("sct-pre-ec.bin"), *sct_rsa = load("sct-cert-rsa.bin"),
	    *resp = load("response-pre-ec.json"), *list = load("list.bin");
	struct ct_log_key kec, krsa;
	struct ct_leaf lpre, lcert;
	struct ct_sct s, s2, bad, parsed[4];
	const struct ct_sct *both[2];
	struct buf b;
	char why[160], idhex[65];
	uint64_t now = clock_wall_ms();
	size_t n;

	buf_init(&b, 16384);
	ok(ct_log_key_load(&kec, (char *)ec_b64->data, why, sizeof(why)) == AE_OK &&
	    kec.alg == CT_SIG_ECDSA, "EC P-256 log key loads");
	hex(kec.id, 32, idhex);
	is_str(idhex, (char *)ec_id->data, "its log id is SHA-256 of the SubjectPublicKeyInfo");
	ok(ct_log_key_load(&krsa, (char *)rsa_b64->data, why, sizeof(why)) == AE_OK &&
	    krsa.alg == CT_SIG_RSA, "RSA-2048 log key loads");
	hex(krsa.id, 32, idhex);
	is_str(idhex, (char *)rsa_id->data, "RSA log id");

	ok(ct_leaf_new(pre->data, pre->len, issuer->data, issuer->len, &lpre, why,
	    sizeof(why)) == AE_OK && lpre.entry.type == CT_ENTRY_PRECERT,
	    "a poisoned leaf is a precert entry");
	ok(ct_leaf_new(cert->data, cert->len, issuer->data, issuer->len, &lcert, why,
	    sizeof(why)) == AE_OK && lcert.entry.type == CT_ENTRY_X509 &&
	    lcert.entry.len == cert->len, "a certificate is an x509 entry of its whole DER");
	ok(lpre.not_after - lpre.not_before + 1 == 90 * 86400, "precert lifetime read: 90 days");
	ct_leaf_free(&lcert);
	ok(ct_leaf_new(pre->data, pre->len, pre->data, pre->len, &lcert, why, sizeof(why)) ==
	    AE_PARSE && strstr(why, "issued") != NULL, "a wrong issuer is refused");
	ok(ct_leaf_new(cert->data, cert->len, issuer->data, issuer->len, &lcert, why,
	    sizeof(why)) == AE_OK, "certificate entry again");

	ok(ct_sct_parse(sct_ec->data, sct_ec->len, &s) == AE_OK && s.version == 0 &&
	    s.timestamp == UINT64_C(1767225600123) && s.ext_len == 0 && s.hash_alg == 4 &&
	    s.sig_alg == 3, "the EC SCT vector parses");
	ok(ct_sct_verify(&s, &kec, &lpre.entry, now, why, sizeof(why)) == AE_OK,
	    "the EC SCT verifies over issuer key hash + TBS without poison (%s)", why);
	ok(openssl_validates(sct_ec, pre, issuer, (char *)ec_b64->data, 1),
	    "OpenSSL's SCT_validate agrees on the precert vector");
	ok(ct_response_parse((char *)resp->data, resp->len, &s2, why, sizeof(why)) == AE_OK,
	    "the log's JSON answer parses");
	buf_reset(&b);
	ok(ct_sct_serialize(&s2, &b) == AE_OK && b.len == sct_ec->len &&
	    memcmp(b.data, sct_ec->data, b.len) == 0, "and serializes to the binary SCT");

	ok(ct_sct_parse(sct_rsa->data, sct_rsa->len, &s2) == AE_OK &&
	    ct_sct_verify(&s2, &krsa, &lcert.entry, now, why, sizeof(why)) == AE_OK,
	    "the RSA SCT over an x509 entry verifies (%s)", why);
	ok(openssl_validates(sct_rsa, cert, issuer, (char *)rsa_b64->data, 0),
	    "OpenSSL agrees on the x509 vector");

	bad = s;
	bad.sig[bad.sig_len / 2] ^= 1;
	ok(ct_sct_verify(&bad, &kec, &lpre.entry, now, why, sizeof(why)) == AE_CRYPTO,
	    "a flipped signature bit fails");
	bad = s;
	bad.timestamp++;
	ok(ct_sct_verify(&bad, &kec, &lpre.entry, now, why, sizeof(why)) == AE_CRYPTO,
	    "another timestamp fails the signature");
	bad = s;
	bad.ext[0] = 1;
	bad.ext_len = 1;
	ok(ct_sct_verify(&bad, &kec, &lpre.entry, now, why, sizeof(why)) == AE_CRYPTO,
	    "extensions are covered by the signature");
	ok(ct_sct_verify(&s, &kec, &lcert.entry, now, why, sizeof(why)) == AE_CRYPTO,
	    "the precert SCT does not verify for another entry");
	ok(ct_sct_verify(&s, &krsa, &lpre.entry, now, why, sizeof(why)) == AE_PARSE &&
	    strstr(why, "log id") != NULL, "an SCT of another log (log id) is refused");
	ok(ct_sct_verify(&s, &kec, &lpre.entry, s.timestamp - CT_SKEW_MS - 1, why,
	    sizeof(why)) == AE_PARSE && strstr(why, "future") != NULL,
	    "an SCT from the future (beyond the skew) is refused");
	ok(ct_sct_verify(&s, &kec, &lpre.entry, s.timestamp - CT_SKEW_MS, why, sizeof(why)) ==
	    AE_OK, "within the skew it is accepted");
	bad = s;
	bad.sig_alg = CT_SIG_RSA;
	ok(ct_sct_verify(&bad, &kec, &lpre.entry, now, why, sizeof(why)) == AE_PARSE,
	    "a signature algorithm other than the key's is refused");
	bad = s;
	bad.version = 1;
	ok(ct_sct_verify(&bad, &kec, &lpre.entry, now, why, sizeof(why)) == AE_PARSE,
	    "version other than v1 is refused");
	{
		uint8_t v2[CT_SCT_MAX];
		memcpy(v2, sct_ec->data, sct_ec->len);
		v2[0] = 1;
		ok(ct_sct_parse(v2, sct_ec->len, &bad) == AE_PARSE, "a v2 SCT does not parse");
		ok(ct_sct_parse(sct_ec->data, sct_ec->len - 1, &bad) == AE_PARSE,
		    "a truncated SCT does not parse");
		memcpy(v2, sct_ec->data, sct_ec->len);
		v2[sct_ec->len] = 0;
		ok(ct_sct_parse(v2, sct_ec->len + 1, &bad) == AE_PARSE,
		    "an SCT with a byte left over does not parse");
	}

	both[0] = &s;
	both[1] = &s2;
	ok(ct_sct_list_encode(both, 2, &b) == AE_OK && b.len == list->len &&
	    memcmp(b.data, list->data, b.len) == 0,
	    "SignedCertificateTimestampList encoding equals the vector");
	ok(ct_sct_list_parse(list->data, list->len, parsed, 4, &n) == AE_OK && n == 2 &&
	    parsed[1].timestamp == s2.timestamp && parsed[0].sig_len == s.sig_len,
	    "the list parses back");
	ok(ct_sct_list_parse(list->data, list->len - 1, parsed, 4, &n) == AE_PARSE,
	    "a truncated list is refused");
	ok(ct_sct_list_encode(both, 0, &b) == AE_RANGE, "an empty list is refused");
	{
		const struct ct_sct *many[40];
		for (size_t i = 0; i < 40; i++)
			many[i] = &s2;  /* 40 RSA SCTs: over 8 KiB */
		ok(ct_sct_list_encode(many, 40, &b) == AE_TOOBIG,
		    "a list over CT_SCT_LIST_MAX is refused");
	}
	ct_leaf_free(&lpre);
	ct_leaf_free(&lcert);
	ct_log_key_clear(&kec);
	ct_log_key_clear(&krsa);
	buf_free(&b);
	free(issuer); free(pre); free(cert); free(ec_b64); free(rsa_b64); free(ec_id);
	free(rsa_id); free(sct_ec); free(sct_rsa); free(resp); free(list);
}

/* Malformed answers, one line each: what a hostile or broken log may send. */
static void
test_responses(void)
{
	static const char sig[] = "BAMARzBFAiEA7Tx5nFkZ7VKQZR3Wcv5V2s4y4fD8r0b1zJqZ0N3rYwQCIEi9"
	    "U8Qk1yT9j2b1iK0r9u8rN6xXbJ8j0wqQ9dXr2Yq1";
	static const char id[] = "a/iULzvMj7X1i0hurV2h/W4G+M97c0orMEPDBsgkSjU=";
	static const struct { const char *json; const char *what; } bad[] = {
		{ "", "empty" },
		{ "[]", "an array" },
		{ "{\"sct_version\":1,\"id\":\"%ID\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"%SIG\"}", "sct_version 1" },
		{ "{\"sct_version\":\"0\",\"id\":\"%ID\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"%SIG\"}", "sct_version as a string" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":-1,\"extensions\":\"\","
		  "\"signature\":\"%SIG\"}", "negative timestamp" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":1.5,\"extensions\":\"\","
		  "\"signature\":\"%SIG\"}", "fractional timestamp" },
		{ "{\"sct_version\":0,\"id\":\"AAAA\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"%SIG\"}", "id of 3 bytes" },
		{ "{\"sct_version\":0,\"id\":\"a/iULzvMj7X1i0hurV2h/W4G+M97c0orMEPDBsgkSjU\","
		  "\"timestamp\":1,\"extensions\":\"\",\"signature\":\"%SIG\"}", "id without padding" },
		{ "{\"sct_version\":0,\"id\":\"a/iULzvMj7X1i0hurV2h/W4G+M97c0orMEPDBsgkSjV=\","
		  "\"timestamp\":1,\"extensions\":\"\",\"signature\":\"%SIG\"}",
		  "id with non-zero trailing bits" },
		{ "{\"sct_version\":0,\"id\":\"a/iULzvMj7X1i0hurV2h/W4G+M97c0or MEPDBsgkSjU=\","
		  "\"timestamp\":1,\"extensions\":\"\",\"signature\":\"%SIG\"}", "id with a space" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"BAMAAA==\"}", "empty signature" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"BAMAEAAA\"}", "signature length beyond the data" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":1,"
		  "\"signature\":\"%SIG\"}", "no extensions" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"%SIG\"} x", "trailing garbage" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"%SIG\",\"x\":[[[[[[1]]]]]]}", "nesting beyond the depth cap" },
		{ "{\"sct_version\":0,\"id\":\"%ID\",\"timestamp\":1,\"extensions\":\"\","
		  "\"signature\":\"%SIG\",}", "trailing comma (strict JSON)" },
	};
	struct ct_sct s;
	char body[1024], why[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *src = bad[i].json;
		size_t o = 0;
		while (*src != '\0' && o < sizeof(body) - 128) {
			if (strncmp(src, "%ID", 3) == 0) {
				o += (size_t)snprintf(body + o, sizeof(body) - o, "%s", id);
				src += 3;
			} else if (strncmp(src, "%SIG", 4) == 0) {
				o += (size_t)snprintf(body + o, sizeof(body) - o, "%s", sig);
				src += 4;
			} else {
				body[o++] = *src++;
			}
		}
		body[o] = '\0';
		ok(ct_response_parse(body, o, &s, why, sizeof(why)) != AE_OK, "refused: %s",
		    bad[i].what);
	}
	snprintf(body, sizeof(body), "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":1,"
	    "\"extensions\":\"\",\"signature\":\"%s\",\"unknown\":\"ignored\"}\n", id, sig);
	ok(ct_response_parse(body, strlen(body), &s, why, sizeof(why)) == AE_OK &&
	    s.sig_len == 0x47, "a well-formed answer with an extra field and a newline parses");
	{
		char *big = malloc(CT_RESPONSE_MAX + 2);
		memset(big, ' ', CT_RESPONSE_MAX + 1);
		memcpy(big, body, strlen(body));
		ok(big != NULL && ct_response_parse(big, CT_RESPONSE_MAX + 1, &s, why,
		    sizeof(why)) == AE_TOOBIG, "an answer over CT_RESPONSE_MAX is refused");
		free(big);
	}
	ok(ct_response_parse("{\"a\":\"\0\"}", 9, &s, why, sizeof(why)) == AE_JSON,
	    "an answer with a NUL byte is refused");
}

static void
test_sth(void)
{
	struct file *ec_b64 = load("log-ec.b64"), *rsa_b64 = load("log-rsa.b64"),
	    *sth_json = load("sth-ec.json");
	struct ct_log_key kec, krsa;
	struct ct_sth sth, bad;
	char why[160];
	uint64_t now = clock_wall_ms();

	ok(ct_log_key_load(&kec, (char *)ec_b64->data, why, sizeof(why)) == AE_OK &&
	    ct_log_key_load(&krsa, (char *)rsa_b64->data, why, sizeof(why)) == AE_OK, "log keys");
	ok(ct_sth_parse((char *)sth_json->data, sth_json->len, &sth, why, sizeof(why)) == AE_OK &&
	    sth.tree_size == 7 && sth.timestamp == UINT64_C(1767225600123), "the STH vector parses");
	ok(ct_sth_verify(&sth, &kec, now, why, sizeof(why)) == AE_OK,
	    "its tree head signature verifies with the log's key (%s)", why);
	bad = sth;
	bad.tree_size++;
	ok(ct_sth_verify(&bad, &kec, now, why, sizeof(why)) == AE_CRYPTO,
	    "another tree size does not verify");
	bad = sth;
	bad.root_hash[31] ^= 1;
	ok(ct_sth_verify(&bad, &kec, now, why, sizeof(why)) == AE_CRYPTO,
	    "another root hash does not verify");
	ok(ct_sth_verify(&sth, &krsa, now, why, sizeof(why)) == AE_PARSE,
	    "another log's (RSA) key is refused");
	ok(ct_sth_verify(&sth, &kec, sth.timestamp - CT_SKEW_MS - 1, why, sizeof(why)) ==
	    AE_PARSE, "a tree head from the future is refused");
	ok(ct_sth_parse("{\"tree_size\":-1,\"timestamp\":1,\"sha256_root_hash\":\"\","
	    "\"tree_head_signature\":\"\"}", 77, &bad, why, sizeof(why)) != AE_OK,
	    "a negative tree size is refused");
	ct_log_key_clear(&kec);
	ct_log_key_clear(&krsa);
	free(ec_b64);
	free(rsa_b64);
	free(sth_json);
}

static void
test_b64(void)
{
	uint8_t out[16];
	size_t n;
	struct buf b;
	static const struct { const char *in; int okay; size_t len; } v[] = {
		{ "", 1, 0 }, { "Zg==", 1, 1 }, { "Zm8=", 1, 2 }, { "Zm9v", 1, 3 },
		{ "Zh==", 0, 0 }, { "Zm9=", 0, 0 }, { "Zg=", 0, 0 }, { "Zg", 0, 0 },
		{ "Z===", 0, 0 }, { "Zm9v\n", 0, 0 }, { "Zm-v", 0, 0 }, { "=Zm9", 0, 0 },
		{ "Zg==Zg==", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		anvil_err e = b64_decode(v[i].in, strlen(v[i].in), out, sizeof(out), &n);
		ok(v[i].okay ? e == AE_OK && n == v[i].len : e != AE_OK, "base64 case %zu: %s",
		    i, v[i].okay ? "accepted" : "refused");
	}
	buf_init(&b, 64);
	ok(b64_encode_buf(&b, (const uint8_t *)"foob", 4) == AE_OK && buf_nul(&b) == AE_OK &&
	    strcmp((char *)b.data, "Zm9vYg==") == 0, "encode pads");
	buf_free(&b);
}

static void
conf_case(const char *json, const char *want, const char *what)
{
	struct conf_ctx cc = { .file = "t.json" };
	json_object *root = json_tokener_parse(json);
	struct ct_conf *c = calloc(1, sizeof(*c));
	anvil_err e = root != NULL && c != NULL ? ct_conf_parse(&cc, root, c) : AE_INTERNAL;

	if (e == AE_OK && strstr(json, "\"profiles\"") != NULL) {
		if ((e = ct_conf_bind_profile(&cc, c, "web", 1, 90 * 86400)) == AE_OK &&
		    (e = ct_conf_bind_profile(&cc, c, "internal", 0, 365 * 86400)) == AE_OK &&
		    (strstr(json, "\"long\"") == NULL ||
		    (e = ct_conf_bind_profile(&cc, c, "long", 1, 398 * 86400)) == AE_OK))
			e = ct_conf_bind_done(&cc, c);
	}
	if (want == NULL)
		ok(e == AE_OK, "config accepted: %s (%s)", what, cc.err);
	else
		ok(e == AE_CONFIG && strstr(cc.err, want) != NULL, "config refused: %s (%s)", what,
		    cc.err);
	if (c != NULL)
		ct_conf_free(c);
	free(c);
	json_object_put(root);
}

static void
test_conf(void)
{
	struct file *ec = load("log-ec.b64"), *rsa = load("log-rsa.b64");
	char j[20000];
	const char *k1 = (char *)ec->data, *k2 = (char *)rsa->data;
#define LOGS "\"logs\":{\"a\":{\"url\":\"https://a.test/log/\",\"key\":\"%s\"," \
	"\"operator\":\"A\"}," \
	"\"b\":{\"url\":\"http://b.test\",\"key\":\"%s\",\"operator\":\"B\"," \
	"\"not_after_start\":\"2026-01-01T00:00:00Z\",\"not_after_end\":\"2027-01-01T00:00:00Z\"}}"

	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{}},"
	    "\"profiles\":{\"web\":\"p\"}}}", k1, k2);
	conf_case(j, NULL, "two logs of two operators, default policy");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{}},"
	    "\"profiles\":{\"web\":\"p\",\"long\":\"p\"}}}", k1, k2);
	conf_case(j, "ct.profiles.long: policy \"p\" needs 3 SCTs",
	    "a 398-day profile needs 3 SCTs (Chrome), 2 logs are not enough");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{}},"
	    "\"profiles\":{\"web\":\"nope\"}}}", k1, k2);
	conf_case(j, "ct.profiles.web: no policy \"nope\"", "a profile naming a missing policy");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{}},\"profiles\":{}}}",
	    k1, k2);
	conf_case(j, "ct.profiles.web: profile \"web\" has \"ct\": true but names no CT policy",
	    "a CT profile without a policy");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{}},"
	    "\"profiles\":{\"web\":\"p\",\"internal\":\"p\"}}}", k1, k2);
	conf_case(j, "ct.profiles.internal: profile \"internal\" has \"ct\": false",
	    "a policy for a profile without CT is a key nothing reads");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{}},"
	    "\"profiles\":{\"web\":\"p\",\"ghost\":\"p\"}}}", k1, k2);
	conf_case(j, "ct.profiles.ghost: no such profile", "a policy for an unknown profile");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{},\"q\":{}},"
	    "\"profiles\":{\"web\":\"p\"}}}", k1, k2);
	conf_case(j, "ct.policies.q: no profile uses this policy", "a policy nothing uses");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{\"min_operators\":3}}}}",
	    k1, k2);
	conf_case(j, "ct.policies.p.min_operators: cannot exceed min_scts",
	    "more operators than SCTs");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{\"logs\":[\"a\"],"
	    "\"min_operators\":1,\"min_scts\":1}}}}", k1, k2);
	conf_case(j, NULL, "one log, one SCT");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{\"logs\":[\"a\"]}}}}",
	    k1, k2);
	conf_case(j, "ct.policies.p.logs: needs usable logs of 2 distinct operators",
	    "a policy whose logs cannot give 2 operators");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{\"logs\":[\"a\",\"c\"]}}}}",
	    k1, k2);
	conf_case(j, "ct.policies.p.logs: entry 1: no log \"c\"", "an unknown log name");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{\"informational\":[\"b\"],"
	    "\"min_operators\":1,\"min_scts\":1}}}}", k1, k2);
	conf_case(j, NULL, "an informational log leaves the default logs");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{\"logs\":[\"a\",\"b\"],"
	    "\"informational\":[\"b\"]}}}}", k1, k2);
	conf_case(j, "ct.policies.p.informational: a log cannot be both",
	    "a log both required and informational");
	snprintf(j, sizeof(j), "{\"ct\":{\"logs\":{\"a\":{\"url\":\"https://a.test\",\"key\":\"%s\","
	    "\"operator\":\"A\"},\"b\":{\"url\":\"https://b.test\",\"key\":\"%s\","
	    "\"operator\":\"B\"}},\"policies\":{}}}", k1, k1);
	conf_case(j, "ct.logs.b.key: same key (log id) as ct.logs.a", "two logs with one key");
	snprintf(j, sizeof(j), "{\"ct\":{\"logs\":{\"a\":{\"url\":\"https://a.test\",\"key\":"
	    "\"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\",\"operator\":\"A\"}},\"policies\":{}}}");
	conf_case(j, "ct.logs.a.key: not a DER SubjectPublicKeyInfo", "a truncated key");
	snprintf(j, sizeof(j), "{\"ct\":{\"logs\":{\"a\":{\"url\":\"ftp://a.test\",\"key\":\"%s\","
	    "\"operator\":\"A\"}},\"policies\":{}}}", k1);
	conf_case(j, "ct.logs.a.url: must be an http:// or https:// URL", "an ftp URL");
	snprintf(j, sizeof(j), "{\"ct\":{\"logs\":{\"a\":{\"url\":\"https://a.test\",\"key\":\"%s\","
	    "\"operator\":\"A\",\"state\":\"qualified\"}},\"policies\":{}}}", k1);
	conf_case(j, "ct.logs.a.state: must be usable, readonly or retired", "an unknown state");
	snprintf(j, sizeof(j), "{\"ct\":{\"logs\":{\"a\":{\"url\":\"https://a.test\",\"key\":\"%s\","
	    "\"operator\":\"A\",\"not_after_end\":\"2026-02-30T00:00:00Z\"}},\"policies\":{}}}", k1);
	conf_case(j, "ct.logs.a.not_after_end: must be a UTC time", "30 February");
	snprintf(j, sizeof(j), "{\"ct\":{\"logs\":{\"a\":{\"url\":\"https://a.test\",\"key\":\"%s\","
	    "\"operator\":\"A\",\"desc\":\"x\"}},\"policies\":{}}}", k1);
	conf_case(j, "ct.logs.a.desc: unknown key", "an unknown log key");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{\"deadline_ms\":100,"
	    "\"log_timeout_ms\":200}}}}", k1, k2);
	conf_case(j, "ct.policies.p.log_timeout_ms: cannot exceed deadline_ms",
	    "a log timeout longer than the deadline");
	snprintf(j, sizeof(j), "{\"ct\":{" LOGS ",\"policies\":{\"p\":{}},\"backof\":1}}", k1, k2);
	conf_case(j, "ct.backof: unknown key", "an unknown ct key");
	/* The log windows' times are read by rfc3339_parse_utc (t/0011-rfc3339). */
	{
		int64_t t = 0;
		ok(rfc3339_parse_utc("2026-01-01T00:00:00Z", &t) == 0 && t == 1767225600,
		    "time parses");
		ok(rfc3339_parse_utc("2026-01-01 00:00:00Z", &t) == -1 &&
		    rfc3339_parse_utc("2026-01-01T00:00:00+01:00", &t) == -1 &&
		    rfc3339_parse_utc("2026-13-01T00:00:00Z", &t) == -1,
		    "other time spellings are refused");
	}
	free(ec);
	free(rsa);
}

int
main(void)
{
	test_vectors();
	test_responses();
	test_sth();
	test_b64();
	test_conf();
	return done_testing();
}
