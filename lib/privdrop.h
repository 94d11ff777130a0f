/* Dropping root for good (STYLE.md pitfall: setgroups before setgid/setuid). The user and group
 * are resolved when the configuration is read, so a typo stops the program at start, naming the
 * key, rather than in a worker later. */
#ifndef ANVIL_PRIVDROP_H
#define ANVIL_PRIVDROP_H
#include <sys/types.h>
#include "lib/conf.h"

struct privdrop {
	int set;        /* 0: stay as started */
	uid_t uid;
	gid_t gid;
};

/* Reads the optional string keys "user" and "group" of obj (the section named where). A user
 * without a group takes the user's primary group; a group without a user is an error. */
anvil_err privdrop_conf(struct conf_ctx *c, json_object *obj, const char *where,
    struct privdrop *out);
/* Becomes uid/gid with no supplementary groups, then checks root cannot be regained. */
anvil_err privdrop_apply(const struct privdrop *p);

#endif
