/* A client address as the network a rate limit counts it by. */
#ifndef ANVIL_NETADDR_H
#define ANVIL_NETADDR_H
#include <stddef.h>

/* "192.0.2.7" -> "192.0.2.7/32"; an IPv6 address cut to v6_prefix bits (1..128) ->
 * "2001:db8:1:2::/64", in inet_ntop's canonical text. -1 when addr is NULL or not an address
 * (nginx passes "unix:" for a Unix-socket listener) or out is too small. */
int netaddr_prefix(const char *addr, int v6_prefix, char *out, size_t outsz);
#define NETADDR_PREFIX_MAX 64   /* "ffff:...:ffff/128" and its NUL fit */

#endif
