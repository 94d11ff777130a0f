/* libFuzzer target for finalize's CSR checks (issue/csr.c): any bytes must be accepted or
 * refused with a verdict and a detail, without a crash, a leak or a read past the input. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "issue/csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_object *ids;
	struct csr_info ci;
	char detail[CSR_DETAIL_MAX];
	enum csr_verdict v;

	if (ids == NULL)
		ids = json_tokener_parse("[{\"type\":\"dns\",\"value\":\"example.com\"},"
		    "{\"type\":\"dns\",\"value\":\"*.example.com\"},"
		    "{\"type\":\"ip\",\"value\":\"10.0.0.1\"}]");
	v = csr_check(data, size, ids, ~0u, &ci, detail);
	if (v == CSR_OK && ci.key == NULL)
		abort();
	if (v != CSR_OK && (ci.key != NULL || detail[0] == '\0'))
		abort();
	csr_info_free(&ci);
	return 0;
}
