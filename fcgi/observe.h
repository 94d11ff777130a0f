/* The operator's endpoints of a worker (fcgi/README.md "Observability"): /health (liveness),
 * /health/ready (database, signer, anvil-jobs heartbeat), /metrics (Prometheus text format),
 * /status (the status page) and /status/data (its samples). nginx forwards /health and
 * /health/ready from anywhere, the rest only from its monitor allow-list. */
#ifndef ANVIL_FCGI_OBSERVE_H
#define ANVIL_FCGI_OBSERVE_H
#include <json-c/json.h>
#include "fcgi/request.h"

/* 1 when r's path is one of the endpoints above (the response is set), 0 otherwise. */
int observe_route(struct req *r);

/* The signer's health and stats (fcgi/health.c), through the worker's own connection, within
 * timeout_ms. AE_OK: *stats is the stats object (a reference to drop), or NULL when this uid
 * may not read them (signer.permissions). Otherwise the health call's error, with detail. */
anvil_err observe_signer(const struct fcgi_conf *conf, int timeout_ms, json_object **stats,
    char *detail, size_t detail_len);

void observe_metrics(struct req *r);      /* fcgi/metrics_page.c */
void observe_status_page(struct req *r);  /* fcgi/status.c */
void observe_status_data(struct req *r);  /* fcgi/status.c */

/* Sets a non-JSON body (copied into the arena). */
void observe_text(struct req *r, int status, const char *type, const char *body, size_t len);

#endif
