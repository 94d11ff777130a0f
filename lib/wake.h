/* Waking anvil-jobs: a worker that queued a job sends one datagram to the runner's Unix datagram
 * socket (jobs.wake_socket) so the job starts now instead of at the next poll. The datagram
 * carries no data that matters: the job itself is in the database, so a lost wake-up costs at
 * most one poll interval, never a job. */
#ifndef ANVIL_WAKE_H
#define ANVIL_WAKE_H
#include <sys/types.h>
#include "lib/err.h"

/* Sends one datagram to path without blocking. A missing or dead listener, or a full socket
 * buffer (the runner is already awake), is AE_OK. AE_IO only for a bad path or socket().
 * wake_send asks for everything: claim jobs, and have the OCSP and CRL publishers look for
 * due work (a revocation). wake_send_job only says a job row was queued (a challenge, a
 * finalize handed over): most wake-ups are these, and the publishers' due checks are time
 * driven, so they need not run a statement for each one. */
anvil_err wake_send(const char *path);
anvil_err wake_send_job(const char *path);

/* Binds a non-blocking datagram socket at path with permissions mode (senders need write
 * permission; a stale socket file is replaced, anything that is not a socket is refused) and
 * returns its fd, or -1. For anvil-jobs. */
int wake_listen(const char *path, mode_t mode);
/* Reads every pending datagram; returns how many. *publish (may be NULL) is set to 1 when one
 * of them was not wake_send_job's (anything else, empty or unknown, counts as wake_send's:
 * older senders stay understood), else 0. */
int wake_drain(int fd, int *publish);

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
