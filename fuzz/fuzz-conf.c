/* Config: conf_load on arbitrary bytes, then the validation a program runs over its sections.
 * The input goes through a memfd so conf_load reads it by path, as in production. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lib/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

static void
walk_section(struct conf_ctx *c, json_object *sec, const char *name)
{
	static const char *const keys[] = { "host", "port", "user", "password", "level",
		"enabled", "names", "key", "lifetime", "socket", NULL };
	const char *s = NULL;
	int64_t n = 0;
	int bval = 0;
	json_object *o = NULL, *v = NULL;
	char *secret = NULL;

	(void)conf_check_keys(c, sec, name, keys);
	for (size_t i = 0; keys[i] != NULL; i++) {
		(void)conf_get_string(c, sec, name, keys[i], i % 2, &s);
		(void)conf_get_int(c, sec, name, keys[i], 0, -5, 65535, &n);
		(void)conf_get_bool(c, sec, name, keys[i], 0, &bval);
		(void)conf_get_object(c, sec, name, keys[i], 0, &o);
		(void)conf_get_array(c, sec, name, keys[i], 0, &o);
		/* {"file": ...} would let the input read (or block on) any path; the env and
		 * literal forms are safe to exercise. */
		if (json_object_object_get_ex(sec, keys[i], &v) &&
		    json_object_is_type(v, json_type_object) &&
		    json_object_object_get_ex(v, "file", NULL))
			continue;
		if (conf_get_secret(c, sec, name, keys[i], 0, &secret) == AE_OK) {
			conf_secret_free(secret);
			secret = NULL;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = CONF_SECTIONS;
	struct conf_ctx c;
	json_object *root = NULL, *sec = NULL;

	if (memfd < 0) {
		if ((memfd = memfd_create("anvil-fuzz-conf", 0)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (size > 2 * 1024 * 1024)
		return 0;
	if (ftruncate(memfd, 0) != 0 || (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	memset(&c, 0, sizeof(c));
	if (conf_load(&c, path, &root) != AE_OK) {
		if (root != NULL || c.err[0] == '\0')
			abort();
		return 0;
	}
	(void)conf_check_keys(&c, root, "", sections);
	for (size_t i = 0; sections[i] != NULL; i++)
		if (conf_get_object(&c, root, "", sections[i], 0, &sec) == AE_OK && sec != NULL) {
			walk_section(&c, sec, sections[i]);
			sec = NULL;
		}
	json_object_put(root);
	/* The loader of the processes that do not sign: the same verdict, and no string PIN left
	 * (an object form {"file"}/{"env"} holds no secret and stays). */
	root = NULL;
	if (conf_load_no_pin(&c, path, &root) != AE_OK || root == NULL)
		abort();
	if (json_object_object_get_ex(root, "signer", &sec) && sec != NULL &&
	    json_object_is_type(sec, json_type_object) &&
	    json_object_object_get_ex(sec, "pin", &sec) && sec != NULL &&
	    json_object_is_type(sec, json_type_string))
		abort();
	json_object_put(root);
	return 0;
}
