/* The URI readers of the operator's endpoints (fcgi/observe_uri.c): any bytes a client puts in
 * REQUEST_URI give a route within the table and a query value within the bounds asked for. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fcgi/metrics.h"
#include "fcgi/observe_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *uri;
	int64_t v;

	if (size > 4096)   /* the worker refuses URIs over URI_MAX (2048) before this */
		return 0;
	if ((uri = malloc(size + 1)) == NULL)
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0';
	if ((unsigned)metrics_route_of(uri) >= MR__COUNT)
		abort();
	v = observe_query_int(uri, "minutes", 1, 2880, 360);
	if (v < 1 || v > 2880)
		abort();
	v = observe_query_int(uri, "m", -5, 5, 0);
	if (v < -5 || v > 5)
		abort();
	free(uri);
	return 0;
}
