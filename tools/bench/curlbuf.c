#include "config.h"
#include <string.h>
#include <strings.h>
#include "lib/buf.h"
#include "tools/bench/curlbuf.h"

size_t
curlbuf_write(char *p, size_t size, size_t n, void *buf)
{
	return buf_append(buf, p, size * n) == AE_OK ? size * n : 0;
}

int
curlbuf_header(const char *p, size_t len, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(p, name, nl) != 0)
		return 0;
	p += nl;
	len -= nl;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
		len--;
	if (len >= outsz)
		return 0;
	memcpy(out, p, len);
	out[len] = '\0';
	return 1;
}
