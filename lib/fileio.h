/* Durable writes: temp file in the same directory, write, fsync, rename, fsync the directory. */
#ifndef ANVIL_FILEIO_H
#define ANVIL_FILEIO_H
#include <stddef.h>
#include <sys/types.h>
#include "lib/err.h"

/* With no_replace set, an existing path is left alone and AE_EXISTS is returned. */
anvil_err file_write_durable(const char *path, const void *data, size_t len, mode_t mode,
    int no_replace);

#endif
