#include "config.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "lib/netaddr.h"

int
netaddr_prefix(const char *addr, int v6_prefix, char *out, size_t outsz)
{
	struct in6_addr a6;
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	int n;

	if (addr == NULL || v6_prefix < 1 || v6_prefix > 128)
		return -1;
	if (inet_pton(AF_INET, addr, a) == 1) {
		if (inet_ntop(AF_INET, a, text, sizeof(text)) == NULL)
			return -1;
		n = snprintf(out, outsz, "%s/32", text);
		return n < 0 || (size_t)n >= outsz ? -1 : 0;
	}
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		return -1;
	memcpy(a, &a6, sizeof(a));
	/* ::ffff:192.0.2.7 (a dual-stack socket's IPv4 peer) is that IPv4 address. */
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (inet_ntop(AF_INET, a + 12, text, sizeof(text)) == NULL)
			return -1;
		n = snprintf(out, outsz, "%s/32", text);
		return n < 0 || (size_t)n >= outsz ? -1 : 0;
	}
	for (int i = 0; i < 16; i++) {
		int keep = v6_prefix - 8 * i;
		if (keep <= 0)
			a[i] = 0;
		else if (keep < 8)
			a[i] &= (unsigned char)(0xff << (8 - keep));
	}
	if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
		return -1;
	n = snprintf(out, outsz, "%s/%d", text, v6_prefix);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}
