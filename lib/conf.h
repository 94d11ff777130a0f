/* Configuration helpers over json-c. Every getter names the dotted key in its error, e.g.
 * "anvil.json: database.port: must be an integer in 1..65535". Unknown keys are errors.
 * Each program validates the sections it uses with these helpers at start (and in --check). */
#ifndef ANVIL_CONF_H
#define ANVIL_CONF_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "lib/err.h"
#include "lib/log.h"

/* Every top-level section of the deployment file; each program validates the sections it uses
 * and rejects any top-level key not in this list. */
#define CONF_SECTIONS \
	{ "log", "database", "fcgi", "acme", "nonce", "signer", "issuers", "profiles", \
	  "jobs", "ct", "ocsp", "crl", NULL }

struct conf_ctx {
	const char *file;  /* for messages */
	char err[512];     /* set when a function returns != AE_OK */
};

/* Loads and parses the whole file (capped at 1 MiB); *root must be json_object_put by caller. */
anvil_err conf_load(struct conf_ctx *c, const char *path, json_object **root);
/* The same for every process that does not sign (anvil-fcgi, anvil-jobs, anvil-ocsp): an inline
 * signer.pin is wiped and removed from the tree before it is returned, and neither the file's
 * bytes nor json-c's parse buffer keep it (both are wiped in both functions). */
anvil_err conf_load_no_pin(struct conf_ctx *c, const char *path, json_object **root);

/* Fails if obj is not an object or has a key outside allowed (NULL-terminated). */
anvil_err conf_check_keys(struct conf_ctx *c, json_object *obj, const char *where,
    const char *const allowed[]);

/* Getters: `where` is the dotted path of obj ("" for the root). A missing optional key leaves
 * *out untouched (so callers preset defaults) and returns AE_OK; a missing required key or a
 * wrong type returns AE_CONFIG with the message set. Returned strings point into obj. */
anvil_err conf_get_string(struct conf_ctx *c, json_object *obj, const char *where,
    const char *key, int required, const char **out);
anvil_err conf_get_int(struct conf_ctx *c, json_object *obj, const char *where,
    const char *key, int required, int64_t min, int64_t max, int64_t *out);
anvil_err conf_get_bool(struct conf_ctx *c, json_object *obj, const char *where,
    const char *key, int required, int *out);
anvil_err conf_get_object(struct conf_ctx *c, json_object *obj, const char *where,
    const char *key, int required, json_object **out);
anvil_err conf_get_array(struct conf_ctx *c, json_object *obj, const char *where,
    const char *key, int required, json_object **out);
/* A file mode as an octal string of 3 or 4 digits ("0660"). A missing key leaves *out as the
 * caller preset it. */
anvil_err conf_get_mode(struct conf_ctx *c, json_object *obj, const char *where,
    const char *key, mode_t *out);
/* A secret is a string literal, {"file": "/path"} (trailing newline stripped) or
 * {"env": "NAME"}. *out is malloc'd (caller frees with conf_secret_free, which wipes it). */
anvil_err conf_get_secret(struct conf_ctx *c, json_object *obj, const char *where,
    const char *key, int required, char **out);
void conf_secret_free(char *s);

/* The `log` section every daemon shares: {"level": "error|warn|info|debug", "syslog": bool}.
 * Defaults: info, stderr. */
anvil_err conf_parse_log(struct conf_ctx *c, json_object *root, enum log_level *level,
    int *use_syslog);

/* Sets c->err; returns AE_CONFIG. For checks the getters cannot express. */
anvil_err conf_fail(struct conf_ctx *c, const char *where, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
