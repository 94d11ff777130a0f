/* The listening Unix socket of a preforking server (anvil-fcgi, anvil-ocsp): opened once by the
 * master, inherited by every worker. */
#ifndef ANVIL_USOCK_H
#define ANVIL_USOCK_H
#include <sys/types.h>

/* Binds and listens on path with mode. A stale socket file is replaced; a live one (another
 * server) or anything that is not a socket is refused. key names the configuration key in the
 * logged error. Returns the descriptor or -1. */
int usock_listen(const char *path, mode_t mode, int backlog, const char *key);

#endif
