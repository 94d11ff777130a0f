/* libcurl callbacks shared by the benchmark clients: a body kept in a capped buffer, and one
 * header's value picked out of a header line. */
#ifndef ANVIL_TOOLS_BENCH_CURLBUF_H
#define ANVIL_TOOLS_BENCH_CURLBUF_H
#include <stddef.h>

/* CURLOPT_WRITEFUNCTION with a struct buf * as CURLOPT_WRITEDATA. Past the buffer's cap the
 * transfer fails (CURLE_WRITE_ERROR) instead of growing. */
size_t curlbuf_write(char *p, size_t size, size_t n, void *buf);

/* Copies the value of header `name` (with its colon) from one header line, if it is that one
 * and fits; a value too long for out is ignored (left as it was), never truncated. Returns 1
 * when copied. */
int curlbuf_header(const char *p, size_t len, const char *name, char *out, size_t outsz);

#endif
