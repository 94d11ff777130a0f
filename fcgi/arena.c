#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "fcgi/arena.h"
#include "lib/jws.h"

struct arena_block {
	struct arena_block *next;
	size_t size, off;
	max_align_t data[];
};

struct arena_hook {
	struct arena_hook *next;
	void (*fn)(void *);
	void *arg;
};

#define BLOCK_SIZE 16384

void
arena_init(struct arena *a)
{
	memset(a, 0, sizeof(*a));
}

void *
arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct arena_block *b = a->blocks;
	void *p;

	if (n == 0)
		n = 1;
	if (n > ARENA_MAX || a->used > ARENA_MAX - n)
		return NULL;
	n = (n + align - 1) / align * align;
	if (b == NULL || b->size - b->off < n) {
		size_t size = n > BLOCK_SIZE ? n : BLOCK_SIZE;
		if ((b = malloc(sizeof(*b) + size)) == NULL)
			return NULL;
		b->size = size;
		b->off = 0;
		b->next = a->blocks;
		a->blocks = b;
	}
	p = (char *)b->data + b->off;
	b->off += n;
	a->used += n;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || (p = arena_alloc(a, n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
arena_defer(struct arena *a, void (*fn)(void *), void *arg)
{
	struct arena_hook *h = arena_alloc(a, sizeof(*h));

	if (h == NULL) {
		fn(arg);
		return -1;
	}
	h->fn = fn;
	h->arg = arg;
	h->next = a->hooks;
	a->hooks = h;
	return 0;
}

void
arena_reset(struct arena *a)
{
	struct arena_hook *h;
	struct arena_block *b;

	for (h = a->hooks; h != NULL; h = h->next)
		h->fn(h->arg);
	a->hooks = NULL;
	while ((b = a->blocks) != NULL) {
		a->blocks = b->next;
		free(b);
	}
	a->used = 0;
}

void
arena_free_jws(void *jws)
{
	jws_free(jws);
}

void
arena_free_pkey(void *pkey)
{
	EVP_PKEY_free(pkey);
}
