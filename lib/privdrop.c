#include "config.h"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include "lib/privdrop.h"

anvil_err
privdrop_conf(struct conf_ctx *c, json_object *obj, const char *where, struct privdrop *out)
{
	const char *user = NULL, *group = NULL;
	struct passwd *pw;
	struct group *gr;
	anvil_err e;

	out->set = 0;
	if ((e = conf_get_string(c, obj, where, "user", 0, &user)) != AE_OK ||
	    (e = conf_get_string(c, obj, where, "group", 0, &group)) != AE_OK)
		return e;
	if (user == NULL) {
		if (group != NULL)
			return conf_fail(c, where, "group", "needs \"user\" too");
		return AE_OK;
	}
	if ((pw = getpwnam(user)) == NULL)
		return conf_fail(c, where, "user", "no such user '%s'", user);
	if (pw->pw_uid == 0)
		return conf_fail(c, where, "user", "must not be root");
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL)
			return conf_fail(c, where, "group", "no such group '%s'", group);
		out->gid = gr->gr_gid;
	}
	out->set = 1;
	return AE_OK;
}

anvil_err
privdrop_apply(const struct privdrop *p)
{
	if (!p->set)
		return AE_OK;
	if (setgroups(1, &p->gid) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0)
		return AE_DENIED;
	/* A drop that can be undone is no drop. */
	if (setuid(0) == 0 || getuid() != p->uid || geteuid() != p->uid || getegid() != p->gid)
		return AE_DENIED;
	return AE_OK;
}
