/* A worker: accepts FastCGI requests on the shared socket one at a time until told to stop
 * (SIGTERM: finish the request in hand, then exit). */
#ifndef ANVIL_FCGI_WORKER_H
#define ANVIL_FCGI_WORKER_H
#include "fcgi/conf.h"

/* Returns the process exit status. */
int worker_run(const struct fcgi_conf *conf, int listen_fd);

#endif
