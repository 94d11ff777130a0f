#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <json-c/printbuf.h>
#include "lib/buf.h"
#include "lib/conf.h"

#define CONF_MAX (1024 * 1024)
#define SECRET_MAX 4096

anvil_err
conf_fail(struct conf_ctx *c, const char *where, const char *key, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, sizeof(c->err), "%s: %s%s%s: %s", c->file ? c->file : "config",
	    where ? where : "", where && *where && key ? "." : "", key ? key : "", msg);
	return AE_CONFIG;
}

/* Frees a buffer that may hold a secret (the PIN inline in the file, a secret file's content):
 * nothing of it may stay behind in freed heap. */
static void
buf_free_wiped(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

/* Grows without realloc, which would leave a copy of the bytes read so far in freed heap. */
static anvil_err
grow_wiped(struct buf *b, size_t ncap)
{
	uint8_t *n = malloc(ncap);

	if (n == NULL)
		return AE_NOMEM;
	if (b->len > 0)
		memcpy(n, b->data, b->len);
	if (b->data != NULL) {
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	b->data = n;
	b->cap = ncap;
	return AE_OK;
}

/* read(2) straight into one allocation sized from fstat: stdio would keep the bytes in its own
 * buffer, and a growing buffer in the blocks it gave back. The result is NUL-terminated. */
static anvil_err
read_capped(const char *path, size_t max, struct buf *b)
{
	struct stat st;
	anvil_err e = AE_OK;
	int fd, saved;
	ssize_t n;

	buf_init(b, max);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return AE_IO;
	/* max + 2: room for one byte past the cap (to tell "too big") and the NUL. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size <= max)
		e = grow_wiped(b, (size_t)st.st_size + 2);
	while (e == AE_OK) {
		if (b->cap - b->len < 2) {
			size_t ncap = b->cap < 4096 ? 4096 : b->cap * 2;
			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= b->cap) {
				e = AE_TOOBIG;
				break;
			}
			if ((e = grow_wiped(b, ncap)) != AE_OK)
				break;
		}
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = AE_IO;
		else if (n == 0)
			break;
		else if ((b->len += (size_t)n) > max)
			e = AE_TOOBIG;
	}
	saved = errno;
	close(fd);
	if (e == AE_OK)
		b->data[b->len] = '\0';
	else
		buf_free_wiped(b);
	errno = saved;
	return e;
}

static void
blank_comment_lines(uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i;

		while (j < len && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j + 1 < len && p[j] == '/' && p[j + 1] == '/')
			for (; j < len && p[j] != '\n'; j++)
				p[j] = ' ';
		while (j < len && p[j] != '\n')
			j++;
		i = j + 1;
	}
}

/* The tokener gathers every string in its printbuf before copying it into the tree, and grows
 * that buffer with realloc. Sized past any secret up front, the PIN cannot be left in a block
 * realloc gave back; wiped before the tokener is freed, it cannot stay in the buffer itself.
 * json-c 0.16 (Debian 12) declares struct json_tokener and struct printbuf in its headers. */
static int
tokener_presize(json_tokener *tok)
{
	if (printbuf_memset(tok->pb, 0, 0, SECRET_MAX + 1) < 0)
		return -1;
	printbuf_reset(tok->pb);
	return 0;
}

static void
tokener_free_wiped(json_tokener *tok)
{
	if (tok->pb != NULL && tok->pb->buf != NULL)
		OPENSSL_cleanse(tok->pb->buf, (size_t)tok->pb->size);
	json_tokener_free(tok);
}

/* An inline signer.pin is wiped in place (json-c keeps a string's bytes in memory it owns; the
 * pointer it returns is const only by contract) and the key removed: a process that does not
 * sign never keeps it. {"file": ...} and {"env": ...} hold no secret and stay. */
static void
drop_pin(json_object *root)
{
	json_object *signer = NULL, *pin = NULL;

	if (!json_object_object_get_ex(root, "signer", &signer) ||
	    !json_object_is_type(signer, json_type_object) ||
	    !json_object_object_get_ex(signer, "pin", &pin) ||
	    !json_object_is_type(pin, json_type_string))
		return;
	OPENSSL_cleanse((char *)json_object_get_string(pin), (size_t)json_object_get_string_len(pin));
	json_object_object_del(signer, "pin");
}

static anvil_err
load(struct conf_ctx *c, const char *path, json_object **root, int keep_pin)
{
	struct buf b;
	anvil_err e;
	json_tokener *tok = NULL;
	json_object *obj = NULL;

	c->file = path;
	c->err[0] = '\0';
	*root = NULL;
	if ((e = read_capped(path, CONF_MAX, &b)) != AE_OK) {
		snprintf(c->err, sizeof(c->err), "%s: cannot read: %s", path,
		    e == AE_TOOBIG ? "larger than 1 MiB" : strerror(errno));
		return AE_CONFIG;
	}
	tok = json_tokener_new();
	if (tok == NULL || tokener_presize(tok) != 0) {
		if (tok != NULL)
			json_tokener_free(tok);
		buf_free_wiped(&b);
		return AE_NOMEM;
	}
	/* Strict: a trailing comma or a comment inside a line is an error, not a guess. Whole
	 * lines whose first non-blank characters are "//" are comments (the installed sample
	 * explains itself): a JSON string never spans lines, so this cannot cut one. They become
	 * blanks, and error offsets stay the file's. */
	blank_comment_lines(b.data, b.len);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, (const char *)b.data, (int)b.len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != b.len) {
		snprintf(c->err, sizeof(c->err), "%s: not valid JSON near byte %zu: %s", path,
		    json_tokener_get_parse_end(tok),
		    json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(obj);
		obj = NULL;
		e = AE_CONFIG;
	} else if (!json_object_is_type(obj, json_type_object)) {
		snprintf(c->err, sizeof(c->err), "%s: the top level must be a JSON object", path);
		json_object_put(obj);
		obj = NULL;
		e = AE_CONFIG;
	}
	if (obj != NULL && !keep_pin)
		drop_pin(obj);
	tokener_free_wiped(tok);
	buf_free_wiped(&b);
	*root = obj;
	return e;
}

anvil_err
conf_load(struct conf_ctx *c, const char *path, json_object **root)
{
	return load(c, path, root, 1);
}

anvil_err
conf_load_no_pin(struct conf_ctx *c, const char *path, json_object **root)
{
	return load(c, path, root, 0);
}

anvil_err
conf_check_keys(struct conf_ctx *c, json_object *obj, const char *where,
    const char *const allowed[])
{
	if (!json_object_is_type(obj, json_type_object))
		return conf_fail(c, where, NULL, "must be an object");
	json_object_object_foreach(obj, key, val) {
		(void)val;
		int ok = 0;
		for (size_t i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				ok = 1;
		if (!ok)
			return conf_fail(c, where, key, "unknown key");
	}
	return AE_OK;
}

static anvil_err
get_typed(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    int required, json_type type, const char *tname, json_object **out)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v)) {
		if (required)
			return conf_fail(c, where, key, "required key is missing");
		*out = NULL;
		return AE_OK;
	}
	if (!json_object_is_type(v, type))
		return conf_fail(c, where, key, "must be %s", tname);
	*out = v;
	return AE_OK;
}

anvil_err
conf_get_string(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    int required, const char **out)
{
	json_object *v = NULL;
	anvil_err e = get_typed(c, obj, where, key, required, json_type_string, "a string", &v);
	if (e == AE_OK && v != NULL)
		*out = json_object_get_string(v);
	return e;
}

anvil_err
conf_get_int(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    int required, int64_t min, int64_t max, int64_t *out)
{
	json_object *v = NULL;
	anvil_err e = get_typed(c, obj, where, key, required, json_type_int,
	    "an integer", &v);
	if (e != AE_OK || v == NULL)
		return e;
	errno = 0;
	int64_t n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max)
		return conf_fail(c, where, key, "must be an integer in %lld..%lld",
		    (long long)min, (long long)max);
	*out = n;
	return AE_OK;
}

