#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
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

static anvil_err
read_capped(const char *path, size_t max, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	anvil_err e = AE_OK;
	char chunk[4096];
	size_t n;

	buf_init(b, max);
	if (f == NULL)
		return AE_IO;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if ((e = buf_append(b, chunk, n)) != AE_OK)
			break;
	if (e == AE_OK && ferror(f))
		e = AE_IO;
	fclose(f);
	if (e == AE_OK)
		e = buf_nul(b);
	if (e != AE_OK)
		buf_free(b);
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

anvil_err
conf_load(struct conf_ctx *c, const char *path, json_object **root)
{
	struct buf b;
	anvil_err e;
	json_tokener *tok = NULL;
	json_object *obj = NULL;

	c->file = path;
	c->err[0] = '\0';
	if ((e = read_capped(path, CONF_MAX, &b)) != AE_OK) {
		snprintf(c->err, sizeof(c->err), "%s: cannot read: %s", path,
		    e == AE_TOOBIG ? "larger than 1 MiB" : strerror(errno));
		return AE_CONFIG;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		buf_free(&b);
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
	json_tokener_free(tok);
	buf_free(&b);
	*root = obj;
	return e;
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
		s = (char *)b.data;
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
