/* A memory pool per FastCGI request (STYLE.md habit 6): allocations and cleanup hooks (json-c
 * objects, keys, parsed JWS) are released together by arena_reset when the request is done, so
 * nothing from one request survives into the next by accident. */
#ifndef ANVIL_FCGI_ARENA_H
#define ANVIL_FCGI_ARENA_H
#include <stddef.h>

#define ARENA_MAX (1024 * 1024)  /* per request: a JWS is capped at 64 KiB */

struct arena_block;
struct arena_hook;

struct arena {
	struct arena_block *blocks;
	struct arena_hook *hooks;
	size_t used;               /* bytes handed out, against ARENA_MAX */
};

void arena_init(struct arena *a);
/* Zeroed memory, or NULL when ARENA_MAX would be passed or memory is short. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Runs fn(arg) at reset, last registered first. Returns -1 (after running fn(arg) at once)
 * when the hook cannot be recorded, so the resource never leaks. */
int arena_defer(struct arena *a, void (*fn)(void *), void *arg);
/* Hooks for the request's parsed JWS objects (a struct jws *) and keys (an EVP_PKEY *). */
void arena_free_jws(void *jws);
void arena_free_pkey(void *pkey);
/* Runs the hooks and frees everything. */
void arena_reset(struct arena *a);

#endif
