/* The listening Unix socket of a preforking server (anvil-fcgi, anvil-ocsp): opened once by the
 * master, inherited by every worker. */
#ifndef ANVIL_USOCK_H
#define ANVIL_USOCK_H
#include <sys/types.h>

/* Binds and listens on path with mode. A stale socket file is replaced; a live one (another
 * server) or anything that is not a socket is refused. key names the configuration key in the
 * logged error. Returns the descriptor or -1. */
int usock_listen(const char *path, mode_t mode, int backlog, const char *key);

/* Sets a socket file's mode, and its owner unless uid and gid are both -1, without following a
 * symlink: the daemons do this as root right after bind(), and a symlink or another file put
 * at the path meanwhile by whoever can write to its directory must be refused, not followed
 * (the path is opened O_PATH|O_NOFOLLOW, checked to be a socket, and changed through that
 * descriptor). 0, or -1 with errno (ELOOP for a symlink, ENOTSOCK for another file). */
int usock_set_perms(const char *path, mode_t mode, uid_t uid, gid_t gid);

#endif
