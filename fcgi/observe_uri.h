/* Reading a request's URI for the operator's endpoints (fcgi/observe_uri.c; the route's name
 * for the metrics is metrics_route_of in fcgi/metrics.h). */
#ifndef ANVIL_FCGI_OBSERVE_URI_H
#define ANVIL_FCGI_OBSERVE_URI_H
#include <stdint.h>

/* The integer query parameter name of uri, within [min, max]; dflt when it is absent or
 * anything else. */
int64_t observe_query_int(const char *uri, const char *name, int64_t min, int64_t max,
    int64_t dflt);

#endif
