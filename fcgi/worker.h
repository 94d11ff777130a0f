/* A worker: accepts FastCGI requests on the shared socket one at a time until told to stop
 * (SIGTERM: finish the request in hand, then exit). */
#ifndef ANVIL_FCGI_WORKER_H
#define ANVIL_FCGI_WORKER_H
#include <sys/types.h>
#include "fcgi/conf.h"

/* Returns the process exit status. */
int worker_run(const struct fcgi_conf *conf, int listen_fd);

/* The worker's own wake socket (lib/wake.h): anvil-jobs sends it a datagram when the validation
 * a challenge response waits for is decided. Bound by the new worker before it drops to
 * fcgi.user (the runtime directory need not be writable by that user), owned by fcgi.user and
 * fcgi.group, mode 0660: only the workers' user or group (anvil-jobs with jobs.user = fcgi.user,
 * or jobs.group = fcgi.group) can send. Only when jobs.wake_socket is set (the socket goes next
 * to it, where anvil-jobs accepts worker sockets) and acme.validation_wait_ms > 0. Without it
 * the worker still answers, re-reading at acme.validation_recheck_ms. */
void worker_wake_open(const struct fcgi_conf *conf);
/* Its descriptor, or -1. */
int worker_wake_fd(void);
/* Its path, or NULL: the waiter a challenge response records with its job (jobs.waiter). */
const char *worker_wake_path(void);
/* For the master, after reaping worker pid: removes its socket (a worker that died, or dropped
 * to a user that cannot unlink in the runtime directory, leaves it behind). */
void worker_wake_remove(const struct fcgi_conf *conf, pid_t pid);

#endif
