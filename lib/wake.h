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

/* The other direction: each anvil-fcgi worker binds its own socket next to jobs.wake_socket,
 * named after its pid, and anvil-jobs wakes the worker waiting for a validation result there
 * (the path travels in jobs.waiter, migrations/0003). Both sides derive the directory from
 * jobs.wake_socket, so anvil-jobs only ever sends to a worker-named socket in its own runtime
 * directory, whatever the database says. */
#define WAKE_PATH_MAX 107   /* sockaddr_un.sun_path without its NUL */

/* Writes "<directory of jobs_sock>/anvil-fcgi.<pid>.wake" to out; AE_TOOBIG if it does not fit
 * in cap or in WAKE_PATH_MAX, AE_PARSE if jobs_sock has no directory. */
anvil_err wake_worker_path(char *out, size_t cap, const char *jobs_sock, long pid);
/* 1 when path is a worker socket name (as above) in the directory of jobs_sock. */
int wake_worker_path_ok(const char *jobs_sock, const char *path);

#endif