anvil_err
conf_get_mode(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    mode_t *out)
{
	const char *s = NULL;
	mode_t m = 0;
	anvil_err e = conf_get_string(c, obj, where, key, 0, &s);

	if (e != AE_OK || s == NULL)
		return e;
	if (strlen(s) < 3 || strlen(s) > 4 || strspn(s, "01234567") != strlen(s))
		return conf_fail(c, where, key, "must be an octal mode such as \"0660\"");
	for (const char *p = s; *p; p++)
		m = m * 8 + (mode_t)(*p - '0');
	*out = m;
	return AE_OK;
}

anvil_err
conf_get_bool(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    int required, int *out)
{
	json_object *v = NULL;
	anvil_err e = get_typed(c, obj, where, key, required, json_type_boolean,
	    "true or false", &v);
	if (e == AE_OK && v != NULL)
		*out = json_object_get_boolean(v) ? 1 : 0;
	return e;
}

anvil_err
conf_get_object(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    int required, json_object **out)
{
	json_object *v = NULL;
	anvil_err e = get_typed(c, obj, where, key, required, json_type_object, "an object", &v);
	if (e == AE_OK && v != NULL)
		*out = v;
	return e;
}

anvil_err
conf_get_array(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    int required, json_object **out)
{
	json_object *v = NULL;
	anvil_err e = get_typed(c, obj, where, key, required, json_type_array, "an array", &v);
	if (e == AE_OK && v != NULL)
		*out = v;
	return e;
}

