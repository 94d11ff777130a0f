/* lib/num.h bounds, lib/buf.h caps, lib/conf.h validation messages and secrets. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/buf.h"
#include "lib/conf.h"
#include "lib/num.h"
#include "t/tap.h"

static char tmpdir[256];

static void
test_num(void)
{
	int64_t v = 0;

	ok(num_parse_i64("0", 0, 10, &v) == AE_OK && v == 0, "0");
	ok(num_parse_i64("-1", -5, 5, &v) == AE_OK && v == -1, "-1");
	ok(num_parse_i64("+7", 0, 10, &v) == AE_OK && v == 7, "+7");
	ok(num_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v) == AE_OK &&
	    v == INT64_MAX, "INT64_MAX");
	ok(num_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v) == AE_OK &&
	    v == INT64_MIN, "INT64_MIN");
	ok(num_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v) == AE_RANGE,
	    "INT64_MAX + 1 is out of range");
	ok(num_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v) == AE_RANGE,
	    "INT64_MIN - 1 is out of range");
	ok(num_parse_i64("99999999999999999999999", INT64_MIN, INT64_MAX, &v) == AE_RANGE,
	    "far too many digits is out of range");
	ok(num_parse_i64("11", 0, 10, &v) == AE_RANGE, "above max");
	ok(num_parse_i64("-1", 0, 10, &v) == AE_RANGE, "below min");
	v = 42;
	ok(num_parse_i64("", 0, 10, &v) == AE_PARSE && v == 42, "empty string; *out untouched");
	ok(num_parse_i64("-", 0, 10, &v) == AE_PARSE, "sign alone");
	ok(num_parse_i64("12a", 0, 100, &v) == AE_PARSE, "trailing garbage");
	ok(num_parse_i64(" 1", 0, 10, &v) == AE_PARSE, "leading space");
	ok(num_parse_i64("1 ", 0, 10, &v) == AE_PARSE, "trailing space");
	ok(num_parse_i64("0x10", 0, 100, &v) == AE_PARSE, "hex is not accepted");
	ok(num_parse_i64("1e3", 0, 10000, &v) == AE_PARSE, "exponent is not accepted");
	ok(num_parse_i64(NULL, 0, 10, &v) == AE_PARSE, "NULL");
	ok(num_parse_i64_n("123abc", 3, 0, 1000, &v) == AE_OK && v == 123,
	    "counted string stops at its length");
	ok(num_parse_i64_n("12\0" "3", 4, 0, 10000, &v) == AE_PARSE, "embedded NUL");
	ok(num_parse_i64_n("5", 0, 0, 10, &v) == AE_PARSE, "zero length");
}

static void
test_buf(void)
{
	struct buf b;

	buf_init(&b, 10);
	ok(buf_append(&b, "0123456789", 10) == AE_OK && b.len == 10, "fill to the cap");
	ok(buf_append(&b, "x", 1) == AE_TOOBIG && b.len == 10, "one byte over the cap refused");
	ok(buf_nul(&b) == AE_OK && strcmp((char *)b.data, "0123456789") == 0,
	    "buf_nul at the cap");
	ok(buf_reserve(&b, SIZE_MAX) == AE_TOOBIG, "reserve of SIZE_MAX refused, no wrap");
	buf_reset(&b);
	ok(b.len == 0, "reset empties");
	ok(buf_printf(&b, "%d-%s", 42, "abc") == AE_OK && b.len == 6 &&
	    memcmp(b.data, "42-abc", 6) == 0, "printf");
	ok(buf_printf(&b, "%s", "too long!") == AE_TOOBIG && b.len == 6,
	    "printf over the cap refused and leaves the content");
	ok(buf_append_str(&b, "1234") == AE_OK && b.len == 10, "append_str up to the cap");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0, "free resets");
	buf_free(&b);
	ok(1, "double free of a buf is harmless");

	buf_init(&b, 0);
	ok(buf_append(&b, "", 0) == AE_OK && buf_nul(&b) == AE_OK && b.data[0] == '\0',
	    "a zero-cap buffer still holds the empty string");
	ok(buf_append(&b, "a", 1) == AE_TOOBIG, "and nothing more");
	buf_free(&b);

	buf_init(&b, 1 << 20);
	int good = 1;
	for (int i = 0; i < 1000 && good; i++)
		good = buf_append(&b, "0123456789abcdef", 16) == AE_OK;
	ok(good && b.len == 16000 && memcmp(b.data + 15984, "0123456789abcdef", 16) == 0,
	    "growth keeps content");
	buf_free(&b);
}

static int
write_file(const char *name, const char *content, char *path, size_t pathsz)
{
	FILE *f;

	snprintf(path, pathsz, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(content, f);
	return fclose(f) == 0 ? 0 : -1;
}

static int
contains(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

static void
test_conf(void)
{
	struct conf_ctx c;
	json_object *root = NULL, *db = NULL, *arr = NULL;
	char path[512], secret_path[512], big_path[512], doc[2048];
	const char *s = NULL;
	int64_t n = 0;
	int bval = 0;
	char *secret = NULL;
	static const char *const sections[] = CONF_SECTIONS;
	static const char *const db_keys[] = { "host", "port", "user", "password", "tls",
		"names", NULL };

	memset(&c, 0, sizeof(c));
	if (write_file("secret", "s3cret\n", secret_path, sizeof(secret_path)) != 0)
		diag("cannot write the secret file");
	snprintf(doc, sizeof(doc),
	    "{ \"database\": { \"host\": \"db.example\", \"port\": 3306, \"user\": 7,"
	    " \"password\": { \"file\": \"%s\" }, \"tls\": true, \"names\": [1, 2],"
	    " \"bogus\": 1 },"
	    "  \"nonce\": { \"key\": \"literal\", \"k2\": { \"env\": \"ANVIL_T0002_SECRET\" },"
	    " \"k3\": { \"env\": \"ANVIL_T0002_UNSET\" }, \"k4\": 5, \"k5\": { \"file\": \"%s/none\" },"
	    " \"k6\": { \"file\": \"x\", \"env\": \"y\" } } }",
	    secret_path, tmpdir);
	if (write_file("anvil.json", doc, path, sizeof(path)) != 0)
		diag("cannot write the config file");

	ok(conf_load(&c, path, &root) == AE_OK && root != NULL, "load a valid file");
	ok(conf_check_keys(&c, root, "", sections) == AE_OK, "top-level sections are known");
	ok(conf_get_object(&c, root, "", "database", 1, &db) == AE_OK && db != NULL,
	    "get an object");

	ok(conf_check_keys(&c, db, "database", db_keys) == AE_CONFIG &&
	    contains(c.err, "database.bogus") && contains(c.err, "unknown key") &&
	    contains(c.err, "anvil.json"), "unknown key named with its path: %s", c.err);
	ok(conf_get_string(&c, db, "database", "host", 1, &s) == AE_OK &&
	    strcmp(s, "db.example") == 0, "string");
	ok(conf_get_int(&c, db, "database", "port", 1, 1, 65535, &n) == AE_OK && n == 3306,
	    "integer in range");
	ok(conf_get_int(&c, db, "database", "port", 1, 1, 1024, &n) == AE_CONFIG &&
	    contains(c.err, "database.port") && contains(c.err, "1..1024"),
	    "integer out of range named: %s", c.err);
	ok(conf_get_string(&c, db, "database", "user", 1, &s) == AE_CONFIG &&
	    contains(c.err, "database.user") && contains(c.err, "must be a string"),
	    "wrong type named: %s", c.err);
	ok(conf_get_int(&c, db, "database", "host", 1, 0, 10, &n) == AE_CONFIG &&
	    contains(c.err, "must be an integer"), "string where an integer is expected");
	ok(conf_get_bool(&c, db, "database", "tls", 1, &bval) == AE_OK && bval == 1, "bool");
	ok(conf_get_bool(&c, db, "database", "port", 1, &bval) == AE_CONFIG &&
	    contains(c.err, "true or false"), "integer where a bool is expected");
	ok(conf_get_array(&c, db, "database", "names", 1, &arr) == AE_OK &&
	    json_object_array_length(arr) == 2, "array");
	n = 99;
	ok(conf_get_int(&c, db, "database", "timeout", 0, 0, 100, &n) == AE_OK && n == 99,
	    "missing optional key keeps the preset default");
	ok(conf_get_int(&c, db, "database", "timeout", 1, 0, 100, &n) == AE_CONFIG &&
	    contains(c.err, "database.timeout") && contains(c.err, "missing"),
	    "missing required key named: %s", c.err);

	ok(conf_get_secret(&c, db, "database", "password", 1, &secret) == AE_OK &&
	    secret != NULL && strcmp(secret, "s3cret") == 0,
	    "secret from a file, trailing newline stripped");
	conf_secret_free(secret);
	secret = NULL;

	json_object *nonce = NULL;
	conf_get_object(&c, root, "", "nonce", 1, &nonce);
	ok(conf_get_secret(&c, nonce, "nonce", "key", 1, &secret) == AE_OK &&
	    secret != NULL && strcmp(secret, "literal") == 0, "secret as a literal string");
	conf_secret_free(secret);
	secret = NULL;
	setenv("ANVIL_T0002_SECRET", "from-env", 1);
	unsetenv("ANVIL_T0002_UNSET");
	ok(conf_get_secret(&c, nonce, "nonce", "k2", 1, &secret) == AE_OK &&
	    secret != NULL && strcmp(secret, "from-env") == 0, "secret from the environment");
	conf_secret_free(secret);
	secret = NULL;
	ok(conf_get_secret(&c, nonce, "nonce", "k3", 1, &secret) == AE_CONFIG &&
	    secret == NULL && contains(c.err, "nonce.k3") &&
	    contains(c.err, "ANVIL_T0002_UNSET"), "unset variable named: %s", c.err);
	ok(conf_get_secret(&c, nonce, "nonce", "k4", 1, &secret) == AE_CONFIG &&
	    contains(c.err, "nonce.k4"), "secret of the wrong type: %s", c.err);
	ok(conf_get_secret(&c, nonce, "nonce", "k5", 1, &secret) == AE_CONFIG &&
	    contains(c.err, "cannot read secret file"), "unreadable secret file: %s", c.err);
	ok(conf_get_secret(&c, nonce, "nonce", "k6", 1, &secret) == AE_CONFIG,
	    "secret object with two members refused");
	ok(conf_get_secret(&c, nonce, "nonce", "absent", 0, &secret) == AE_OK &&
	    secret == NULL, "missing optional secret");
	conf_secret_free(NULL);
	json_object_put(root);
	root = NULL;

	/* Whole-file failures. */
	if (write_file("bad.json", "{ \"log\": { \"level\" \"info\" } }", path,
	    sizeof(path)) == 0)
		ok(conf_load(&c, path, &root) == AE_CONFIG && root == NULL &&
		    contains(c.err, "not valid JSON"), "invalid JSON: %s", c.err);
	json_object_put(root);
	root = NULL;
	if (write_file("trunc.json", "{ \"log\": {", path, sizeof(path)) == 0)
		ok(conf_load(&c, path, &root) == AE_CONFIG && root == NULL &&
		    contains(c.err, "not valid JSON"), "truncated JSON: %s", c.err);
	json_object_put(root);
	root = NULL;
	if (write_file("trail.json", "{ } { }", path, sizeof(path)) == 0)
		ok(conf_load(&c, path, &root) == AE_CONFIG && root == NULL,
		    "two documents in one file refused: %s", c.err);
	if (write_file("array.json", "[1, 2]", path, sizeof(path)) == 0)
		ok(conf_load(&c, path, &root) == AE_CONFIG && root == NULL &&
		    contains(c.err, "must be a JSON object"), "top level not an object: %s", c.err);
	if (write_file("unknown.json", "{ \"databse\": { } }", path, sizeof(path)) == 0) {
		ok(conf_load(&c, path, &root) == AE_OK &&
		    conf_check_keys(&c, root, "", sections) == AE_CONFIG &&
		    contains(c.err, "databse"), "misspelt section named: %s", c.err);
		json_object_put(root);
		root = NULL;
	}
	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	ok(conf_load(&c, path, &root) == AE_CONFIG && contains(c.err, "cannot read"),
	    "missing file: %s", c.err);

	snprintf(big_path, sizeof(big_path), "%s/big.json", tmpdir);
	FILE *f = fopen(big_path, "w");
	if (f != NULL) {
		fputs("{\"log\":\"", f);
		for (int i = 0; i < (1 << 20) / 64 + 1; i++)
			fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", f);
		fputs("\"}", f);
		fclose(f);
	}
	ok(conf_load(&c, big_path, &root) == AE_CONFIG && root == NULL &&
	    contains(c.err, "1 MiB"), "file over 1 MiB refused: %s", c.err);

	/* conf_load_no_pin: an inline signer.pin leaves the tree, the other forms stay. */
	{
		json_object *sig = NULL, *pin = NULL;
		char *sec = NULL;
		if (write_file("pin.json", "{ \"signer\": { \"pin\": \"1234-pin\", \"module\": \"m\" } }",
		    path, sizeof(path)) != 0)
			diag("cannot write pin.json");
		ok(conf_load(&c, path, &root) == AE_OK &&
		    json_object_object_get_ex(root, "signer", &sig) &&
		    conf_get_secret(&c, sig, "signer", "pin", 1, &sec) == AE_OK && sec != NULL &&
		    strcmp(sec, "1234-pin") == 0, "conf_load keeps an inline PIN (the signer)");
		conf_secret_free(sec);
		json_object_put(root);
		root = NULL;
		ok(conf_load_no_pin(&c, path, &root) == AE_OK &&
		    json_object_object_get_ex(root, "signer", &sig) &&
		    !json_object_object_get_ex(sig, "pin", &pin) &&
		    json_object_object_get_ex(sig, "module", NULL),
		    "conf_load_no_pin drops it, and only it");
		json_object_put(root);
		root = NULL;
		if (write_file("pin.json", "{ \"signer\": { \"pin\": { \"env\": \"PIN\" } } }",
		    path, sizeof(path)) != 0)
			diag("cannot write pin.json");
		ok(conf_load_no_pin(&c, path, &root) == AE_OK &&
		    json_object_object_get_ex(root, "signer", &sig) &&
		    json_object_object_get_ex(sig, "pin", &pin) &&
		    json_object_is_type(pin, json_type_object),
		    "conf_load_no_pin keeps {\"env\": ...}, which holds no secret");
		json_object_put(root);
		root = NULL;
		if (write_file("pin.json", "[1, 2]", path, sizeof(path)) != 0)
			diag("cannot write pin.json");
		ok(conf_load_no_pin(&c, path, &root) == AE_CONFIG && root == NULL,
		    "conf_load_no_pin refuses what conf_load refuses");
	}

	ok(conf_fail(&c, "a.b", "c", "bad %d", 5) == AE_CONFIG &&
	    contains(c.err, "a.b.c: bad 5"), "conf_fail formats where.key: %s", c.err);
	ok(conf_fail(&c, "", "top", "x") == AE_CONFIG && contains(c.err, ": top: x"),
	    "conf_fail at the root has no leading dot: %s", c.err);
}

static void
cleanup(void)
{
	static const char *const names[] = { "secret", "anvil.json", "bad.json", "trunc.json",
		"trail.json", "array.json", "unknown.json", "big.json", "pin.json", NULL };
	char path[512];

	for (size_t i = 0; names[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int
main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/anvil-t0002-XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("1..0 # SKIP cannot create a temporary directory\n");
		return 0;
	}
	test_num();
	test_buf();
	test_conf();
	cleanup();
	return done_testing();
}
