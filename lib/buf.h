/* A growable byte buffer with a hard maximum: every buffer fed by a peer names its cap. */
#ifndef ANVIL_BUF_H
#define ANVIL_BUF_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;  /* allocated */
	size_t max;  /* never grows past this */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
anvil_err buf_reserve(struct buf *b, size_t extra);
anvil_err buf_append(struct buf *b, const void *p, size_t n);
anvil_err buf_append_str(struct buf *b, const char *s);
anvil_err buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ensures data[len] == '\0' (not counted in len) so the content can be used as a C string. */
anvil_err buf_nul(struct buf *b);

#endif
