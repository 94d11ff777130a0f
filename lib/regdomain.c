#include "config.h"
#include <libpsl.h>
#include <stddef.h>
#include "lib/regdomain.h"

/* Loaded once and kept for the life of the process (a worker asks per newOrder). */
static psl_ctx_t *psl;

anvil_err
regdomain_load(const char **where)
{
	const char *dist = psl_dist_filename();

	if (where != NULL)
		*where = dist != NULL && *dist != '\0' ? dist : "(libpsl has no distribution file)";
	if (psl != NULL)
		return AE_OK;
	/* psl_latest: the newer of the distribution's file and libpsl's built-in list. */
	psl = psl_latest(NULL);
	/* An empty list (no file, a built-in copy left out at build) knows not even "com" (the
	 * count is no test: the DAFSA format Debian ships does not tell it). */
	if (psl != NULL && !psl_is_public_suffix(psl, "com")) {
		psl_free(psl);
		psl = NULL;
	}
	return psl != NULL ? AE_OK : AE_NOTFOUND;
}

const char *
regdomain_of(const char *name)
{
	const char *r;

	if (psl == NULL && regdomain_load(NULL) != AE_OK)
		return name;
	r = psl_registrable_domain(psl, name);
	return r != NULL ? r : name;
}
