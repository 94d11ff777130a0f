/* Waking anvil-jobs: a worker that queued a job sends one datagram to the runner's Unix datagram
 * socket (jobs.wake_socket) so the job starts now instead of at the next poll. The datagram
 * carries no data that matters: the job itself is in the database, so a lost wake-up costs at
 * most one poll interval, never a job. */
#ifndef ANVIL_WAKE_H
#define ANVIL_WAKE_H
#include <sys/types.h>
#include "lib/err.h"

/* Sends one datagram to path without blocking. A missing or dead listener, or a full socket
 * buffer (the runner is already awake), is AE_OK. AE_IO only for a bad path or socket(). */
anvil_err wake_send(const char *path);

/* Binds a non-blocking datagram socket at path with permissions mode (senders need write
 * permission; a stale socket file is replaced, anything that is not a socket is refused) and
 * returns its fd, or -1. For anvil-jobs. */
int wake_listen(const char *path, mode_t mode);
/* Reads every pending datagram; returns how many. */
int wake_drain(int fd);

#endif
