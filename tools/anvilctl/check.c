#include "config.h"
#include <stdio.h>
#include "ca/profile.h"
#include "fcgi/conf.h"
#include "jobs/conf.h"
#include "ocsp/conf.h"
#include "tools/anvilctl/ctl.h"

/* anvilctl check: validates the whole deployment file with the code each daemon runs at start:
 * anvil-fcgi's sections always, anvil-jobs' and anvil-signer's when the file has them (a host
 * may run only some of the daemons). Exit 0 valid, 1 not. The PIN is read (so a missing secret
 * file is caught here) but never printed. */
int
ctl_check(struct ctl *ctl, int argc, char **argv)
{
	struct fcgi_conf fc;
	struct jobs_conf jc;
	struct signer_conf sc;
	struct ocsp_conf oc;
	struct crl_conf cr;
	json_object *unused;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: anvilctl check\n");
		return 2;
	}
	if (fcgi_conf_parse(&ctl->conf, ctl->config, &fc) != AE_OK)
		goto fail;
	/* Read by anvil-jobs, anvil-signer and the OCSP responder alike. */
	if (ocsp_conf_parse(&ctl->conf, ctl->config, &oc, &cr) != AE_OK)
		goto fail;
	fcgi_conf_free(&fc);
	if (json_object_object_get_ex(ctl->config, "jobs", &unused)) {
		if (jobs_conf_load(&ctl->conf, ctl->config_path, &jc) != AE_OK)
			goto fail;
		jobs_conf_free(&jc);
	}
	if (json_object_object_get_ex(ctl->config, "signer", &unused)) {
		anvil_err e = signer_conf_parse(&ctl->conf, ctl->config, SIGNER_CONF_DAEMON, &sc);
		signer_conf_free(&sc);
		if (e != AE_OK)
			goto fail;
	}
	printf("%s: configuration OK\n", ctl->config_path);
	return 0;
fail:
	fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
	return 1;
}