anvil_err
conf_get_secret(struct conf_ctx *c, json_object *obj, const char *where, const char *key,
    int required, char **out)
{
	json_object *v = NULL, *src = NULL;
	char *s = NULL;

	if (!json_object_object_get_ex(obj, key, &v)) {
		if (required)
			return conf_fail(c, where, key, "required key is missing");
		return AE_OK;
	}
	if (json_object_is_type(v, json_type_string)) {
		s = strdup(json_object_get_string(v));
	} else if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 1 &&
	    json_object_object_get_ex(v, "file", &src) && json_object_is_type(src, json_type_string)) {
		struct buf b;
		const char *p = json_object_get_string(src);
		if (read_capped(p, SECRET_MAX, &b) != AE_OK)
			return conf_fail(c, where, key, "cannot read secret file %s", p);
		while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.data[--b.len] = '\0';
		s = (char *)b.data;  /* read_capped's one allocation: conf_secret_free wipes it */
	} else if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 1 &&
	    json_object_object_get_ex(v, "env", &src) && json_object_is_type(src, json_type_string)) {
		const char *name = json_object_get_string(src);
		const char *val = getenv(name);
		if (val == NULL)
			return conf_fail(c, where, key, "environment variable %s is not set", name);
		s = strdup(val);
	} else {
		return conf_fail(c, where, key,
		    "must be a string, {\"file\": PATH} or {\"env\": NAME}");
	}
	if (s == NULL)
		return AE_NOMEM;
	conf_secret_free(*out);
	*out = s;
	return AE_OK;
}

void
conf_secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

anvil_err
conf_parse_log(struct conf_ctx *c, json_object *root, enum log_level *level, int *use_syslog)
{
	static const char *const keys[] = { "level", "syslog", "audit_file", NULL };
	json_object *sec = NULL;
	const char *name = "info";
	anvil_err e;

	*level = LOG_LVL_INFO;
	if ((e = conf_get_object(c, root, "", "log", 0, &sec)) != AE_OK || sec == NULL)
		return e;
	if ((e = conf_check_keys(c, sec, "log", keys)) != AE_OK ||
	    (e = conf_get_string(c, sec, "log", "level", 0, &name)) != AE_OK ||
	    (e = conf_get_bool(c, sec, "log", "syslog", 0, use_syslog)) != AE_OK)
		return e;
	if (log_level_parse(name, level) != 0)
		return conf_fail(c, "log", "level", "must be one of error, warn, info, debug");
	return AE_OK;
}
