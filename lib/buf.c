#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

anvil_err
buf_reserve(struct buf *b, size_t extra)
{
	/* +1 keeps room for buf_nul(). */
	if (extra > b->max || b->len > b->max - extra)
		return AE_TOOBIG;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return AE_OK;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	uint8_t *p = realloc(b->data, ncap);
	if (p == NULL)
		return AE_NOMEM;
	b->data = p;
	b->cap = ncap;
	return AE_OK;
}

anvil_err
buf_append(struct buf *b, const void *p, size_t n)
{
	anvil_err e = buf_reserve(b, n);
	if (e != AE_OK)
		return e;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return AE_OK;
}

anvil_err
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

anvil_err
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return AE_INTERNAL;
	anvil_err e = buf_reserve(b, (size_t)n);
	if (e != AE_OK)
		return e;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return AE_OK;
}

anvil_err
buf_nul(struct buf *b)
{
	anvil_err e = buf_reserve(b, 0);
	if (e != AE_OK)
		return e;
	b->data[b->len] = '\0';
	return AE_OK;
}
